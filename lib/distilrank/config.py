"""Run profiles: `params/<profile>.yaml`, validated strictly when loaded.

A profile is the one place a run is configured. Every key is declared here; an unknown or missing
key, a wrong type or a data path that does not exist raises one `ParamsError` that names the file
and each offending key. Notebooks get their profile through papermill (`-f params/<p>.yaml`) and
call `notebook_params(globals())`, which reads the file named by `profile` and applies whatever
papermill injected on top of it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal, get_args

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from distilrank.paths import ROOT, resolve


class ParamsError(ValueError):
    """A params file (or papermill's injected parameters) is not a valid profile."""


def _wants_float(annotation: Any) -> bool:
    """Whether a field's type holds floats (float, float | None, dict[str, float], list[float])."""
    return annotation is float or any(_wants_float(a) for a in get_args(annotation))


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _scientific(cls, data: Any) -> Any:
        """`5e-5` in a float field is the float it means (see `scientific_floats`)."""
        if not isinstance(data, dict):
            return data
        return {k: scientific_floats(v) if k in cls.model_fields and _wants_float(cls.model_fields[k].annotation) else v
                for k, v in data.items()}


class DataParams(_Section):
    """Where the collection comes from (`distilrank.data`).

    `trec` reads your own collection in the common research format: `docs` (JSONL with `doc_id`,
    `title`, `text`), `queries` (TSV `query_id<TAB>text`, or JSONL with `query_id`, `text`) and
    `qrels` (TREC format: `query_id 0 doc_id gain`). Relative paths are taken from the repository
    root; absolute paths work from anywhere.
    """

    source: Literal["cranfield", "ir_datasets", "clicklog", "trec"]
    path: str | None = Field(None, description="cranfield folder or clicklog JSONL file")
    docs: str | None = Field(None, description="trec: documents JSONL (doc_id, title, text)")
    queries: str | None = Field(None, description="trec: queries TSV or JSONL (query_id, text)")
    qrels: str | None = Field(None, description="trec: judgments in TREC qrels format")
    ir_datasets_id: str | None = None
    verify_checksums: bool = True
    max_queries: int | None = Field(None, ge=1, description="subsample queries (large sources)")

    @model_validator(mode="after")
    def _source_needs(self) -> DataParams:
        files = {"path": self.path} if self.source in ("cranfield", "clicklog") else {}
        if self.source == "trec":
            files = {"docs": self.docs, "queries": self.queries, "qrels": self.qrels}
        elif self.docs or self.queries or self.qrels:
            raise ValueError("docs, queries and qrels apply to source 'trec' only")
        for key, value in files.items():
            if value is None:
                raise ValueError(f"source '{self.source}' needs data.{key}")
            if not resolve(value).exists():
                raise ValueError(f"data.{key} does not exist: {value} (resolved to {resolve(value)})")
        if self.source == "ir_datasets" and not self.ir_datasets_id:
            raise ValueError("source 'ir_datasets' needs data.ir_datasets_id")
        if self.source != "ir_datasets" and (self.ir_datasets_id or self.max_queries):
            raise ValueError("ir_datasets_id and max_queries apply to source 'ir_datasets' only")
        return self


class SplitParams(_Section):
    """Deterministic query split (`distilrank.stages.data_prep.split_queries`)."""

    n_test: int = Field(ge=1)
    n_dev: int = Field(ge=0)
    n_train: int | None = Field(None, ge=1, description="cap on training queries (None: all the rest)")


class BM25Params(_Section):
    """First-stage retrieval with bm25s (`distilrank.bm25`)."""

    k1: float = Field(1.2, gt=0)
    b: float = Field(0.75, ge=0, le=1)
    stopwords: str | None = "en"
    stemmer: str | None = Field("english", description="PyStemmer language, or null for none")


class PrepParams(_Section):
    """What notebook 01 builds from the collection (`distilrank.stages.data_prep`)."""

    cpt_min_gain: int = Field(2, ge=1, description="'clicked' = judged with at least this gain")
    eval_depth: int = Field(ge=1, description="BM25 top-k per dev/test query: the re-ranked list, nothing added")
    train_depth: int = Field(ge=1, description="BM25 top-k per training query: its training list (nothing added)")
    pseudo_queries: int = Field(ge=0, description="documents whose title becomes a pseudo-query")
    pseudo_depth: int = Field(ge=1, description="BM25 candidates per pseudo-query")
    show_examples: int = Field(3, ge=0)


class ScratchDecoder(_Section):
    """The `scratch` embedded teacher: a small Llama-architecture decoder and its own tokenizer."""

    vocab_size: int = Field(ge=100)
    hidden: int = Field(ge=8)
    layers: int = Field(ge=1)
    heads: int = Field(ge=1)
    intermediate: int = Field(ge=8)


class CPTParams(_Section):
    """Continued pre-training (notebook 02, `distilrank.stages.continued_pretraining`).

    `variants`: the decoders built and continued-pre-trained; notebook 02 measures each on dev
    (perplexity, a likelihood ranker) and notebook 03 keeps the best fine-tuned one as the teacher. `minilm` (MiniLM-L6 weights as a causal decoder, deepened to `minilm_layers`),
    `scratch` (a decoder from `scratch`'s config with a tokenizer trained on the collection),
    `hub` (the `models.teacher` checkpoint; paper profile).
    """

    variants: list[Literal["minilm", "scratch", "hub"]] = Field(min_length=1)
    minilm_layers: int = Field(6, ge=1)
    scratch: ScratchDecoder
    max_len: int = Field(ge=16)
    epochs: float = Field(gt=0)
    batch_size: int = Field(ge=1)
    lr: dict[str, float]
    pseudo_examples: int = Field(ge=0, description="title -> summary examples added from pseudo-queries")
    max_examples: int | None = Field(None, ge=1, description="cap on CPT training examples")
    n_generate: int = Field(3, ge=0)

    @model_validator(mode="after")
    def _lr_per_variant(self) -> CPTParams:
        missing = [v for v in self.variants if v not in self.lr]
        if missing:
            raise ValueError(f"lr needs a learning rate for each variant; missing {missing}")
        return self


class _Recipe(_Section):
    """How a ranker trains (`distilrank.training.train_groups`): the head's own learning rate (a
    fresh head starts near zero and must grow to the targets' scale faster than a pretrained encoder
    may move), the schedule after a linear warmup over `warmup` of the steps."""

    head_lr: float | None = Field(None, gt=0, description="learning rate of the score head (None: lr)")
    schedule: Literal["linear", "cosine", "constant"] = Field("linear", description="decay after warmup")
    warmup: float = Field(0.1, ge=0, lt=1, description="share of the steps with a linear warmup")


class RankTrainParams(_Recipe):
    """Group-wise ranking training (`distilrank.training`): one query's candidates per group."""

    max_len: int = Field(ge=16)
    group_size: int = Field(ge=2)
    groups_per_step: int = Field(1, ge=1)
    epochs: int = Field(ge=1)
    lr: float = Field(gt=0)
    loss: Literal["ranknet", "listnet"] = "ranknet"
    pseudo_groups: int = Field(0, ge=0, description="title pseudo-query groups added to the training groups")
    eval_every: int = Field(0, ge=0, description="dev evaluation every n steps (0: at the end only)")
    curve_queries: int | None = Field(None, ge=1, description="dev queries of the learning curve (a fixed seeded subset; None: all)")
    batch_size: int = Field(64, ge=1, description="scoring batch size")


class TeacherParams(RankTrainParams):
    """Notebook 03: the LLM ranking teacher. `variant_lr` sets a learning rate per decoder variant
    (a decoder pre-trained from scratch at 1e-3 wants more than a pretrained one); a variant not
    named there uses `lr`."""

    variant_lr: dict[str, float] = Field(default_factory=dict)

    def for_variant(self, variant: str) -> TeacherParams:
        """These settings with the variant's learning rate."""
        return self.model_copy(update={"lr": self.variant_lr.get(variant, self.lr)})


class Recipe(_Section):
    """One candidate recipe notebook 04 tries on dev (`distill.recipes`): what it sets overrides
    the `distill` section's value."""

    max_len: int | None = Field(None, ge=16)
    pseudo_groups: int | None = Field(None, ge=0)
    schedule: Literal["linear", "cosine", "constant"] | None = None
    epochs: int | None = Field(None, ge=1, description="e.g. more passes with fewer pseudo-query groups, for the same steps")


class DistillParams(_Recipe):
    """Notebook 04: distilling the teacher's cached transfer-set scores into BERT students, and the
    labels-only student at the same recipe and budget.

    A student trains `epochs` passes over its groups (every training query and every picked
    pseudo-query once per pass), `groups_per_step` groups of `group_size` candidates a step; every
    student of a seed sees the same groups in the same order, and the labels-only student takes as
    many steps. `recipes` are tried on dev first (the hybrid loss, a seed none of the core students uses); the best on dev
    NDCG@5 sets `max_len`, `pseudo_groups` and `schedule` for every student. The core students
    (labels, point, margin, hybrid) train with `seeds` seeds each (`seed`, `seed + 1`, ...).
    """

    teacher: Literal["llm", "ensemble"] = Field(
        description="what the students learn from: the fine-tuned LLM (teacher-cpt) or teacher-ensemble")
    max_len: int = Field(ge=16)
    group_size: int = Field(ge=2)
    groups_per_step: int = Field(1, ge=1)
    epochs: int = Field(ge=1, description="passes over the training groups per student (the budget)")
    lr: float = Field(gt=0)
    pooling: Literal["mean", "cls"] = Field("mean", description="student head: mean-pooled state -> linear, or CLS -> tanh pooler -> linear")
    seeds: int = Field(1, ge=1, description="training seeds of each core student (claims read the seed average)")
    recipes: list[Recipe] = Field(default_factory=list, description="recipes tried on dev; the best sets every student's")
    no_llm_student: bool = Field(True, description="also distil bm25+dense-minilm (no LLM) into a hybrid student")
    normalise: Literal["none", "global", "query"] = Field(
        description="teacher scores before MSE: as they are, z-scored over the transfer set, or per query")
    margin_weight: float = Field(1.0, ge=0, description="hybrid = Point-MSE + margin_weight * Margin-MSE")
    pseudo_groups: int = Field(0, ge=0, description="teacher-scored title pseudo-query groups beside the training queries")
    eval_every: int = Field(0, ge=0, description="dev evaluation every n steps (0: at the end only)")
    curve_queries: int | None = Field(None, ge=1, description="dev queries of the learning curve (a fixed seeded subset; None: all)")
    batch_size: int = Field(64, ge=1, description="scoring batch size")
    diagnostic_queries: int | None = Field(None, ge=1, description="training queries whose lists every student seed is scored on for the fit diagnostic (a seeded subset; None: all)")


LOSS_NAMES = Literal["ranknet", "listnet", "kl", "adrmse", "approxndcg", "infonce", "point_mse", "margin_mse", "hybrid"]
FIRST_STAGES = Literal["bm25", "dense", "fused"]
TARGET_KINDS = Literal["scores", "ranks"]


class RankDistillmParams(_Recipe):
    """Notebook 07: Rank-DistiLLM's practices (`distilrank.stages.rank_distillm`).

    The grid is `losses` x `targets` x `first_stages` x `depths`; a cell is named
    `<loss>-<targets>-<first stage>-d<depth>` (its student is `bert6-<cell>`), and `run` picks the
    cells trained: `all`, or a list of names. Every student trains `steps` steps of
    `groups_per_step` groups of `group_size` candidates sampled from its first stage's top `depth`
    (so every cell sees the same number of training pairs), on the training queries only.
    """

    losses: list[LOSS_NAMES] = Field(min_length=1)
    targets: list[TARGET_KINDS] = Field(min_length=1, description="scores: the teacher's scores; ranks: only its permutation (inverted ranks)")
    first_stages: list[FIRST_STAGES] = Field(min_length=1, description="bm25, dense (dense-minilm, exact search) or fused (bm25+dense-minilm)")
    depths: list[int] = Field(min_length=1, description="sampling depths k: training candidates come from the first stage's top k")
    run: Literal["all"] | list[str] = Field(min_length=1, description="the cells trained: all, or names <loss>-<targets>-<stage>-d<k>")
    steps: int = Field(ge=1, description="optimiser steps per student (the same for every cell)")
    lr: float = Field(gt=0)
    temperature: float = Field(1.0, gt=0, description="of the listwise and approximate-rank losses")
    max_len: int = Field(ge=16)
    group_size: int = Field(ge=2)
    groups_per_step: int = Field(1, ge=1)
    batch_size: int = Field(64, ge=1, description="scoring batch size")
    eval_every: int = Field(0, ge=0, description="dev evaluation every n steps (0: none; the grid reads test only)")
    curve_queries: int | None = Field(None, ge=1, description="dev queries of a learning curve (unused when eval_every is 0)")

    @model_validator(mode="after")
    def _cells_in_grid(self) -> RankDistillmParams:
        if any(d < self.group_size for d in self.depths):
            raise ValueError(f"every depth must be at least group_size ({self.group_size}): {self.depths}")
        if self.run != "all":
            grid = set(self.cells())
            unknown = [c for c in self.run if c not in grid]
            if unknown:
                raise ValueError(f"run names cells outside the grid: {unknown} (a cell is <loss>-<targets>-<stage>-d<k> "
                                 f"from losses {self.losses}, targets {self.targets}, first_stages {self.first_stages}, depths {self.depths})")
            if len(set(self.run)) != len(self.run):
                raise ValueError("run names a cell twice")
        return self

    def cells(self) -> list[str]:
        """Every cell of the grid, by name, in axis order."""
        return [f"{loss}-{t}-{stage}-d{k}" for loss in self.losses for t in self.targets for stage in self.first_stages for k in self.depths]


class CurriculumParams(_Section):
    """Notebook 08: a TAPIR-style curriculum (`distilrank.stages.curriculum`) for the hybrid student.

    Four students (uniform, rebalanced, curriculum, curriculum-rebalanced) learn from the same
    teacher with the hybrid loss for `steps` steps each and `seeds` seeds, with notebook 04's recipe
    (`max_len` may shorten its input); the learning curve has a point at every round boundary."""

    steps: int = Field(ge=1, description="optimiser steps per student (the same for all four)")
    clusters: int = Field(ge=1, description="k of the k-means task categories over query embeddings")
    rounds: int = Field(ge=1, description="curriculum rounds; the first samples by the base weights (warm-up)")
    hard_share_start: float = Field(ge=0, le=1, description="share of draws for hard queries in round 2 ...")
    hard_share_end: float = Field(ge=0, le=1, description="... rising linearly to this in the last round")
    difficulty_depth: int = Field(ge=2, description="difficulty is measured on the teacher's top-k candidates per query")
    examples_per_cluster: int = Field(3, ge=1, description="example queries shown per category")
    seeds: int = Field(ge=1, description="training seeds per student; the claims read each student's seed-averaged per-query scores")
    max_len: int | None = Field(None, ge=8, description="the students' input length (None: notebook 04's recipe)")

    @model_validator(mode="after")
    def _rounds_fit(self) -> CurriculumParams:
        if self.steps < self.rounds:
            raise ValueError(f"steps ({self.steps}) must be at least rounds ({self.rounds})")
        return self


class ReportParams(_Section):
    """Notebook 05: the offline report."""

    failures: int = Field(3, ge=1, description="queries where the hybrid student loses most to the teacher")
    top_docs: int = Field(5, ge=1, description="documents shown per ranking in the failure analysis")
    n_resamples: int = Field(1000, ge=100, description="bootstrap resamples per confidence interval")


class LatencyParams(_Section):
    """Notebook 06: latency per scoring batch and the optimised student."""

    batch_size: int = Field(48, ge=1, description="pairs per batch (the paper's 48)")
    seq_len: int = Field(ge=8, description="tokens per pair in the timed batches")
    warmup: int = Field(ge=0, description="untimed calls before timing")
    repeats: int = Field(ge=1, description="timed batches per model")
    llm_repeats: int = Field(ge=1, description="timed batches for the LLM shape (seconds each on a CPU)")
    batch_sizes: list[int] = Field(min_length=1, description="the latency-vs-batch-size sweep")
    sweep_repeats: int = Field(ge=1, description="timed batches per point of the sweep")
    llm_shape_cpu: Literal["llm-0.5b", "llm-7b"] = "llm-0.5b"
    llm_shape_gpu: Literal["llm-0.5b", "llm-7b"] = "llm-7b"
    price_per_hour: float = Field(ge=0, description="USD per hour of the machine, for the cost per million pairs")
    tolerance_ndcg5: float = Field(ge=0, description="largest allowed |NDCG@5 change| of an optimised student vs eager")
    tolerance_pnr: float = Field(ge=0, description="largest allowed |PNR change| of an optimised student vs eager")


class OnlineParams(_Section):
    """Notebook 09: the paper's online evaluation, simulated with click models (`distilrank.clicks`).

    `attractiveness` and `satisfaction` give P(click | examined) and P(satisfied | click) for gains
    0, 1, ... (one value per gain the collection has); the defaults follow Hofmann et al. (2013)'s
    "navigational" user."""

    click_models: list[Literal["pbm", "cascade", "dbn"]] = Field(min_length=1)
    primary: Literal["pbm", "cascade", "dbn"] = Field(description="the click model whose figures go to results.json")
    top_k: int = Field(10, ge=1, description="results shown per session")
    attractiveness: list[float] = Field(min_length=2)
    satisfaction: list[float] = Field(min_length=2)
    pbm_power: float = Field(1.0, gt=0, description="PBM: rank r is examined with probability 1 / r**pbm_power")
    dbn_gamma: float = Field(0.9, ge=0, le=1, description="DBN: P(read on) after an unsatisfying result")
    users: int = Field(ge=2)
    sessions_per_user: int = Field(ge=1)
    dwell_satisfied_s: float = Field(gt=0, description="median dwell of a satisfied click, seconds")
    dwell_unsatisfied_s: float = Field(gt=0, description="median dwell of an unsatisfied click, seconds")
    dwell_sigma: float = Field(ge=0, description="log-normal spread of dwell times")
    interleaving_sessions: int = Field(ge=10)
    sbs_threshold: float = Field(ge=0, description="|NDCG@5 difference| above which a query is Good or Bad")
    n_resamples: int = Field(1000, ge=100)

    @model_validator(mode="after")
    def _consistent(self) -> OnlineParams:
        if len(self.attractiveness) != len(self.satisfaction):
            raise ValueError("attractiveness and satisfaction need one value per gain each")
        if not all(0 <= p <= 1 for p in [*self.attractiveness, *self.satisfaction]):
            raise ValueError("attractiveness and satisfaction are probabilities (0..1)")
        if self.primary not in self.click_models:
            raise ValueError(f"primary {self.primary!r} is not among click_models {self.click_models}")
        return self


class LoraParams(_Section):
    """LoRA adapters (peft): rank, scale and which linear layers get one."""

    r: int = Field(16, ge=1, description="adapter rank")
    alpha: int = Field(32, ge=1, description="scale numerator: updates are scaled by alpha / r")
    dropout: float = Field(0.05, ge=0, lt=1)
    target_modules: list[str] | Literal["all-linear"] | None = Field(
        None, description="layer names (e.g. q_proj, v_proj); all-linear; or null: peft's default for the architecture")


class LLMParams(_Section):
    """How the decoder is trained in CPT (notebook 02) and as the ranking teacher (notebook 03)
    (`distilrank.finetune`).

    `full` trains every weight, kept in fp32 (master weights) under the run's mixed `precision`;
    `lora` freezes the backbone, stored in `base_dtype`, and trains low-rank adapters (and the
    score head) in fp32. Adapters are merged into the saved decoder, so later stages load a plain
    checkpoint. (QLoRA is not offered: merging adapters into 4-bit weights would round most of a
    LoRA update away, and the saved decoder would need bitsandbytes and CUDA to load.)
    """

    finetune: Literal["full", "lora"] = "full"
    base_dtype: Literal["fp32", "bf16"] = Field("fp32", description="storage of frozen backbone weights (lora)")
    gradient_checkpointing: bool = Field(False, description="recompute activations in the backward pass: less memory, ~30% more time")
    lora: LoraParams = Field(default_factory=LoraParams)

    @model_validator(mode="after")
    def _master_weights(self) -> LLMParams:
        if self.finetune == "full" and self.base_dtype != "fp32":
            raise ValueError("finetune 'full' updates every weight: they stay fp32 master weights "
                             "(mixed precision comes from `precision`); base_dtype bf16 is for lora")
        return self


class ParallelParams(_Section):
    """How many processes the heavy loops of notebooks 02, 03 and 04 run on (`distilrank.parallel`).

    `processes: 1` keeps every loop in the notebook's own kernel (the default path). With `N > 1`
    (or `auto`: every visible GPU, and 1 on a CPU), CPT, the teachers' fine-tuning and scoring and
    the students' distillation run through `accelerate launch` on N processes, data-parallel: the
    Trainer's DDP for training (gradients averaged, rank 0 saves), the scored pairs sharded and
    merged in their original order. `backend`: `nccl` on GPUs, `gloo` on a CPU (auto: by device).
    `teacher_strategy`: how the decoder (CPT and the ranking teacher) is spread: `ddp` (a full copy
    per GPU; enough with LoRA, whose trainable state is small) or `fsdp` (weights, gradients and
    optimiser state sharded across the GPUs; full fine-tuning of a 7B decoder). Students always
    use DDP. See docs/scaling.md.
    """

    processes: int | Literal["auto"] = Field(1, description="processes per launch: 1 (in the kernel), N, or auto (the visible GPUs)")
    backend: Literal["auto", "nccl", "gloo"] = Field("auto", description="collective backend: auto picks nccl on CUDA, gloo on CPU")
    teacher_strategy: Literal["ddp", "fsdp"] = Field("ddp", description="the decoder's data parallelism (students: always ddp)")

    @model_validator(mode="after")
    def _positive(self) -> ParallelParams:
        if isinstance(self.processes, int) and self.processes < 1:
            raise ValueError(f"processes must be at least 1 (or auto), not {self.processes}")
        return self


class ModelParams(_Section):
    """Which models each stage starts from.

    `teacher`: a hub id of a causal LM, or `embedded` (built in notebook 02, no download).
    `students`: student name -> `minilm-l6` (the pip-packaged MiniLM-L6 weights) or a hub id.
    `dense`: the zero-shot bi-encoder `dense-minilm` (`minilm-l6`, or a sentence-transformers hub id).
    """

    teacher: str
    students: dict[str, str]
    dense: str


class Params(_Section):
    """A whole profile."""

    profile: str = Field(pattern=r"^[A-Za-z0-9_.-]+$", description="names outputs/<profile>/: letters, digits, '.', '_', '-'")
    seed: int
    device: Literal["auto", "cpu", "cuda"] = "auto"
    precision: Literal["auto", "fp32", "bf16", "fp16"] = Field(
        "auto", description="autocast precision; auto: bf16 where the device computes it natively, else fp32")
    data: DataParams
    split: SplitParams
    bm25: BM25Params
    prep: PrepParams
    models: ModelParams
    cpt: CPTParams
    llm: LLMParams = Field(default_factory=LLMParams)
    parallel: ParallelParams = Field(default_factory=ParallelParams)
    teacher: TeacherParams
    distill: DistillParams
    rank_distillm: RankDistillmParams
    curriculum: CurriculumParams
    report: ReportParams
    latency: LatencyParams
    online: OnlineParams

    @model_validator(mode="after")
    def _teacher_source(self) -> Params:
        if "hub" in self.cpt.variants and self.models.teacher == "embedded":
            raise ValueError("cpt.variants 'hub' needs models.teacher to name a hub checkpoint")
        if "bert6" not in self.models.students:
            raise ValueError("models.students needs a 'bert6' entry (the labels-only and distilled student)")
        return self


def _format(err: ValidationError, source: str) -> str:
    lines = [f"invalid parameters in {source}:"]
    for e in err.errors():
        key = ".".join(str(p) for p in e["loc"]) or "<top level>"
        msg = e["msg"]
        if e["type"] == "extra_forbidden":
            msg = "unknown key (typo?)"
        elif e["type"] == "missing":
            msg = "missing key"
        lines.append(f"  {key}: {msg}")
    return "\n".join(lines)


_SCIENTIFIC = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+")


def scientific_floats(raw: Any) -> Any:
    """`raw` with every string written like `5e-5` read as the float it means; applied to the
    float-typed fields of a profile only (a profile name or a path may look like `1e3`).

    YAML 1.1 (PyYAML, and papermill's `-f`) reads a float only with a dot in its mantissa, so
    `lr: 5e-5` arrives as the string "5e-5"; a learning rate is written so more often than not.
    """
    if isinstance(raw, dict):
        return {k: scientific_floats(v) for k, v in raw.items()}
    if isinstance(raw, list):
        return [scientific_floats(v) for v in raw]
    return float(raw) if isinstance(raw, str) and _SCIENTIFIC.fullmatch(raw.strip()) else raw


def validate(raw: Any, source: str) -> Params:
    """Validate a mapping as a profile (`5e-5` style strings in float fields read as floats);
    `source` names it in the error."""
    if not isinstance(raw, dict):
        raise ParamsError(f"invalid parameters in {source}: expected a mapping at the top level")
    try:
        return Params.model_validate(raw)
    except ValidationError as err:
        raise ParamsError(_format(err, source)) from None


def read_yaml(path: str | Path) -> dict[str, Any]:
    """Parse a params file, with the file named in every error."""
    path = resolve(path)
    if not path.is_file():
        raise ParamsError(f"params file not found: {path}")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise ParamsError(f"{path}: not valid YAML: {err}") from None
    return raw if raw is not None else {}


def load_params(path: str | Path) -> Params:
    """Read and validate one params file."""
    return validate(read_yaml(path), str(resolve(path)))


def profile_path(profile: str) -> Path:
    """`params/<profile>.yaml`."""
    return ROOT / "params" / f"{profile}.yaml"


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def notebook_params(namespace: dict[str, Any]) -> Params:
    """The profile a notebook runs with.

    Reads the params file named by the notebook's `params_file` variable (what `make replicate
    PARAMS=path` injects: a profile kept anywhere) or else `params/<profile>.yaml` for its
    `profile` variable, then applies every top-level profile key found in `namespace` (what
    papermill injected, e.g. with `-f params/smoke.yaml -p seed 7`), and validates the result.
    Call it first thing after the parameters cell, before an import can shadow a section name
    (`prep` is also a module).
    """
    import types

    path = resolve(namespace["params_file"]) if namespace.get("params_file") else profile_path(namespace.get("profile", "default"))
    raw = read_yaml(path)
    injected = {k: namespace[k] for k in Params.model_fields if k in namespace}
    shadowed = [k for k, v in injected.items() if isinstance(v, types.ModuleType)]
    if shadowed:
        raise ParamsError(
            f"notebook_params: {shadowed} name modules in the notebook, not parameters; "
            "call notebook_params(globals()) before those imports"
        )
    return validate(_merge(raw, injected), f"{path} (with the notebook's parameters)")


def main(argv: list[str] | None = None) -> int:
    """`python -m distilrank.config params/<p>.yaml`: validate a profile, exit 2 with the reason."""
    import sys

    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m distilrank.config params/<profile>.yaml", file=sys.stderr)
        return 2
    try:
        params = load_params(args[0])
    except ParamsError as err:
        print(err, file=sys.stderr)
        return 2
    print(f"{args[0]}: valid profile '{params.profile}'")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
