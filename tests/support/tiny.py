"""Tiny stand-ins in hub format, for running the paper profile's code paths without a download.

`save_tiny_decoder` writes a randomly initialised Qwen2 (or Llama) causal LM of a few hundred
thousand parameters with a tokenizer, through `save_pretrained`, exactly as a hub checkpoint is
laid out; `save_tiny_bert` does the same for a BERT encoder (the students); `write_trec` writes a
collection as TREC-style files (`data.source: trec`). The test of the paper-shaped profile builds
all three in a temporary folder and runs the notebooks on them; a user can do the same to check a
GPU machine's set-up before a long run. Their rankings are near chance: they test plumbing, not
quality.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, BertConfig, BertModel, LlamaConfig, Qwen2Config

from distilrank.backbones import train_tokenizer
from distilrank.data import Collection
from distilrank.paths import atomic_dir


def save_tiny_decoder(path: str | Path, texts: Iterable[str], arch: str = "qwen2", vocab_size: int = 2000,
                      hidden: int = 32, layers: int = 2, heads: int = 2, seed: int = 0) -> Path:
    """A random `arch` (qwen2 or llama) causal LM with a word-level tokenizer learned from
    `texts`, saved in hub format (config.json, model.safetensors, tokenizer files). bf16 weights,
    as hub LLM checkpoints are usually stored."""
    tokenizer = train_tokenizer(texts, vocab_size)
    kind = {"qwen2": Qwen2Config, "llama": LlamaConfig}[arch]
    config = kind(vocab_size=len(tokenizer), hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads,
                  num_key_value_heads=heads, intermediate_size=2 * hidden, max_position_embeddings=512,
                  tie_word_embeddings=True, pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.cls_token_id,
                  eos_token_id=tokenizer.sep_token_id)
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config).to(torch.bfloat16)
    with atomic_dir(path) as tmp:
        model.save_pretrained(str(tmp))
        tokenizer.save_pretrained(str(tmp))
    return Path(path)


def save_tiny_bert(path: str | Path, texts: Iterable[str], vocab_size: int = 2000, hidden: int = 32, layers: int = 2,
                   heads: int = 2, seed: int = 0) -> Path:
    """A random BERT encoder with a word-level tokenizer learned from `texts` (`[CLS] q [SEP] d
    [SEP]` pairs), saved in hub format: what `models.students` names."""
    tokenizer = train_tokenizer(texts, vocab_size)
    tokenizer.model_input_names = ["input_ids", "token_type_ids", "attention_mask"]  # segments, as BERT's tokenizer
    config = BertConfig(vocab_size=len(tokenizer), hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads,
                        intermediate_size=2 * hidden, max_position_embeddings=512, pad_token_id=tokenizer.pad_token_id)
    torch.manual_seed(seed)
    model = BertModel(config)
    with atomic_dir(path) as tmp:
        model.save_pretrained(str(tmp))
        tokenizer.save_pretrained(str(tmp))
    return Path(path)


def write_trec(col: Collection, folder: str | Path, query_ids: Iterable[str] | None = None,
               doc_ids: Iterable[str] | None = None) -> dict[str, Path]:
    """`col` (or the given queries and documents of it, with the judgments among them) as
    TREC-style files: `docs.jsonl` (doc_id, title, text), `queries.tsv`, `qrels.txt`. Empty
    documents are left out (the TREC reader refuses them), and so are their judgments."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    qids = list(query_ids) if query_ids is not None else list(col.qrels)
    dids = [d for d in (doc_ids if doc_ids is not None else col.docs) if col.docs[d].text]
    keep = set(dids)
    files = {"docs": folder / "docs.jsonl", "queries": folder / "queries.tsv", "qrels": folder / "qrels.txt"}
    files["docs"].write_text("".join(json.dumps({"doc_id": d, "title": col.docs[d].title, "text": col.docs[d].body}) + "\n"
                                     for d in dids))
    files["queries"].write_text("".join(f"{q}\t{col.queries[q]}\n" for q in qids))
    files["qrels"].write_text("".join(f"{q} 0 {d} {g}\n" for q in qids for d, g in sorted(col.qrels.get(q, {}).items()) if d in keep))
    return files
