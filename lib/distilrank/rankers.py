"""Rankers as score functions: the LLM teacher's last-token head, BERT cross-encoders, scoring.

- `LastTokenScorer`: DisRanker's teacher (Sec. 3.2): any decoder (`AutoModel`) whose last non-pad
  token's final hidden state goes through one dense layer to a score. Hub LLMs and the embedded
  teacher share this code path.
- `cross_encoder`: a BERT cross-encoder with one output (the students): by default the mean-pooled
  `student_head.MeanPoolCrossEncoder` (registered with the Auto classes at import), or BERT's own
  CLS + tanh-pooler `AutoModelForSequenceClassification`; `head_parameter_names` names either's
  head (and the teacher's) for a separate head learning rate.
- `encode_pairs` tokenises (query, document) pairs; `encode_frame` does so once per frame and
  tokenizer (cached); `score_pairs` scores them in batches under `torch.inference_mode` and the
  run's autocast precision, with a progress bar.
Both model kinds return `.logits` of shape (N, 1), so training and scoring never ask which is which.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from safetensors.torch import load_file, save_file
from torch import nn
from transformers import AutoConfig, AutoModel, AutoModelForSequenceClassification, AutoTokenizer
from transformers.modeling_outputs import SequenceClassifierOutput

from distilrank import student_head
from distilrank.artifacts import load_prepared, save_prepared
from distilrank.paths import atomic_dir
from distilrank.precision import CHOICES as precision_choices
from distilrank.precision import autocast
from distilrank.progress import bar
from distilrank.student_head import MeanPoolConfig, MeanPoolCrossEncoder

student_head.register()  # AutoConfig / AutoModelForSequenceClassification know the mean-pooled student


def last_token_pool(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """The hidden state of each row's last non-pad token, under left or right padding.

    `hidden` is (B, L, H), `attention_mask` (B, L) with 1 for real tokens; returns (B, H).
    """
    positions = torch.arange(attention_mask.shape[1], device=attention_mask.device)
    last = (positions * attention_mask.long()).argmax(dim=1)
    return hidden[torch.arange(hidden.shape[0], device=hidden.device), last]


def pooling_example(batches: dict[str, dict[str, torch.Tensor]]) -> pd.DataFrame:
    """Which token a last-token head reads in small padded batches (notebook 03's worked example):
    per row, its token ids and attention mask, the token at the last position (what `hidden[:, -1]`
    would read) and the token `last_token_pool` reads. No model: each position's stand-in hidden
    state is its own token id, so the pooled "state" names the token read. `batches` maps a name
    (the padding side) to `pad_batch`-style tensors."""
    rows = []
    for side, batch in batches.items():
        ids, mask = batch["input_ids"], batch["attention_mask"]
        pooled = last_token_pool(ids.unsqueeze(-1), mask)[:, 0]
        rows += [{"padding": side, "input_ids": " ".join(map(str, ids[r].tolist())), "attention_mask": " ".join(map(str, mask[r].tolist())),
                  "token at the last position": int(ids[r, -1]), "token the head reads (through the mask)": int(pooled[r])}
                 for r in range(len(ids))]
    return pd.DataFrame(rows)


class LastTokenScorer(nn.Module):
    """A decoder backbone + last-token pooling + `Linear(hidden, 1)`: the LLM ranking teacher.

    The head is fp32 whatever the backbone's dtype (a bf16 hub decoder, or a backbone with LoRA
    adapters) and runs outside any autocast on the pooled state cast to fp32, so the score and the
    head's gradient are fp32 under bf16 mixed precision too."""

    HEAD_FILE = "score_head.safetensors"

    def __init__(self, backbone: nn.Module) -> None:
        super().__init__()
        self.backbone = backbone
        self.config = backbone.config
        self.head = nn.Linear(backbone.config.hidden_size, 1)
        nn.init.normal_(self.head.weight, std=0.02)
        nn.init.zeros_(self.head.bias)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, **_: object) -> SequenceClassifierOutput:
        hidden = self.backbone(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        pooled = last_token_pool(hidden, attention_mask)
        with torch.autocast(device_type=pooled.device.type, enabled=False):
            logits = self.head(pooled.to(self.head.weight.dtype))
        return SequenceClassifierOutput(logits=logits)

    @classmethod
    def from_decoder(cls, path: str | Path, **kwargs: object) -> LastTokenScorer:
        """A fresh head on a saved decoder (`AutoModel` drops a causal LM's output layer)."""
        return cls(AutoModel.from_pretrained(str(path), **kwargs))

    def save_pretrained(self, path: str | Path, tokenizer=None) -> None:
        """Backbone via `save_pretrained`, head as safetensors (and the tokenizer); atomically."""
        with atomic_dir(path) as tmp:
            self.backbone.save_pretrained(str(tmp))
            if tokenizer is not None:
                tokenizer.save_pretrained(str(tmp))
            save_file({k: v.detach().cpu().contiguous() for k, v in self.head.state_dict().items()}, str(tmp / self.HEAD_FILE))
            (tmp / "scorer.json").write_text(json.dumps({"kind": "last_token_scorer"}))

    @classmethod
    def from_pretrained(cls, path: str | Path, **kwargs: object) -> LastTokenScorer:
        path = Path(path)
        if not (path / cls.HEAD_FILE).is_file():
            raise FileNotFoundError(f"{path}: no {cls.HEAD_FILE}; not a saved LastTokenScorer")
        model = cls.from_decoder(path, **kwargs)
        model.head.load_state_dict(load_file(str(path / cls.HEAD_FILE)))
        return model


POOLINGS = ("mean", "cls")


def is_mean_pooled(model: nn.Module) -> bool:
    """Whether `model` is a `MeanPoolCrossEncoder` (this module's class, or the same code loaded
    from a saved student's folder with `trust_remote_code`)."""
    return isinstance(model, MeanPoolCrossEncoder) or type(model).__name__ == MeanPoolCrossEncoder.__name__


def is_sequence_classifier(config) -> bool:
    """Whether a checkpoint's config is a cross-encoder's (a saved student, mean-pooled or not, or
    a hub cross-encoder) rather than a bare encoder's: such a checkpoint keeps its own class and head."""
    return (getattr(config, "model_type", None) == student_head.MODEL_TYPE
            or any(a.endswith("ForSequenceClassification") for a in config.architectures or ()))


def cross_encoder(path: str | Path, pooling: str = "mean") -> nn.Module:
    """A BERT cross-encoder with one score output.

    A saved cross-encoder (a student saved by `save_ranker`, or a hub cross-encoder) loads as the
    class its config names, head and all, whatever `pooling`. An encoder checkpoint gets a fresh
    head: `pooling="mean"` builds `MeanPoolCrossEncoder` (mean of the last hidden states, then one
    linear layer, no tanh: what a mean-pooling sentence encoder such as all-MiniLM-L6-v2 was
    trained to make meaningful); `pooling="cls"` BERT's `BertForSequenceClassification` (CLS
    state, dense+tanh pooler, dropout, linear)."""
    if pooling not in POOLINGS:
        raise ValueError(f"cross_encoder: pooling must be one of {POOLINGS}, not {pooling!r}")
    config = AutoConfig.from_pretrained(str(path))
    if is_sequence_classifier(config) or pooling == "cls":
        return AutoModelForSequenceClassification.from_pretrained(str(path), num_labels=1)
    # the encoder's settings under the student's model type, with one label
    fields = {k: v for k, v in config.to_dict().items()
              if k not in ("model_type", "architectures", "id2label", "label2id", "transformers_version")}
    return MeanPoolCrossEncoder.from_pretrained(str(path), config=MeanPoolConfig.from_dict(fields, num_labels=1))


def head_parameter_names(model: nn.Module) -> set[str]:
    """Names (as `model.named_parameters()` gives them) of a ranker's freshly initialised head:
    `score.*` of a `MeanPoolCrossEncoder`, `head.*` of a `LastTokenScorer`, `classifier.*` and the
    pooler (`bert.pooler.*`, never trained for relevance either) of a `BertForSequenceClassification`."""
    if is_mean_pooled(model):
        prefixes: tuple[str, ...] = ("score.",)
    elif isinstance(model, LastTokenScorer):
        prefixes = ("head.",)
    elif isinstance(getattr(model, "classifier", None), nn.Module):
        prefixes = ("classifier.", f"{getattr(model, 'base_model_prefix', 'bert')}.pooler.")
    else:
        raise ValueError(f"head_parameter_names: no known head on a {type(model).__name__}")
    names = {n for n, _ in model.named_parameters() if n.startswith(prefixes)}
    if not names:
        raise ValueError(f"head_parameter_names: a {type(model).__name__} without parameters under {prefixes}")
    return names


def load_ranker(path: str | Path) -> tuple[nn.Module, object]:
    """Load a saved ranker of any kind (last-token teacher, mean-pooled or CLS cross-encoder) with
    its tokenizer."""
    path = Path(path)
    model = LastTokenScorer.from_pretrained(path) if (path / "scorer.json").is_file() else cross_encoder(path)
    return model, AutoTokenizer.from_pretrained(str(path))


def end_token_id(tokenizer) -> int:
    """The id that ends a sequence: EOS, or SEP for BERT-style tokenizers."""
    end = tokenizer.eos_token_id if tokenizer.eos_token_id is not None else tokenizer.sep_token_id
    if end is None:
        raise ValueError("tokenizer has neither an EOS nor a SEP token")
    return end


def document_text(title: str, summary: str) -> str:
    """A document as rankers read it: title, then summary (DisRanker's input, Sec. 3)."""
    return f"{title} {summary}".strip()


def decoder_prompt(query: str) -> str:
    """The one template a decoder reads, in CPT and as a ranker: the query, then the cue after
    which the clicked document follows (`query: q clicked document: d`)."""
    return f"query: {query} clicked document:"


def encode_pairs(tokenizer, queries: Sequence[str], documents: Sequence[str], max_len: int, decoder: bool) -> list[list[int]]:
    """Token ids of (query, document) pairs, truncating the document to fit `max_len`.

    Cross-encoders get the usual pair encoding (`[CLS] q [SEP] d [SEP]`, the longer side trimmed
    first, so a long query keeps its document in view). Decoders get the CPT template,
    `query: q clicked document: d` (`decoder_prompt`), ending with an end token (EOS or SEP) so
    that the last token, whose state is the score, is the same token in every sequence.
    """
    if len(queries) != len(documents):
        raise ValueError("encode_pairs: queries and documents differ in length")
    if not decoder:
        return tokenizer(list(queries), list(documents), truncation="longest_first", max_length=max_len)["input_ids"]
    end = end_token_id(tokenizer)
    texts = [f"{decoder_prompt(q)} {d}" for q, d in zip(queries, documents, strict=True)]
    out = []
    for ids in tokenizer(texts, truncation=True, max_length=max_len)["input_ids"]:
        out.append(ids if ids and ids[-1] == end else ids[: max_len - 1] + [end])
    return out


def segment_token(model: nn.Module, tokenizer) -> int | None:
    """The token after whose first occurrence a BERT-style pair's second segment starts (SEP), or
    None for models without segment embeddings (decoders): what `pad_batch` needs to build the
    `token_type_ids` a cross-encoder was pretrained with (and sentence-transformers passes)."""
    if is_decoder(model) or getattr(model.config, "type_vocab_size", 0) < 2:
        return None
    return tokenizer.sep_token_id


def pad_batch(sequences: Sequence[Sequence[int]], pad_id: int, segment_after: int | None = None) -> dict[str, torch.Tensor]:
    """Right-pad token id lists into `input_ids` and `attention_mask` tensors; with `segment_after`
    (a SEP id), also `token_type_ids`: 0 up to and including the first SEP, 1 after it."""
    width = max(len(s) for s in sequences)
    ids = torch.full((len(sequences), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(sequences), width), dtype=torch.long)
    for r, s in enumerate(sequences):
        ids[r, : len(s)] = torch.tensor(s, dtype=torch.long)
        mask[r, : len(s)] = 1
    if segment_after is None:
        return {"input_ids": ids, "attention_mask": mask}
    after_first = ((ids == segment_after).long().cumsum(1) - (ids == segment_after).long()) > 0
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": (after_first & mask.bool()).long()}


def score_pairs(model: nn.Module, sequences: Sequence[Sequence[int]], pad_id: int, batch_size: int = 32,
                device: str = "cpu", desc: str = "scoring", segment_after: int | None = None,
                precision: str = "fp32") -> np.ndarray:
    """Score encoded pairs in length-sorted batches (little padding) under `precision`'s autocast;
    returns float32 scores in input order."""
    model.eval().to(device)
    order = np.argsort([len(s) for s in sequences], kind="stable")
    scores = np.empty(len(sequences), dtype=np.float32)
    with torch.inference_mode(), autocast(precision, device):
        for start in bar(range(0, len(order), batch_size), desc=desc, unit="batch", mininterval=5, leave=None):  # leave=None: a bar nested in training clears itself
            idx = order[start : start + batch_size]
            batch = pad_batch([sequences[i] for i in idx], pad_id, segment_after)
            scores[idx] = model(**{k: v.to(device) for k, v in batch.items()}).logits.squeeze(-1).float().cpu().numpy()
    return scores


_ENCODED: OrderedDict[tuple, tuple[object, list[list[int]]]] = OrderedDict()
ENCODED_CACHE_SIZE = 12  # frames kept: a notebook's lists (train, dev, test, transfer set) per tokenizer
ENCODED_CACHE_PAIRS = 2_000_000  # and at most this many encoded pairs in all (a paper-size collection)


def tokenizer_key(tokenizer) -> tuple:
    """What identifies a tokenizer's encoding: its source path (when it was loaded from one) and
    class and vocabulary size; an in-memory tokenizer without a path is keyed by identity (the
    cache holds it, so its id cannot be reused while the entry lives)."""
    name = str(getattr(tokenizer, "name_or_path", "") or "")
    ident = name if name and Path(name).exists() else f"id:{id(tokenizer)}"
    return ident, type(tokenizer).__name__, len(tokenizer)


def frame_key(df: pd.DataFrame) -> bytes:
    """A digest of a candidates frame's text columns (query, title, summary), row order included."""
    import hashlib

    hashed = pd.util.hash_pandas_object(df[["query", "title", "summary"]], index=False).to_numpy()
    return hashlib.blake2b(hashed.tobytes(), digest_size=16).digest()


def encode_frame(tokenizer, df: pd.DataFrame, max_len: int, decoder: bool) -> list[list[int]]:
    """`encode_pairs` over a candidates frame (columns query, title, summary), tokenised once: the
    same frame, tokenizer and length again (another system trained or scored on the same lists)
    is served from an in-process cache (least recently used first out, bounded in frames and in
    pairs)."""
    key = (tokenizer_key(tokenizer), max_len, decoder, frame_key(df))
    if key in _ENCODED and (not key[0][0].startswith("id:") or _ENCODED[key][0] is tokenizer):
        _ENCODED.move_to_end(key)
        return _ENCODED[key][1]
    docs = [document_text(t, s) for t, s in zip(df["title"], df["summary"], strict=True)]
    encoded = encode_pairs(tokenizer, list(df["query"]), docs, max_len, decoder)
    _ENCODED[key] = (tokenizer, encoded)
    while len(_ENCODED) > 1 and (len(_ENCODED) > ENCODED_CACHE_SIZE or sum(len(v[1]) for v in _ENCODED.values()) > ENCODED_CACHE_PAIRS):
        _ENCODED.popitem(last=False)
    return encoded


def is_decoder(model: nn.Module) -> bool:
    """Whether a ranker reads the decoder prompt format (the LLM teacher) or pair encoding."""
    return isinstance(model, LastTokenScorer)


def save_ranker(model: nn.Module, tokenizer, path: str | Path, max_len: int | None = None) -> None:
    """Save a ranker of either kind with its tokenizer (safetensors), atomically.

    A cross-encoder is saved so that `AutoModelForSequenceClassification` and
    sentence-transformers' `CrossEncoder(path)` both give the scores it was trained to give:
    the config names an identity activation (CrossEncoder would apply a sigmoid to a one-output
    model otherwise) and, with `max_len`, the tokenizer truncates where training did. A
    `MeanPoolCrossEncoder` also gets its code (`student_head.py`) beside the weights, named in the
    config's `auto_map`: `from_pretrained(path, trust_remote_code=True)` loads it without distilrank.
    """
    if isinstance(model, LastTokenScorer):
        model.save_pretrained(path, tokenizer)
        return
    model.config.sentence_transformers = {"activation_fn": "torch.nn.modules.linear.Identity"}
    mean_pooled = is_mean_pooled(model)
    if mean_pooled:
        module = Path(student_head.__file__).stem
        model.config.auto_map = {"AutoConfig": f"{module}.MeanPoolConfig",
                                 "AutoModelForSequenceClassification": f"{module}.MeanPoolCrossEncoder"}
    if max_len is not None:
        tokenizer.model_max_length = max_len
    with atomic_dir(path) as tmp:
        model.save_pretrained(str(tmp))
        tokenizer.save_pretrained(str(tmp))
        if mean_pooled:
            (tmp / Path(student_head.__file__).name).write_bytes(Path(student_head.__file__).read_bytes())


def score_candidates(model: nn.Module, tokenizer, df: pd.DataFrame, max_len: int, batch_size: int, device: str,
                     desc: str = "scoring", precision: str = "fp32") -> np.ndarray:
    """Scores of a candidates frame's rows (encoded as the model's kind reads them)."""
    seqs = encode_frame(tokenizer, df, max_len, is_decoder(model))
    return score_pairs(model, seqs, tokenizer.pad_token_id, batch_size, device, desc=desc,
                       segment_after=segment_token(model, tokenizer), precision=precision)


SCORES_META = "scores_meta.json"
PRECISIONS = tuple(c for c in precision_choices if c != "auto")  # what computed a cache: `precision.CHOICES` as resolved


def save_scores(frames: dict[str, pd.DataFrame], path: str | Path, *, precision: str = "fp32") -> None:
    """Cache scores as a `DatasetDict` (split -> query_id, doc_id, gain, score) with the precision
    that computed them (`scores_meta.json`, read by `scores_precision`), in one atomic write: a
    killed run leaves the previous cache or none, never data without its precision. Callers that
    score under autocast pass the run's `precision`; fp32 is the default, as in `score_candidates`."""
    if precision not in PRECISIONS:
        raise ValueError(f"save_scores: precision must be one of {PRECISIONS}, not {precision!r}")
    keep = ["query_id", "doc_id", "gain", "score"]
    with atomic_dir(path) as tmp:
        # save_prepared swaps its own complete directory in for `tmp`; the metadata joins it there,
        # and only then does the whole cache replace `path`
        save_prepared({name: df[keep].to_dict(orient="records") for name, df in frames.items()}, tmp)
        (tmp / SCORES_META).write_text(json.dumps({"precision": precision}) + "\n")


def scores_precision(path: str | Path) -> str:
    """The precision (`fp32`, `bf16`, `fp16`) that computed the scores cached at `path`
    (`save_scores`): what a reader rescoring the same model must use to reproduce them."""
    path = Path(path)
    if not path.is_dir():
        raise FileNotFoundError(f"no cached scores at {path}: run the notebook that produces them")
    meta = path / SCORES_META
    if not meta.is_file():
        raise FileNotFoundError(f"{path} has no {SCORES_META}: a cache written before scores recorded their "
                                "precision; re-run the notebook that produces it")
    return json.loads(meta.read_text())["precision"]


SEED_MARK = "@seed"  # scores/<system>@seed<k>: the cached scores of a further training seed of <system>


def seed_cache(name: str, seed: int, first: bool) -> str:
    """The score cache of one training seed of system `name`: `name` for the first seed (whose
    model is saved and deployed), `name@seed<seed>` for a further one (what `seed_dirs` finds)."""
    return name if first else f"{name}{SEED_MARK}{seed}"


def seed_dirs(scores_dir: str | Path, name: str) -> list[Path]:
    """The score caches of every training seed of system `name`: `scores_dir/name` (the first
    seed, whose model is the one saved and deployed) and then `name@seed<k>` by k."""
    first = Path(scores_dir) / name
    more = sorted(Path(scores_dir).glob(f"{name}{SEED_MARK}*"), key=lambda p: int(p.name.rsplit(SEED_MARK, 1)[1]))
    return [first, *more]


def remove_stale_seeds(scores_dir: Path, names: Sequence[str], further: Sequence[int]) -> list[Path]:
    """Delete the `name@seed<k>` score caches of `names` whose k is not in `further` (the seeds
    after the first); returns what it removed."""
    import shutil

    keep = {f"{SEED_MARK}{k}" for k in further}
    stale = [d for name in names for d in seed_dirs(scores_dir, name)[1:] if not any(d.name.endswith(k) for k in keep)]
    for d in stale:
        shutil.rmtree(d)
    return stale


def load_scores(path: str | Path, split: str, like: pd.DataFrame) -> np.ndarray:
    """Cached scores of one split (`save_scores`), aligned to the rows of `like` by
    (query_id, doc_id); a missing cache or a row without a score is an error."""
    path = Path(path)
    if not path.is_dir():
        raise FileNotFoundError(f"no cached scores at {path}: run the notebook that produces them")
    cached = load_prepared(path)
    if split not in cached:
        raise KeyError(f"{path} has no split {split!r} (has {sorted(cached)})")
    keyed = cached[split].to_pandas().set_index(["query_id", "doc_id"])["score"]
    aligned = keyed.reindex(pd.MultiIndex.from_frame(like[["query_id", "doc_id"]]))
    if aligned.isna().any():
        raise ValueError(f"{path} [{split}] lacks scores for {int(aligned.isna().sum())} of {len(like)} rows")
    return aligned.to_numpy(dtype=np.float32)
