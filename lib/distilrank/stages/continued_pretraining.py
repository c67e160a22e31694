"""Continued pre-training (CPT) on click-style data (DisRanker Sec. 3.1).

An example is a prompt holding the query and a target holding the clicked document's title and
summary; the causal-LM loss covers the target tokens only (prompt labels are -100). Training runs
on transformers' `Trainer`; `target_nll` gives held-out perplexity on target tokens, per token and
per word (per-word perplexity compares models with different tokenizers).

Notebook 02's loop lives here too: `compare_variants` builds, measures, trains, measures again and
saves every decoder variant, returning one tidy row per variant (`VariantComparison`);
`plot_comparison` draws it and `continuations` writes each variant's greedy continuations of a few
test queries.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
import torch
from transformers import DataCollatorForSeq2Seq, Trainer, TrainingArguments

from distilrank import backbones, decoders, finetune, metrics, parallel, progress
from distilrank.precision import autocast, trainer_flags
from distilrank.progress import bar, plain_progress
from distilrank.rankers import decoder_prompt, document_text, end_token_id
from distilrank.runtime import set_seed

IGNORE = -100
PROMPT_TAIL = 6


def cpt_prompt(query: str) -> str:
    """The prompt: the query, then the cue for the clicked document; the ranking teacher reads the
    same template (`rankers.decoder_prompt`), so fine-tuning starts from the cue CPT taught."""
    return decoder_prompt(query)


def cpt_target(title: str, summary: str) -> str:
    """The target: the clicked document's title and summary, as the rankers read it."""
    return document_text(title, summary)


def cpt_rows(cpt_examples: pd.DataFrame, pseudo_groups: pd.DataFrame | None, pseudo_examples: int,
             max_examples: int | None, seed: int) -> list[dict[str, str]]:
    """Prompt/target rows: every click example, plus `pseudo_examples` title -> summary examples.

    Pseudo examples come from the pseudo-query groups' source documents (the title is the query,
    the summary the target). With `max_examples`, a seeded sample of the whole is kept. Shuffled.
    """
    rows = [{"prompt": cpt_prompt(q), "target": cpt_target(t, s)} for q, t, s in
            zip(cpt_examples["query"], cpt_examples["title"], cpt_examples["summary"], strict=True)]
    if pseudo_groups is not None and pseudo_examples:
        src = pseudo_groups[pseudo_groups["source"] == "title_source"]
        pick = seeded_sample(len(src), pseudo_examples, seed)
        rows += [{"prompt": cpt_prompt(q), "target": s} for q, s in zip(src["query"].to_numpy()[pick], src["summary"].to_numpy()[pick], strict=True)]
    order = np.random.default_rng(seed).permutation(len(rows))
    if max_examples is not None:
        order = order[:max_examples]
    return [rows[i] for i in order]


def cpt_features(tokenizer, prompt: str, target: str, max_len: int) -> dict[str, list[int]]:
    """Token ids and labels for one example; prompt labels are -100, the target ends with EOS.

    The prompt is encoded as the tokenizer encodes a text (BERT-style: `[CLS] prompt [SEP]`), the
    target without special tokens plus the end token, cut so that the whole fits `max_len`. A prompt
    longer than half of `max_len` loses its middle: its start and its last `PROMPT_TAIL` tokens
    (the cue that a document follows) are kept.
    """
    prompt_ids = tokenizer(prompt, add_special_tokens=True)["input_ids"]
    half = max_len // 2
    if half <= PROMPT_TAIL:
        raise ValueError(f"cpt_features: max_len {max_len} leaves no room for a prompt")
    if len(prompt_ids) > half:
        prompt_ids = prompt_ids[: half - PROMPT_TAIL] + prompt_ids[-PROMPT_TAIL:]
    room = max_len - len(prompt_ids) - 1
    target_ids = tokenizer(target, add_special_tokens=False)["input_ids"][:room] + [end_token_id(tokenizer)]
    ids = prompt_ids + target_ids
    return {"input_ids": ids, "attention_mask": [1] * len(ids), "labels": [IGNORE] * len(prompt_ids) + target_ids}


def build_features(tokenizer, rows: Sequence[dict], max_len: int) -> list[dict[str, list[int]]]:
    """`cpt_features` for rows with `prompt` and `target` fields."""
    return [cpt_features(tokenizer, r["prompt"], r["target"], max_len) for r in rows]


def train_cpt(model, tokenizer, features: Sequence[dict], *, output_dir: str, epochs: float, lr: float,
              batch_size: int, seed: int, device: str, warmup: float = 0.05, precision: str = "fp32",
              llm: Any = None) -> list[dict]:
    """Causal-LM training on target tokens with `Trainer` (mixed `precision`: fp32, bf16, fp16; fused
    AdamW); returns the logged loss history. `llm` (the profile's `llm:` section) adds LoRA
    adapters and gradient checkpointing (`finetune.prepare`); adapters are merged into `model`'s
    weights after training, so `model` is the trained decoder either way."""
    args = TrainingArguments(
        output_dir=output_dir, per_device_train_batch_size=batch_size, num_train_epochs=epochs,
        learning_rate=lr, warmup_steps=warmup, weight_decay=0.01, lr_scheduler_type="cosine",
        logging_steps=max(1, math.ceil(len(features) / batch_size * epochs / 20)), save_strategy="no",
        report_to="none", seed=seed, data_seed=seed, use_cpu=device == "cpu", **trainer_flags(precision),
        optim="adamw_torch_fused", train_sampling_strategy="group_by_length",
        length_column_name="length", dataloader_num_workers=0, disable_tqdm=False, **parallel.trainer_flags(),
    )
    collator = DataCollatorForSeq2Seq(tokenizer, label_pad_token_id=IGNORE, padding=True)
    trained = finetune.prepare(model, llm, "CAUSAL_LM") if llm is not None else model
    trainer = plain_progress(Trainer(model=trained, args=args, train_dataset=list(features), data_collator=collator))
    trainer.train()
    finetune.merge(trained)
    return [h for h in trainer.state.log_history if "loss" in h]


def cpt_task(job: dict, state: Any) -> None:
    """A launched process's share of `parallel.train_cpt`: the decoder saved at `job["init"]`
    trained by `train_cpt` under the Trainer's DDP; rank 0 saves it (`model/`) and its loss log
    (`result.json`)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from distilrank.config import LLMParams
    from distilrank.launch_jobs import device_of

    set_seed(job["seed"])
    lm = AutoModelForCausalLM.from_pretrained(job["init"], dtype=getattr(torch, job["dtype"].removeprefix("torch.")))
    tok = AutoTokenizer.from_pretrained(job["init"])
    features = json.loads(Path(job["features"]).read_text())
    log = train_cpt(lm, tok, features, output_dir=job["output_dir"], epochs=job["epochs"], lr=job["lr"], batch_size=job["batch_size"],
                    seed=job["seed"], device=device_of(state), precision=job["precision"],
                    llm=LLMParams.model_validate(job["llm"]) if job["llm"] else None)
    if state.process_index == 0:
        decoders.save_lm(lm, tok, Path(job["job_dir"]) / "model")
        decoders.write_json({"log": log}, Path(job["job_dir"]) / "result.json")


def target_nll(model, tokenizer, features: Sequence[dict], batch_size: int = 16, device: str = "cpu",
               precision: str = "fp32") -> dict[str, float]:
    """Summed negative log-likelihood of target tokens, with token and word counts and perplexities
    (forward under `precision`'s autocast, the loss in fp32)."""
    model.eval().to(device)
    collator = DataCollatorForSeq2Seq(tokenizer, label_pad_token_id=IGNORE, padding=True)
    nll, tokens, words = 0.0, 0, 0
    with torch.inference_mode(), autocast(precision, device):
        for start in bar(range(0, len(features), batch_size), desc="perplexity", mininterval=5):
            chunk = features[start : start + batch_size]
            batch = {k: v.to(device) for k, v in collator([dict(f) for f in chunk]).items()}
            logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits.float()
            shift_logits, shift_labels = logits[:, :-1], batch["labels"][:, 1:]
            loss = torch.nn.functional.cross_entropy(shift_logits.reshape(-1, shift_logits.shape[-1]),
                                                     shift_labels.reshape(-1), ignore_index=IGNORE, reduction="sum")
            nll += float(loss)
            tokens += int((shift_labels != IGNORE).sum())
            for f in chunk:
                target = [t for t in f["labels"] if t != IGNORE]
                words += max(1, len(tokenizer.decode(target, skip_special_tokens=True).split()))
    return {"nll": nll, "target_tokens": tokens, "target_words": words,
            "ppl_token": math.exp(nll / tokens), "ppl_word": math.exp(nll / words)}


def target_loglik(model, tokenizer, features: Sequence[dict], batch_size: int = 32, device: str = "cpu",
                  desc: str = "likelihood", precision: str = "fp32") -> np.ndarray:
    """Mean log-probability of each example's target tokens given its prompt (length-sorted batches).

    With a query as prompt and a candidate document as target, this is a zero-shot ranker from the
    decoder alone: documents the decoder finds likely after the query come first (the query-
    likelihood idea of language-model IR, turned around: the document given the query).
    """
    model.eval().to(device)
    collator = DataCollatorForSeq2Seq(tokenizer, label_pad_token_id=IGNORE, padding=True)
    order = np.argsort([len(f["input_ids"]) for f in features], kind="stable")
    out = np.empty(len(features), dtype=np.float32)
    with torch.inference_mode(), autocast(precision, device):
        for start in bar(range(0, len(order), batch_size), desc=desc, mininterval=5):
            idx = order[start : start + batch_size]
            batch = {k: v.to(device) for k, v in collator([dict(features[i]) for i in idx]).items()}
            logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits.float()
            labels = batch["labels"][:, 1:]
            logp = torch.log_softmax(logits[:, :-1], dim=-1).gather(-1, labels.clamp(min=0).unsqueeze(-1)).squeeze(-1)
            keep = labels != IGNORE
            out[idx] = ((logp * keep).sum(1) / keep.sum(1).clamp(min=1)).cpu().numpy()
    return out


def generate(model, tokenizer, prompts: Sequence[str], max_new_tokens: int = 40, device: str = "cpu") -> list[str]:
    """Greedy continuations of prompts (what CPT taught the model to write after a query).

    Greedy decoding with no repeated 3-gram: a small, briefly trained decoder otherwise loops on
    its most likely phrase, which hides what else it learned.
    """
    model.eval().to(device)
    out = []
    with torch.inference_mode():
        for p in prompts:
            ids = tokenizer(p, return_tensors="pt").to(device)
            gen = model.generate(**ids, max_new_tokens=max_new_tokens, do_sample=False, no_repeat_ngram_size=3,
                                 pad_token_id=tokenizer.pad_token_id, eos_token_id=end_token_id(tokenizer))
            out.append(tokenizer.decode(gen[0, ids["input_ids"].shape[1]:], skip_special_tokens=True))
    return out


def seeded_sample(n: int, k: int, seed: int) -> np.ndarray:
    """k of n indices, seeded and sorted (for picking examples to show)."""
    return np.sort(np.random.default_rng(seed).choice(n, size=min(k, n), replace=False))


# Notebook 02: every decoder variant built, measured, trained and measured again.

@dataclass
class VariantComparison:
    """What notebook 02's comparison leaves: one row per variant (`table`, indexed by variant), the
    logged CPT losses (`curves`: variant, step, loss), each trained decoder with its tokenizer, and
    for scale the dev NDCG@5 of BM25 and of random scores."""

    table: pd.DataFrame
    curves: pd.DataFrame
    models: dict[str, tuple[torch.nn.Module, Any]]
    bm25_dev: float
    random_dev: float


def tokenizer_texts(prepared: Any, variants: Sequence[str]) -> list[str]:
    """The texts the `scratch` decoder's tokenizer is learned from: the collection (title and
    summary) and the training queries, never dev or test; none when no variant is `scratch`."""
    corpus_texts = []
    if "scratch" in variants:
        corpus_texts = [f"{t} {s}" for t, s in zip(prepared["corpus"]["title"], prepared["corpus"]["summary"], strict=True)]
        corpus_texts += [r["query"] for r in prepared["cpt_train"]]
    return corpus_texts


def candidate_rows(candidates: pd.DataFrame) -> list[dict[str, str]]:
    """Prompt/target rows of a candidates frame: every candidate as if clicked for its query (what
    the likelihood ranker scores with `target_loglik`)."""
    return [{"prompt": cpt_prompt(q), "target": cpt_target(t, s)}
            for q, t, s in zip(candidates["query"], candidates["title"], candidates["summary"], strict=True)]


def likelihood_metrics(model, tokenizer, candidates: pd.DataFrame, features: Sequence[dict], qrels: pd.DataFrame, *,
                       device: str, precision: str) -> pd.DataFrame:
    """Per-query metrics of the decoder as a zero-shot ranker: each candidate scored by
    `target_loglik` (`features`: `build_features` of `candidate_rows(candidates)`)."""
    scores = target_loglik(model, tokenizer, features, device=device, precision=precision)
    return metrics.evaluate_candidates(candidates.assign(score=scores), qrels=qrels)


def compare_variants(prepared: Any, train_rows: Sequence[dict], dev_rows: Sequence[dict], cfg: Any, cpt_dir: Path, *,
                     device: str, precision: str) -> VariantComparison:
    """Notebook 02's loop. For each of `cfg.cpt.variants`, seeded: build the decoder and save it
    (`<variant>/init/`), measure dev perplexity and the likelihood ranker's dev metrics, continue
    pre-training (`train_cpt`), measure again and save (`<variant>/cpt/`). Trainer state goes to
    `<variant>/trainer/`. With `parallel.processes` above 1, CPT runs on that many processes
    (`parallel.train_cpt`); the measurements stay in the kernel."""
    launch = parallel.plan(cfg.parallel, device, role="teacher")
    corpus_texts = tokenizer_texts(prepared, cfg.cpt.variants)
    dev_cand = prepared["dev_candidates"].to_pandas()
    qrels = prepared["qrels"].to_pandas()
    cand_rows = candidate_rows(dev_cand)
    bm25_dev = metrics.aggregate(metrics.evaluate_candidates(dev_cand, score="bm25_score", qrels=qrels), "ndcg@5")
    summary, curves, models = [], [], {}
    for variant in cfg.cpt.variants:
        with progress.task(f"{variant} decoder"):  # the live progress lines in the terminal
            set_seed(cfg.seed)
            lm, tok = decoders.build_variant(variant, cfg, corpus_texts, cfg.seed)
            decoders.save_lm(lm, tok, cpt_dir / variant / "init")
            train_f = build_features(tok, train_rows, cfg.cpt.max_len)
            dev_f = build_features(tok, dev_rows, cfg.cpt.max_len)
            before = target_nll(lm, tok, dev_f, device=device, precision=precision)
            cand_f = build_features(tok, cand_rows, cfg.cpt.max_len)
            per_before = likelihood_metrics(lm, tok, dev_cand, cand_f, qrels, device=device, precision=precision)
            start = time.perf_counter()
            if launch is not None:  # on that many processes, from the saved init decoder; the trained one read back
                lm, log = parallel.train_cpt(launch, lm, cpt_dir / variant / "init", train_f, output_dir=str(cpt_dir / variant / "trainer"),
                                             epochs=cfg.cpt.epochs, lr=cfg.cpt.lr[variant], batch_size=cfg.cpt.batch_size, seed=cfg.seed,
                                             precision=precision, llm=cfg.llm)
            else:
                log = train_cpt(lm, tok, train_f, output_dir=str(cpt_dir / variant / "trainer"), epochs=cfg.cpt.epochs,
                                lr=cfg.cpt.lr[variant], batch_size=cfg.cpt.batch_size, seed=cfg.seed, device=device,
                                precision=precision, llm=cfg.llm)
            seconds = time.perf_counter() - start
            after = target_nll(lm, tok, dev_f, device=device, precision=precision)
            per_after = likelihood_metrics(lm, tok, dev_cand, cand_f, qrels, device=device, precision=precision)
            decoders.save_lm(lm, tok, cpt_dir / variant / "cpt")
            models[variant] = (lm, tok)
            curves += [{"variant": variant, "step": h["step"], "loss": h["loss"]} for h in log]
            summary.append({"variant": variant, "parameters": backbones.n_parameters(lm), "vocabulary": len(tok),
                            "train examples": len(train_f), "CPT seconds": round(seconds, 1),
                            "dev ppl/token before": before["ppl_token"], "dev ppl/token after": after["ppl_token"],
                            "dev ppl/word before": before["ppl_word"], "dev ppl/word after": after["ppl_word"],
                            "dev ndcg@5 (likelihood) before": metrics.aggregate(per_before, "ndcg@5"),
                            "dev ndcg@5 (likelihood) after": metrics.aggregate(per_after, "ndcg@5"),
                            "dev pnr (likelihood) after": metrics.aggregate(per_after, "pnr")})
    table = pd.DataFrame(summary).set_index("variant")
    random_dev = metrics.aggregate(metrics.evaluate_references(dev_cand, qrels, seed=cfg.seed)["random"], "ndcg@5")
    return VariantComparison(table, pd.DataFrame(curves), models, bm25_dev, random_dev)


def plot_comparison(comparison: VariantComparison) -> plt.Figure:
    """Three panels: the CPT training loss by step, dev perplexity per word (log scale) and the
    likelihood ranker's dev NDCG@5 before and after CPT per variant, against BM25 (dashed) and
    random scores (dotted: a likelihood ranker can sit at chance); one legend, outside the data."""
    table = comparison.table
    fig, axes = plt.subplots(1, 3, figsize=(15, 3.5))
    sns.lineplot(comparison.curves, x="step", y="loss", hue="variant", marker="o", ax=axes[0])
    axes[0].set(title="CPT training loss (target tokens)", ylabel="cross-entropy per token")
    for ax, col, title in ((axes[1], "dev ppl/word", "dev perplexity per word (lower is better)"),
                           (axes[2], "dev ndcg@5 (likelihood)", "dev NDCG@5 of the likelihood ranker")):
        d = table[[f"{col} before", f"{col} after"]].rename(columns=lambda c: f"{c.split()[-1]} CPT").reset_index()
        sns.barplot(d.melt(id_vars="variant", var_name="when", value_name="value"), x="variant", y="value", hue="when", ax=ax)
        ax.set(title=title, ylabel="")
    axes[1].set_yscale("log")
    axes[1].get_legend().remove()  # the same before/after colours as the last panel, whose legend names them
    axes[2].axhline(comparison.bm25_dev, ls="--", c="grey", label="bm25")
    axes[2].axhline(comparison.random_dev, ls=":", c="firebrick", label="random scores")
    axes[2].legend(fontsize=9, loc="upper left", bbox_to_anchor=(1.01, 1))
    if comparison.curves["variant"].nunique() < 2 and axes[0].get_legend() is not None:
        axes[0].get_legend().remove()  # one variant: its name is under the other panels' bars
    fig.tight_layout()
    return fig


def likelihood_reading(comparison: VariantComparison) -> list[str]:
    """Per variant, what its likelihood ranker did (dev NDCG@5 before and after CPT, against random
    scores and BM25), and when CPT left it at chance or lowered it, the likely reason: sentences
    that stay true whichever way the numbers go."""
    rnd, bm25 = comparison.random_dev, comparison.bm25_dev
    lines = []
    for variant, r in comparison.table.iterrows():
        before, after = r["dev ndcg@5 (likelihood) before"], r["dev ndcg@5 (likelihood) after"]
        line = (f"{variant}: the likelihood ranker's dev NDCG@5 went from {before:.3f} before CPT to {after:.3f} after "
                f"(random scores {rnd:.3f}, BM25 {bm25:.3f}).")
        if after <= rnd:
            line += (" After CPT it ranks no better than random scores: the decoder learned the collection's words and phrasing "
                     f"(per-word perplexity {r['dev ppl/word after']:.0f}), not which document answers which query, so a document's "
                     "mean log-probability measures how typical its text is, and on these lists the typical text is not the relevant one.")
        elif after < before:
            line += (" CPT lowered it: learning to write the collection's text made the likelihood reward typical text more "
                     "than text that answers the query.")
        else:
            line += " CPT raised it: the decoder's likelihood now prefers the relevant documents more than before."
        if after <= before:
            line += " The paper's premise, that CPT makes the decoder a better judge of relevance, does not show here at this budget."
        lines.append(line)
    return lines


def continuations(models: dict[str, tuple[torch.nn.Module, Any]], candidates: pd.DataFrame, n: int, seed: int, *,
                  device: str, max_new_tokens: int = 40) -> pd.DataFrame:
    """For `n` seeded queries of a candidates frame: the query, its best-judged document (first 150
    characters) and each model's greedy continuation of the query's prompt (`generate`); one row
    per query."""
    best_docs = candidates.sort_values(["gain", "doc_id"], ascending=[False, True]).drop_duplicates("query_id")
    shown = best_docs.iloc[seeded_sample(len(best_docs), n, seed)]
    gens = []
    for r in shown.itertuples():
        prompt = cpt_prompt(r.query)
        row = {"test query": r.query, "its best-judged document": cpt_target(r.title, r.summary)[:150]}
        for variant, (lm, tok) in models.items():
            row[variant] = generate(lm, tok, [prompt], max_new_tokens=max_new_tokens, device=device)[0]
        gens.append(row)
    return pd.DataFrame(gens)
