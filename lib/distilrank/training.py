"""Group-wise ranker training on transformers' `Trainer`: one score matrix per step, any loss.

A *group* is one query with its candidates (pre-tokenised once) and a target per candidate (gains,
or teacher scores). Each step takes `groups_per_step` groups of `group_size` sampled candidates,
scores all of them in one forward pass, reshapes to a (Q, K) matrix and hands it to the loss
(`distilrank.losses`). Adding a loss never touches this loop.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from transformers import Trainer, TrainerCallback, TrainingArguments

from distilrank import finetune, losses, metrics, parallel, progress
from distilrank.paths import write_json
from distilrank.precision import trainer_flags
from distilrank.progress import plain_progress
from distilrank.rankers import (
    encode_frame,
    head_parameter_names,
    is_decoder,
    pad_batch,
    save_ranker,
    save_scores,
    score_candidates,
    score_pairs,
    segment_token,
)
from distilrank.sampling import pick_queries


@dataclass
class Group:
    """One query's candidates: token ids and a target (gain or teacher score) each."""

    sequences: list[list[int]]
    targets: list[float]
    query_id: str = ""


def groups_from_frame(df: pd.DataFrame, sequences: Sequence[list[int]], target: str = "gain") -> list[Group]:
    """One `Group` per query of `df` (rows aligned with `sequences`), targets from column `target`."""
    if len(df) != len(sequences):
        raise ValueError(f"groups_from_frame: {len(df)} rows but {len(sequences)} sequences")
    out = []
    for qid, idx in df.groupby("query_id", sort=False).indices.items():
        out.append(Group([sequences[i] for i in idx], [float(v) for v in df[target].to_numpy()[idx]], str(qid)))
    return out


def cut_group(g: Group, group_size: int, rng: np.random.Generator) -> Group:
    """`g` cut to `group_size` candidates (all of them, shuffled, when it has no more): one random
    candidate with a target above the group's minimum (so there is always an ordered pair to learn
    from) plus `group_size - 1` random others."""
    t = np.asarray(g.targets, dtype=np.float64)
    if len(t) <= group_size:
        keep = rng.permutation(len(t))
    else:
        better = np.flatnonzero(t > t.min())
        first = rng.choice(better) if len(better) else rng.integers(len(t))
        rest = rng.choice(np.delete(np.arange(len(t)), first), size=group_size - 1, replace=False)
        keep = np.concatenate([[first], rest])
    return Group([g.sequences[i] for i in keep], [float(t[i]) for i in keep], g.query_id)


def sample_groups(groups: Sequence[Group], group_size: int, epochs: int, seed: int) -> list[Group]:
    """`epochs` passes over the groups, each group cut to `group_size` candidates (`cut_group`,
    seeded); the order of the groups is shuffled per epoch. Groups with a single candidate are
    dropped."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(epochs):
        for g in (groups[i] for i in rng.permutation(len(groups))):
            if len(g.targets) >= 2:
                out.append(cut_group(g, group_size, rng))
    return out


class GroupDataset(torch.utils.data.Dataset):
    """Sampled groups as a torch dataset (the Trainer shuffles it with its seed). A list, or a lazy
    sequence that draws each group when the loop asks for it (`distilrank.stages.curriculum`)."""

    def __init__(self, groups: Sequence[Group]) -> None:
        self.groups = groups

    def __len__(self) -> int:
        return len(self.groups)

    def __getitem__(self, i: int) -> Group:
        return self.groups[i]


@dataclass
class GroupCollator:
    """Pads a list of groups to (Q*K, L) token tensors plus (Q, K) `targets` and `mask`."""

    pad_id: int
    segment_after: int | None = None

    def __call__(self, groups: list[Group]) -> dict[str, torch.Tensor]:
        k = max(len(g.sequences) for g in groups)
        seqs, targets, mask = [], torch.zeros(len(groups), k), torch.zeros(len(groups), k, dtype=torch.bool)
        for q, g in enumerate(groups):
            n = len(g.sequences)
            seqs += g.sequences + [[self.pad_id]] * (k - n)
            targets[q, :n] = torch.tensor(g.targets)
            mask[q, :n] = True
        return {**pad_batch(seqs, self.pad_id, self.segment_after), "targets": targets, "mask": mask}


class GroupTrainer(Trainer):
    """`Trainer` whose loss reads one (Q, K) score matrix: `loss_fn(scores, targets, mask)`.

    With `head_lr`, the optimiser (the one `TrainingArguments.optim` names, fused AdamW here) gets
    the ranker's head (`rankers.head_parameter_names`) at `head_lr` and every other parameter at
    the arguments' learning rate, with Trainer's weight decay split kept; the scheduler scales
    every group's rate by the same factor."""

    def __init__(self, *args: object, loss_fn: Callable, head_lr: float | None = None, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.loss_fn = loss_fn
        self.head_lr = head_lr

    def create_optimizer(self, model=None) -> torch.optim.Optimizer:
        if self.head_lr is None or self.optimizer is not None:
            return super().create_optimizer(model)
        opt_model = self.model if model is None else model
        decay, head = set(self.get_decay_parameter_names(opt_model)), head_parameter_names(opt_model)
        groups = []
        for in_head, lr in ((False, self.args.learning_rate), (True, self.head_lr)):
            for decayed, wd in ((True, self.args.weight_decay), (False, 0.0)):
                params = [p for n, p in opt_model.named_parameters()
                          if p.requires_grad and (n in head) == in_head and (n in decay) == decayed]
                if params:
                    groups.append({"params": params, "weight_decay": wd, "lr": lr})
        optimizer_cls, optimizer_kwargs = self.get_optimizer_cls_and_kwargs(self.args, opt_model)
        self.optimizer = optimizer_cls(groups, **optimizer_kwargs)
        return self.optimizer

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        targets, mask = inputs.pop("targets"), inputs.pop("mask")
        outputs = model(**inputs)  # input_ids, attention_mask (and token_type_ids for BERT pairs)
        scores = outputs.logits.squeeze(-1).view(targets.shape)
        loss = self.loss_fn(scores, targets, mask)
        return (loss, outputs) if return_outputs else loss


@dataclass
class EvalEvery(TrainerCallback):
    """Calls `evaluate(model) -> dict` every `every` steps: the learning curve's points during training.

    The end point is the caller's: `train_system` scores dev after training anyway and adds it.
    """

    evaluate: Callable[[torch.nn.Module], dict]
    every: int
    history: list[dict] = field(default_factory=list)

    def _run(self, state, model) -> None:
        was_training = model.training
        self.history.append({"step": state.global_step, **self.evaluate(model)})
        model.train(was_training)

    def on_step_end(self, args, state, control, model=None, **kwargs):
        if self.every > 0 and state.global_step % self.every == 0:
            self._run(state, model)


SCHEDULES = {"linear": "linear", "cosine": "cosine", "constant": "constant_with_warmup"}  # ours -> transformers'


def train_groups(model: torch.nn.Module, groups: Sequence[Group], loss_fn: Callable, pad_id: int, *,
                 output_dir: str, segment_after: int | None = None, lr: float, groups_per_step: int, seed: int, device: str,
                 warmup: float = 0.1, weight_decay: float = 0.01, precision: str = "fp32",
                 evaluate: Callable[[torch.nn.Module], dict] | None = None, eval_every: int = 0,
                 callbacks: Sequence[TrainerCallback] = (), head_lr: float | None = None,
                 schedule: str = "linear") -> tuple[list[dict], int]:
    """Train `model` on sampled groups for one pass; returns the learning curve (may be empty) and
    the number of steps taken.

    `groups` are already sampled (`sample_groups`, or a lazy sampler), so one pass covers every
    epoch; `callbacks` are more `TrainerCallback`s (a curriculum's round boundaries). `precision`
    (`fp32`, `bf16`, `fp16`) is Trainer's mixed precision; the optimiser is torch's fused AdamW
    (one kernel for all parameters: a fifth of a step's time on a 2-core CPU with the unfused one).
    The head (`rankers.head_parameter_names`) learns at `head_lr` (None: at `lr` like the rest);
    the rate rises linearly over the first `warmup` share of the steps, then follows `schedule`:
    `linear` decay to 0, `cosine` decay to 0, or `constant`.
    """
    if schedule not in SCHEDULES:
        raise ValueError(f"train_groups: schedule must be one of {sorted(SCHEDULES)}, not {schedule!r}")
    if not 0 <= warmup < 1:
        raise ValueError(f"train_groups: warmup is a share of the steps in [0, 1), not {warmup!r}")
    if head_lr is not None and head_lr <= 0:
        raise ValueError(f"train_groups: head_lr must be positive (or None), not {head_lr!r}")
    args = TrainingArguments(
        output_dir=output_dir, per_device_train_batch_size=groups_per_step, num_train_epochs=1,
        learning_rate=lr, warmup_steps=warmup, weight_decay=weight_decay, lr_scheduler_type=SCHEDULES[schedule],
        logging_steps=max(1, len(groups) // groups_per_step // 10), save_strategy="no", report_to="none",
        remove_unused_columns=False, seed=seed, data_seed=seed, use_cpu=device == "cpu",
        dataloader_num_workers=0, optim="adamw_torch_fused", disable_tqdm=False, **trainer_flags(precision), **parallel.trainer_flags(),
    )
    callback = EvalEvery(evaluate, eval_every) if evaluate is not None else None
    trainer = GroupTrainer(model=model, args=args, train_dataset=GroupDataset(groups),
                           data_collator=GroupCollator(pad_id, segment_after), loss_fn=loss_fn, head_lr=head_lr,
                           callbacks=[*([callback] if callback else []), *callbacks] or None)
    plain_progress(trainer)
    trainer.train()
    return (callback.history if callback else []), trainer.state.global_step


def budget_groups(groups: Sequence[Group], group_size: int, seed: int, *, epochs: int | None = None,
                  steps: int | None = None, groups_per_step: int = 1) -> list[Group]:
    """Sampled groups for `epochs` passes, or for exactly `steps` optimiser steps (as many passes as
    that takes, cut at `steps * groups_per_step` groups): the same seed gives the same order."""
    if (epochs is None) == (steps is None):
        raise ValueError("budget_groups: give exactly one of epochs or steps")
    if epochs is not None:
        return sample_groups(groups, group_size, epochs, seed)
    usable = sum(len(g.targets) > 1 for g in groups)
    if usable == 0:
        raise ValueError("budget_groups: no group has two candidates")
    need = steps * groups_per_step
    return sample_groups(groups, group_size, -(-need // usable), seed)[:need]


def fit_ranker(model: torch.nn.Module, tokenizer, groups_df: pd.DataFrame, params, *, seed: int, device: str,
               output_dir: str, target: str = "gain", dev_df: pd.DataFrame | None = None,
               loss_fn: Callable | None = None, steps: int | None = None,
               qrels: pd.DataFrame | None = None, precision: str = "fp32",
               sampler: Callable[[list[Group]], Sequence[Group]] | None = None,
               callbacks: Sequence[TrainerCallback] = ()) -> tuple[list[dict], int]:
    """Train a ranker (teacher or student) on a candidates frame grouped by query.

    `params` has max_len, group_size, groups_per_step, lr, eval_every, curve_queries, batch_size,
    and either `epochs` and `loss` (`RankTrainParams`) or `steps` (`DistillParams`, with `loss_fn`
    given). Lists are tokenised once (`rankers.encode_frame`). With `dev_df`, dev NDCG@5 and PNR
    are measured every `eval_every` steps on the lists `curve_rows` picks (NDCG against `qrels` when
    given). `sampler` turns the query groups into the sequence the loop reads (default: seeded
    passes, `budget_groups`); `callbacks` go to the Trainer. Returns that learning curve and the
    number of steps.
    """
    sequences = encode_frame(tokenizer, groups_df, params.max_len, is_decoder(model))
    segments = segment_token(model, tokenizer)
    by_query = groups_from_frame(groups_df, sequences, target)
    if sampler is not None:
        groups = sampler(by_query)
    else:
        budget = {"steps": steps, "groups_per_step": params.groups_per_step} if steps is not None else {"epochs": params.epochs}
        groups = budget_groups(by_query, params.group_size, seed, **budget)
    evaluate = None
    if dev_df is not None:
        curve_df = dev_df[curve_rows(dev_df, params.curve_queries, seed)].reset_index(drop=True)
        curve_seqs = encode_frame(tokenizer, curve_df, params.max_len, is_decoder(model))

        def evaluate(m: torch.nn.Module) -> dict:
            return dev_point(curve_df, score_pairs(m, curve_seqs, tokenizer.pad_token_id, params.batch_size, device, desc="dev",
                                                   segment_after=segments, precision=precision), qrels)

    return train_groups(model, groups, loss_fn if loss_fn is not None else losses.make_loss(params.loss),
                        tokenizer.pad_token_id, output_dir=output_dir, segment_after=segments, lr=params.lr,
                        groups_per_step=params.groups_per_step, seed=seed, device=device, precision=precision,
                        evaluate=evaluate, eval_every=params.eval_every, callbacks=callbacks,
                        head_lr=getattr(params, "head_lr", None), schedule=getattr(params, "schedule", "linear"),
                        warmup=getattr(params, "warmup", 0.1))


def curve_rows(dev_df: pd.DataFrame, n_queries: int | None, seed: int) -> np.ndarray:
    """Which rows of `dev_df` the learning curve reads (a boolean mask): the lists of `n_queries`
    of its queries (a seeded subset, the same for every system of a profile), or all of them when
    `n_queries` is None or not smaller than the number of dev queries."""
    if n_queries is None or n_queries >= dev_df.query_id.nunique():
        return np.ones(len(dev_df), dtype=bool)
    return dev_df.query_id.isin(pick_queries(dev_df.query_id, n_queries, seed)).to_numpy()


def dev_references(dev: pd.DataFrame, qrels: pd.DataFrame, teacher: str, teacher_col: str, curve_queries: int | None, seed: int) -> dict[str, float]:
    """Dev NDCG@5 of the teacher, BM25 and `random` on the dev queries the learning curves read
    (`training.curve_rows`): the curves' reference lines, on the same queries as the curves."""
    d = dev[curve_rows(dev, curve_queries, seed)]
    ndcg = lambda df, col: metrics.aggregate(metrics.evaluate_candidates(df, score=col, qrels=qrels), "ndcg@5")  # noqa: E731
    return {f"{teacher} (dev)": ndcg(d, teacher_col), "bm25 (dev)": ndcg(d, "bm25_score"),
            "random (dev)": metrics.aggregate(metrics.evaluate_references(d, qrels, seed=seed)["random"], "ndcg@5")}


def dev_point(dev_df: pd.DataFrame, scores: np.ndarray, qrels: pd.DataFrame | None = None) -> dict[str, float]:
    """One learning-curve point: dev NDCG@5 and PNR of `scores` on the dev candidates."""
    per = metrics.evaluate_candidates(dev_df.assign(score=scores), qrels=qrels)
    return {"dev ndcg@5": metrics.aggregate(per, "ndcg@5"), "dev pnr": metrics.aggregate(per, "pnr")}


def steps_to_reach(history: Sequence[dict], target: float, key: str = "dev ndcg@5") -> float | None:
    """A rough extrapolation: the step at which a learning curve would reach `target`, from a
    least-squares line of `key` against log(step) over the curve's points (step > 0).

    None when the curve has fewer than two points or is not rising, or when the line reaches
    `target` at or before the curve's last step although no measured point did (the fit then says
    nothing about the steps beyond); the step itself when the curve already reached `target`. A
    log-linear curve is optimistic far beyond the measured steps: read the answer as an order of
    magnitude.
    """
    pts = [(h["step"], h[key]) for h in history if h.get("step", 0) > 0 and np.isfinite(h.get(key, np.nan))]
    if len(pts) < 2:
        return None
    reached = [s for s, v in pts if v >= target]
    if reached:
        return float(min(reached))
    x, y = np.log([p[0] for p in pts]), np.array([p[1] for p in pts])
    slope, intercept = np.polyfit(x, y, 1)
    if slope <= 0:
        return None
    step = float(np.exp((target - intercept) / slope))
    return step if step > max(p[0] for p in pts) else None


CURVE_FILE = "learning_curve.json"


def load_curve(scores_dir: str | Path) -> dict:
    """What `train_system` cached beside a system's scores: `steps` taken, the learning curve
    (`history`: dev points by step) and `timing` (minutes)."""
    path = Path(scores_dir) / CURVE_FILE
    if not path.is_file():
        raise FileNotFoundError(f"no learning curve at {path}: run the notebook that trains this system")
    return json.loads(path.read_text())


@dataclass
class TrainedSystem:
    """A trained ranker with its tokenizer, dev/test scores, learning curve and timings."""

    model: torch.nn.Module
    tokenizer: object
    scores: dict[str, np.ndarray]
    history: list[dict]
    timing: dict[str, float]


def seed_settings(params, eval_frames: dict[str, pd.DataFrame], first: bool, keep_dev: bool = False) -> tuple[object, dict[str, pd.DataFrame]]:
    """What one training seed measures: the first keeps `params` (its dev learning curve) and every
    frame of `eval_frames`; a further seed draws no curve (`eval_every` 0) and scores dev only when
    `keep_dev` (notebook 04 fits each seed's `+bm25` fusion on its dev scores)."""
    if first:
        return params, eval_frames
    return params.model_copy(update={"eval_every": 0}), {k: v for k, v in eval_frames.items() if keep_dev or k != "dev"}


def train_system(model: torch.nn.Module, tokenizer, groups_df: pd.DataFrame, params, eval_frames: dict[str, pd.DataFrame], *,
                 seed: int, device: str, work_dir: str, save_to: str | None = None, scores_to: str | None = None,
                 target: str = "gain", loss_fn: Callable | None = None, steps: int | None = None,
                 qrels: pd.DataFrame | None = None, precision: str = "fp32",
                 sampler: Callable[[list[Group]], Sequence[Group]] | None = None,
                 callbacks: Sequence[TrainerCallback] = ()) -> TrainedSystem:
    """Train a ranker on `groups_df`, score every frame of `eval_frames`, save model and scores.

    The learning curve reads `eval_frames["dev"]` when present; its end point comes from the dev
    scores computed here, not from a second pass over dev. `save_to` gets the model and tokenizer
    (`save_ranker`), `scores_to` the cached scores (`save_scores`) and the learning curve
    (`learning_curve.json` inside it, read back by `load_curve`). `loss_fn` and `steps` go to
    `fit_ranker`, `qrels` (every judgment) to the learning curve's NDCG, `precision` to training
    and scoring alike (and to the cache, which records it), `sampler` and `callbacks` (a
    curriculum) to `fit_ranker`.
    """
    label = Path(scores_to or save_to).name if (scores_to or save_to) else ""
    with progress.task(label):  # the live progress lines in the terminal name the model (distilrank.progress)
        start = time.perf_counter()
        dev_df = eval_frames.get("dev")
        history, taken = fit_ranker(model, tokenizer, groups_df, params, seed=seed, device=device, output_dir=work_dir,
                                    target=target, dev_df=dev_df, loss_fn=loss_fn, steps=steps, qrels=qrels, precision=precision,
                                    sampler=sampler, callbacks=callbacks)
        model = finetune.merge(model)  # LoRA adapters (a teacher trained with llm.finetune lora) into the weights
        trained = time.perf_counter()
        scores = {name: score_candidates(model, tokenizer, df, params.max_len, params.batch_size, device, desc=name,
                                         precision=precision)
                  for name, df in eval_frames.items()}
        if dev_df is not None and (not history or history[-1]["step"] != taken):
            rows = curve_rows(dev_df, params.curve_queries, seed)
            history.append({"step": taken, **dev_point(dev_df[rows], scores["dev"][rows], qrels)})
        if save_to is not None:
            save_ranker(model, tokenizer, save_to, max_len=params.max_len)
        if scores_to is not None:
            save_scores({name: df.assign(score=scores[name]) for name, df in eval_frames.items()}, scores_to, precision=precision)
        timing = {"train minutes": (trained - start) / 60, "total minutes": (time.perf_counter() - start) / 60}
        if scores_to is not None:
            write_json({"steps": taken, "history": history, "timing": timing}, Path(scores_to) / CURVE_FILE)
        return TrainedSystem(model, tokenizer, scores, history, timing)


def launched_system(p: parallel.Plan, spec: parallel.ModelSpec, tokenizer_path: str | Path, groups_df: pd.DataFrame, params: Any,
                    eval_frames: dict[str, pd.DataFrame], *, seed: int, work_dir: str, save_to: str | Path | None = None,
                    scores_to: str | Path | None = None, target: str = "gain", loss: parallel.LossSpec | None = None,
                    steps: int | None = None, qrels: pd.DataFrame | None = None, precision: str = "fp32",
                    probe: str | Path | None = None) -> TrainedSystem:
    """`train_system` on `p`'s processes: the same model (`spec`), groups, settings and seed; DDP
    training (gradients averaged, the dev learning curve measured by rank 0), the trained model
    saved by rank 0, every frame of `eval_frames` scored in shards and merged. The model is read
    back, then saved and cached exactly as in one process (`save_to`, `scores_to`, the learning
    curve beside the scores). `probe` (a folder) keeps each rank's first batch and the first step's
    averaged gradient (`FirstStepProbe`): how the tests compare it with one process."""
    request = {"spec": spec, "tokenizer_path": tokenizer_path, "groups_df": groups_df, "params": params, "eval_frames": eval_frames,
               "seed": seed, "save_to": save_to, "scores_to": scores_to, "target": target, "loss": loss, "steps": steps,
               "qrels": qrels, "precision": precision, "probe": probe}
    return launched_systems(p, [request], work_dir)[0]


def system_label(request: dict) -> str:
    """What a launched system is called (its score cache's or saved model's folder name)."""
    where = request.get("scores_to") or request.get("save_to")
    return Path(where).name if where else "ranker"


def launched_systems(p: parallel.Plan, requests: Sequence[dict], work_dir: str | Path, name: str | None = None) -> list[TrainedSystem]:
    """Several `launched_system`s (each request: its keyword arguments but `work_dir`) trained one
    after the other in one launch, `work_dir/launch/<name>/<system>/` each (`name`: the one
    system's, by default): the processes start once for all of them."""
    labels = [system_label(r) for r in requests]
    if len(set(labels)) != len(labels):
        raise ValueError(f"launched_systems: two systems under one name in {labels}")
    launch_dir = parallel.fresh_dir(Path(work_dir) / "launch" / (name or labels[0]))
    store = parallel.FrameStore(launch_dir / "frames")  # a frame the systems share is written once
    jobs = []
    for label, r in zip(labels, requests, strict=True):
        folder = launch_dir / label
        qrels = r.get("qrels")
        jobs.append({"label": label, "job_dir": str(folder), "model": asdict(r["spec"]), "tokenizer": str(r["tokenizer_path"]),
                     "groups": store(r["groups_df"]), "params": parallel.params_json(r["params"]),
                     "frames": {f: store(df) for f, df in r["eval_frames"].items()}, "qrels": store(qrels) if qrels is not None else None,
                     "seed": r["seed"], "target": r.get("target", "gain"), "loss": asdict(r["loss"]) if r.get("loss") else None,
                     "steps": r.get("steps"), "precision": r.get("precision", "fp32"), "output_dir": str(folder / "trainer"),
                     "probe": str(r["probe"]) if r.get("probe") else None})
    parallel.launch(p, {"task": "train", "label": name or labels[0], "systems": jobs}, launch_dir)
    systems = [collected(p, Path(job["job_dir"]), r) for job, r in zip(jobs, requests, strict=True)]
    store.clear()
    return systems


def collected(p: parallel.Plan, folder: Path, request: dict) -> TrainedSystem:
    """One launched system read back from its folder and put where `train_system` puts it: the
    model (saved to `save_to`), its merged scores (cached under `scores_to` with the learning
    curve, whose end point on dev is computed here as in one process) and its timings (the
    processes' own: training, and training plus saving and scoring)."""
    from distilrank.rankers import load_ranker

    params, eval_frames, qrels, seed = request["params"], request["eval_frames"], request.get("qrels"), request["seed"]
    precision = request.get("precision", "fp32")
    model, tokenizer = load_ranker(folder / "model")
    shutil.rmtree(folder / "model")  # read back: saved again below where the single-process path saves it (a 7B copy less on disk)
    result = json.loads((folder / "result.json").read_text())
    history, taken = result["history"], result["steps"]
    scores = parallel.merge_shards(folder, {name: len(df) for name, df in eval_frames.items()}, p.processes)
    dev_df = eval_frames.get("dev")
    if dev_df is not None and (not history or history[-1]["step"] != taken):
        rows = curve_rows(dev_df, params.curve_queries, seed)
        history.append({"step": taken, **dev_point(dev_df[rows], scores["dev"][rows], qrels)})
    if request.get("save_to") is not None:
        save_ranker(model, tokenizer, request["save_to"], max_len=params.max_len)
    timing = {"train minutes": result["train seconds"] / 60, "total minutes": result["total seconds"] / 60}
    if request.get("scores_to") is not None:
        save_scores({name: df.assign(score=scores[name]) for name, df in eval_frames.items()}, request["scores_to"], precision=precision)
        write_json({"steps": taken, "history": history, "timing": timing}, Path(request["scores_to"]) / CURVE_FILE)
    return TrainedSystem(model, tokenizer, scores, history, timing)


class FirstStepProbe:
    """What the tests compare with one process: each rank's first batch (the model's inputs via a
    forward pre-hook, the targets and mask via the loss) and, on rank 0, the first step's
    gradients once DDP averaged them (`on_pre_optimizer_step`, after Trainer's clipping)."""

    def __init__(self, model: torch.nn.Module, loss_fn: Callable, folder: str | Path, rank: int) -> None:
        self.folder, self.rank, self.loss_fn, self.batch = Path(folder), rank, loss_fn, {}
        self.folder.mkdir(parents=True, exist_ok=True)
        self.hook = model.register_forward_pre_hook(self._inputs, with_kwargs=True)
        probe = self

        class Gradients(TrainerCallback):
            def on_pre_optimizer_step(self, args, state, control, model=None, **kwargs):
                if state.global_step == 0 and probe.rank == 0:
                    torch.save({n: p.grad.detach().cpu().clone() for n, p in model.named_parameters() if p.grad is not None},
                               probe.folder / "grads.pt")

        self.callback = Gradients()

    def _inputs(self, module, args, kwargs):
        self.batch.update({k: v.detach().cpu() for k, v in kwargs.items() if isinstance(v, torch.Tensor)})
        self.hook.remove()

    def __call__(self, scores: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        if "targets" not in self.batch:
            self.batch.update(targets=targets.detach().cpu(), mask=mask.detach().cpu())
            torch.save(self.batch, self.folder / f"batch.rank{self.rank}.pt")
        return self.loss_fn(scores, targets, mask)


def train_task(job: dict, state) -> None:
    """A launched process's share of `launched_systems`: each system in turn (`train_one_task`)."""
    for system in job["systems"]:
        with progress.task(system["label"]):
            train_one_task(system, state)


def train_one_task(job: dict, state) -> None:
    """One launched system on this process: the model `job["model"]` describes, trained by
    `fit_ranker` under the Trainer's DDP (the dev learning curve on rank 0 only), adapters merged,
    saved by rank 0 (`model/`); then this process's share of every evaluation frame scored
    (`parallel.shard_bounds`) and written as its shard; rank 0 writes `result.json` last."""
    from transformers import AutoTokenizer

    from distilrank.launch_jobs import device_of

    rank, device = state.process_index, device_of(state)
    params = parallel.read_params(job["params"])
    model = parallel.ModelSpec(**job["model"]).build()
    tokenizer = AutoTokenizer.from_pretrained(job["tokenizer"])
    frames = {name: pd.read_parquet(path) for name, path in job["frames"].items()}
    qrels = pd.read_parquet(job["qrels"]) if job["qrels"] else None
    loss_fn = losses.make_loss(job["loss"]["name"], **job["loss"]["kwargs"]) if job["loss"] else losses.make_loss(params.loss)
    callbacks = []
    if job.get("probe"):
        probe = FirstStepProbe(model, loss_fn, job["probe"], rank)
        loss_fn, callbacks = probe, [probe.callback]
    start = time.perf_counter()
    history, taken = fit_ranker(model, tokenizer, pd.read_parquet(job["groups"]), params, seed=job["seed"], device=device,
                                output_dir=job["output_dir"], target=job["target"], dev_df=frames.get("dev") if rank == 0 else None,
                                loss_fn=loss_fn, steps=job["steps"], qrels=qrels, precision=job["precision"], callbacks=callbacks)
    seconds = time.perf_counter() - start
    model = finetune.merge(model)
    if rank == 0:
        save_ranker(model, tokenizer, Path(job["job_dir"]) / "model", max_len=params.max_len)
    for name, df in frames.items():
        lo, hi = parallel.shard_bounds(len(df), state.num_processes, rank)
        scores = (score_candidates(model, tokenizer, df.iloc[lo:hi], params.max_len, params.batch_size, device, desc=name,
                                   precision=job["precision"]) if hi > lo else [])
        parallel.write_shard(job["job_dir"], name, rank, scores)
    if rank == 0:
        write_json({"history": history, "steps": taken, "train seconds": seconds, "total seconds": time.perf_counter() - start},
                   Path(job["job_dir"]) / "result.json")
