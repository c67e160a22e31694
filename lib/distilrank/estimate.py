"""What a profile costs on a GPU, estimated from model size and token counts (not measured).

Time is the FLOPs a stage does (`timing.forward_flops` per forward pass; training adds the
backward pass: twice the forward for full fine-tuning, about once for LoRA, whose frozen weights
need no gradients; gradient checkpointing adds one more forward) divided by the GPU's dense bf16
peak times a model-FLOPs utilisation (MFU, 0.35 by default: typical of well-fed transformer
training, optimistic for short sequences). Memory is the weights and optimiser state (full
fine-tuning: fp32 weights, gradients and two AdamW moments, 16 bytes per parameter; a frozen bf16
backbone: 2) plus activations after Korthikanti et al. (2022): s*b*h*(34 + 5*a*s/h) bytes per layer
in 16-bit, only the layer inputs kept under checkpointing, plus the LM head's fp32 logits in CPT.
Read the answers as orders of magnitude; `python -m distilrank.estimate params/paper.yaml` prints
the table docs/paper-profile.md describes.

With `--gpus N` (`parallel.processes`, docs/scaling.md), the stages notebooks 02-04 launch on N
processes (CPT, the teachers' fine-tuning and scores, the students) take 1/N of the wall time at
`DP_EFFICIENCY` (gradient all-reduce and the stragglers of a sharded loop); the global batch is N
times the profile's, so training takes N times fewer steps and the teachers' learning curves N
times fewer points (measured on rank 0 while the others wait: not divided). What stays in one
process (02's likelihood measurements, notebooks 07 and 08) does not scale. Memory is per GPU:
DDP keeps a whole copy on each; FSDP (`teacher_strategy: fsdp`) shards the decoder's weights,
gradients and optimiser state over the N GPUs (activations are not sharded).
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import replace as dataclass_replace
from typing import Any

import torch
from transformers import AutoModel, PretrainedConfig

from distilrank import grid_cells
from distilrank.timing import SHAPES, forward_flops

GPU_BF16_PEAK = {"A100 80GB": 312e12, "H100 80GB": 989e12, "A10 24GB": 125e12}  # dense bf16 tensor-core FLOP/s
GPU_MEMORY_GB = {"A100 80GB": 80, "H100 80GB": 80, "A10 24GB": 24}
MFU = 0.35
DP_EFFICIENCY = 0.9  # share of N-fold speed-up a data-parallel stage keeps (all-reduce, uneven shards), assumed


@dataclass(frozen=True)
class Stage:
    """One stage's work: `sequences` passes of `seq_len` tokens through `shape`, trained or scored,
    `batch` sequences at a time."""

    name: str
    shape: str
    train: bool
    sequences: int
    seq_len: int
    batch: int
    lora: bool = False
    checkpointing: bool = False
    lm_head: bool = False
    launched: bool = False  # runs on `parallel.processes` processes (notebooks 02-04's training and scoring)


def n_params(shape: str) -> int:
    """Parameters of a named architecture (built on the meta device: no memory)."""
    with torch.device("meta"):
        return sum(p.numel() for p in AutoModel.from_config(SHAPES[shape]()).parameters())


def pass_factor(stage: Stage) -> float:
    """FLOPs of a step as a multiple of the forward pass."""
    if not stage.train:
        return 1.0
    return (2.0 if stage.lora else 3.0) + (1.0 if stage.checkpointing else 0.0)


def activation_bytes(config: PretrainedConfig, stage: Stage) -> float:
    """Activation memory of one batch (16-bit), Korthikanti et al. (2022)."""
    s, b, h, a, layers = stage.seq_len, stage.batch, config.hidden_size, config.num_attention_heads, config.num_hidden_layers
    per_layer = s * b * h * (34 + 5 * a * s / h)
    if not stage.train:
        return per_layer  # inference keeps one layer's activations at a time
    acts = layers * s * b * h * 2 + per_layer if stage.checkpointing else layers * per_layer
    if stage.lm_head:
        acts += 2 * s * b * config.vocab_size * 4  # fp32 logits and their gradient
    return acts


def estimate(stage: Stage, gpu: str = "A100 80GB", mfu: float = MFU, gpus: int = 1, strategy: str = "ddp") -> dict[str, Any]:
    """Tokens, FLOPs, wall hours and peak memory per GPU of a stage on `gpus` of `gpu`: a launched
    stage's time divided by `gpus` (at `DP_EFFICIENCY`), and with `strategy` "fsdp" a launched
    decoder stage's weights and optimiser state divided by `gpus` too."""
    config = SHAPES[stage.shape]()
    flops = forward_flops(config, stage.seq_len, stage.sequences) * pass_factor(stage)
    params = n_params(stage.shape)
    weight_bytes = (2 if stage.lora or not stage.train else 16) * params
    split = stage.launched and gpus > 1
    if split and strategy == "fsdp" and stage.shape.startswith("llm"):
        weight_bytes /= gpus
    memory = weight_bytes + activation_bytes(config, stage)
    hours = flops / (GPU_BF16_PEAK[gpu] * mfu) / 3600
    return {"stage": stage.name, "model": stage.shape, "sequences": stage.sequences, "tokens (M)": stage.sequences * stage.seq_len / 1e6,
            "PFLOP": flops / 1e15, "GPUs": gpus if split else 1, "hours": hours / (gpus * DP_EFFICIENCY) if split else hours,
            "memory (GB)": memory / 1e9}


def profile_stages(cfg: Any, teacher_shape: str = "llm-7b", student_shapes: dict[str, str] | None = None,
                   cpt_examples_per_query: float = 1.06, n_queries: int | None = None, gpus: int = 1) -> list[Stage]:
    """The stages of a profile (notebooks 02, 03, 04, 07, 08) as work: sequence counts from its sizes.

    Training queries are `data.max_queries` less test and dev (or `split.n_train`); CPT has
    `cpt_examples_per_query` clicked documents per training query (MS MARCO's judged training
    queries have 1.06 relevant passages each), up to `cpt.max_examples`; the transfer set is
    `prep.train_depth` candidates per training query, dev and test `prep.eval_depth`. Every
    sequence is counted at the stage's `max_len` (batches are padded to their longest member, and
    most pairs are shorter: an upper bound); notebook 07's new teacher pairs count a dense or fused
    list as all new (an upper bound too). `n_queries` (judged queries of your collection) stands
    in for `data.max_queries`. With `gpus` above 1 the stages notebooks 02-04 launch are marked
    `launched`, and the teachers' learning curves have `gpus` times fewer points (N times fewer steps)."""
    n_queries = n_queries or cfg.data.max_queries
    if n_queries is None:
        raise ValueError("estimate: give the number of judged queries (--queries N) or set data.max_queries")
    n_train = n_queries - cfg.split.n_test - cfg.split.n_dev
    n_train = min(n_train, cfg.split.n_train) if cfg.split.n_train else n_train
    n_dev, n_eval = cfg.split.n_dev, cfg.split.n_test + cfg.split.n_dev
    students = student_shapes or {"bert12": "bert-12", "bert6": "bert-6"}
    llm, t, d, depth = cfg.llm, cfg.teacher, cfg.distill, cfg.prep.eval_depth
    lora = llm.finetune != "full"
    variants = len(cfg.cpt.variants)
    cpt_examples = min(cfg.cpt.max_examples or 10**12, int(n_train * cpt_examples_per_query)) + cfg.cpt.pseudo_examples
    teacher_steps = n_train * t.epochs // t.groups_per_step
    curve_points = teacher_steps // gpus // t.eval_every if t.eval_every else 0
    curve_pairs = min(t.curve_queries or n_dev, n_dev) * depth
    stages = [
        Stage("02 CPT", teacher_shape, True, variants * int(cpt_examples * cfg.cpt.epochs), cfg.cpt.max_len, cfg.cpt.batch_size,
              lora, llm.gradient_checkpointing, lm_head=True, launched=True),
        Stage("02 dev likelihood ranking, before and after CPT", teacher_shape, False, variants * 2 * n_dev * depth,
              cfg.cpt.max_len, t.batch_size),
        Stage("03 teacher fine-tuning (with and without CPT)", teacher_shape, True, (variants + 1) * n_train * t.epochs * t.group_size,
              t.max_len, t.group_size * t.groups_per_step, lora, llm.gradient_checkpointing, launched=True),
        Stage(f"03 teacher learning curves ({curve_points} dev points each)", teacher_shape, False,
              (variants + 1) * curve_points * curve_pairs, t.max_len, t.batch_size),
        Stage("03 teacher scores: transfer set, dev/test", teacher_shape, False,
              n_train * cfg.prep.train_depth + (variants + 1) * n_eval * depth, t.max_len, t.batch_size, launched=True),
    ]
    d_steps = -(-d.epochs * (n_train + d.pseudo_groups) // d.groups_per_step)  # students.budget_steps
    core = (5 if d.no_llm_student else 4) * d.seeds + len(d.recipes)  # labels, point, margin, hybrid (, no-llm) x seeds, + the recipes tried on dev
    for name in cfg.models.students:
        stages.append(Stage(f"04 {name}: {core} students (labels, point, margin, hybrid{', no-llm' if d.no_llm_student else ''} x {d.seeds} seeds; "
                            f"{len(d.recipes)} recipes on dev)", students.get(name, "bert-12"), True,
                            core * d_steps * d.groups_per_step * d.group_size, d.max_len, d.group_size * d.groups_per_step, launched=True))
    rd = cfg.rank_distillm
    cells = grid_cells.selected_cells(rd)
    new_pairs = n_train * sum(max(0, k - cfg.prep.train_depth) if stage == "bm25" else k for stage, k in grid_cells.stage_depths(cells).items())
    stages.append(Stage("07 teacher scores: first-stage lists beyond the transfer set", teacher_shape, False, new_pairs, t.max_len, t.batch_size))
    stages.append(Stage(f"07 {len(cells)} grid students", students.get("bert6", "bert-6"), True,
                        len(cells) * rd.steps * rd.groups_per_step * rd.group_size, rd.max_len, rd.group_size * rd.groups_per_step))
    c = cfg.curriculum
    stages.append(Stage(f"08 four curriculum students x {c.seeds} seeds", students.get("bert6", "bert-6"), True,
                        4 * c.seeds * c.steps * d.groups_per_step * d.group_size, c.max_len or d.max_len, d.group_size * d.groups_per_step))
    return stages


def lora_note(cfg: Any, gpu: str, gpus: int, teacher_shape: str = "llm-7b") -> str:
    """Where LoRA makes DDP enough: the teacher fine-tuning's memory per GPU with LoRA and with full
    fine-tuning, under DDP and under FSDP over `gpus`, against `gpu`'s memory."""
    stage = next(s for s in profile_stages(cfg, teacher_shape, n_queries=cfg.data.max_queries or 10**4, gpus=gpus)
                 if s.name.startswith("03 teacher fine-tuning"))
    cap = GPU_MEMORY_GB[gpu]
    rows = []
    for lora in (True, False):
        s = dataclass_replace(stage, lora=lora, launched=True)
        ddp, fsdp = (estimate(s, gpu, gpus=max(gpus, 2), strategy=k)["memory (GB)"] for k in ("ddp", "fsdp"))
        rows.append(f"{'LoRA' if lora else 'full fine-tuning'}: {ddp:.0f} GB per GPU under DDP"
                    f"{' (fits)' if ddp < cap else ' (does not fit)'}, {fsdp:.0f} GB under FSDP over {max(gpus, 2)}"
                    f"{' (fits)' if fsdp < cap else ' (does not fit)'}")
    return (f"The {teacher_shape} teacher's fine-tuning on {gpu} ({cap} GB): " + "; ".join(rows)
            + ". With LoRA the trainable state is small and a bf16 copy of the frozen decoder fits every GPU: DDP is enough; "
            "full fine-tuning needs FSDP's sharding.")


def main(argv: list[str] | None = None) -> int:
    """`python -m distilrank.estimate params/paper.yaml [GPU] [--queries N] [--gpus N] [--strategy ddp|fsdp]`: the
    estimate table, as markdown."""
    import argparse
    import sys

    import pandas as pd

    from distilrank.config import load_params
    from distilrank.formats import markdown_table

    ap = argparse.ArgumentParser(prog="python -m distilrank.estimate", description="GPU time and memory per stage, estimated")
    ap.add_argument("params", help="a params file, e.g. params/paper.yaml")
    ap.add_argument("gpu", nargs="?", default="A100 80GB", choices=list(GPU_BF16_PEAK))
    ap.add_argument("--queries", type=int, default=None, help="judged queries of the collection (default: data.max_queries)")
    ap.add_argument("--gpus", type=int, default=1, help="GPUs of the node: notebooks 02-04's training and scoring on that many processes")
    ap.add_argument("--strategy", choices=["ddp", "fsdp"], default=None, help="the teacher's (default: the profile's parallel.teacher_strategy)")
    args = ap.parse_args(sys.argv[1:] if argv is None else argv)
    gpu = args.gpu
    if args.gpus < 1:
        print("--gpus must be at least 1", file=sys.stderr)
        return 2
    try:
        cfg = load_params(args.params)
        stages = profile_stages(cfg, n_queries=args.queries, gpus=args.gpus)
    except ValueError as err:
        print(err, file=sys.stderr)
        return 2
    strategy = args.strategy or cfg.parallel.teacher_strategy
    table = pd.DataFrame([estimate(s, gpu, gpus=args.gpus, strategy=strategy) for s in stages]).set_index("stage")
    where = f"one {gpu}" if args.gpus == 1 else f"{args.gpus} x {gpu} (the teacher under {strategy.upper()}, students under DDP)"
    print(f"Estimate (not measured) for {args.params} on {where}: dense bf16 peak {GPU_BF16_PEAK[gpu] / 1e12:.0f} TFLOP/s at "
          f"{MFU:.0%} MFU{f', {DP_EFFICIENCY:.0%} data-parallel efficiency' if args.gpus > 1 else ''}; "
          "memory per GPU = weights + optimiser state + one batch's activations.\n")
    shown = table.assign(**{"sequences": table["sequences"].map("{:,}".format), "tokens (M)": table["tokens (M)"].map("{:,.0f}".format),
                            "PFLOP": table["PFLOP"].map("{:,.0f}".format), "hours": table["hours"].map("{:.1f}".format),
                            "memory (GB)": table["memory (GB)"].map("{:.0f}".format)})
    if args.gpus == 1:
        shown = shown.drop(columns="GPUs")
    print(markdown_table(shown, "stage"))
    if args.gpus == 1:
        print(f"\ntotal: {table['hours'].sum():.1f} GPU hours")
    else:
        print(f"\ntotal: {table['hours'].sum():.1f} hours of wall time on {args.gpus} GPUs "
              f"({(table['hours'] * table['GPUs']).sum():.1f} GPU hours)")
        if cfg.data.max_queries or args.queries:
            print("\n" + lora_note(cfg, gpu, args.gpus))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
