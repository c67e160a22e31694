"""The teacher's life cycle on disk: build a decoder variant, save it before and after CPT, record
which variant won, and load it again in notebook 03.

Layout under `outputs/<profile>/cpt/`: `<variant>/init/` (the decoder before CPT: the
"teacher without CPT" starts here), `<variant>/cpt/` (after CPT), `choice.json` (the variant
notebook 03 uses, and why), `summary.json` (perplexities and timings of every variant).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from distilrank import backbones, finetune
from distilrank.paths import atomic_dir
from distilrank.paths import (
    write_json as write_json,  # where notebook 03 and stages.teacher_finetune import it from
)
from distilrank.rankers import LastTokenScorer


def build_variant(variant: str, cfg: Any, corpus_texts: Iterable[str], seed: int) -> tuple[torch.nn.Module, Any]:
    """The decoder and tokenizer of one CPT variant (`minilm`, `scratch`, `hub`), seeded."""
    torch.manual_seed(seed)
    if variant == "minilm":
        return backbones.minilm_decoder(cfg.cpt.minilm_layers)
    if variant == "scratch":
        s = cfg.cpt.scratch
        return backbones.scratch_decoder(corpus_texts, s.vocab_size, s.hidden, s.layers, s.heads, s.intermediate)
    if variant == "hub":
        return backbones.hub_decoder(cfg.models.teacher, **finetune.load_kwargs(cfg.llm))
    raise ValueError(f"unknown CPT variant {variant!r}")


def load_scorer(path: str | Path, llm: Any) -> LastTokenScorer:
    """A ranking teacher to train: a fresh fp32 head on the decoder saved at `path`, loaded as
    `llm` says (fp32 for full fine-tuning, `base_dtype` for LoRA), with LoRA
    adapters and gradient checkpointing on its backbone where `llm` asks for them. `train_system`
    merges the adapters after training."""
    scorer = LastTokenScorer.from_decoder(path, **finetune.load_kwargs(llm))
    scorer.backbone = finetune.prepare(scorer.backbone, llm, "FEATURE_EXTRACTION")
    return scorer


def save_lm(model: torch.nn.Module, tokenizer: Any, path: str | Path) -> None:
    """`save_pretrained` of a causal LM and its tokenizer (safetensors), atomically."""
    with atomic_dir(path) as tmp:
        model.save_pretrained(str(tmp))
        tokenizer.save_pretrained(str(tmp))


CHOICE_CRITERION = "dev ndcg@5 (likelihood) after"


def write_choice(table: pd.DataFrame, cpt_root: str | Path) -> dict:
    """Notebook 02's guess at the teacher's decoder: the variant of `table` (one row per variant,
    `stages.continued_pretraining.compare_variants`) whose likelihood ranker has the higher dev NDCG@5 after CPT, written to
    `choice.json` with every variant's value; the whole table goes to `summary.json`. Returns the
    choice."""
    best = table[CHOICE_CRITERION].idxmax()
    choice = {"variant": best, "criterion": "dev NDCG@5 of the likelihood ranker after CPT",
              "values": table[CHOICE_CRITERION].round(4).to_dict()}
    write_json(choice, Path(cpt_root) / "choice.json")
    write_json(table.reset_index().to_dict(orient="records"), Path(cpt_root) / "summary.json")
    return choice


def read_choice(cpt_root: str | Path) -> dict:
    """`choice.json` of notebook 02, with a clear error when 02 has not run."""
    path = Path(cpt_root) / "choice.json"
    if not path.is_file():
        raise FileNotFoundError(f"no {path}: run notebook 02 (make replicate) first")
    return json.loads(path.read_text())


PRETRAINED = ("minilm", "hub")


def no_cpt_variant(variants: Iterable[str], chosen: str) -> tuple[str, str]:
    """The decoder of the CPT ablation and the system name its teacher gets.

    The paper's ablation is a *pretrained* LLM without domain CPT: the chosen variant's `init/`
    when it is pretrained (`minilm`, `hub`), else the first pretrained variant built. With none
    (only `scratch`), the ablation is a randomly initialised decoder, named for what it is.
    """
    variants = list(variants)
    if chosen in PRETRAINED:
        return chosen, "teacher-no-cpt"
    pretrained = [v for v in variants if v in PRETRAINED]
    if pretrained:
        return pretrained[0], "teacher-no-cpt"
    return chosen, "teacher-random-init"
