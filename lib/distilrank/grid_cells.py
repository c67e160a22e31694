"""The cells of notebook 07's Rank-DistiLLM grid (`config.RankDistillmParams`): a `Cell` is one
loss, target kind (`scores` or `ranks`), first stage (`bm25`, `dense`, `fused`) and sampling
depth, named `<loss>-<targets>-<stage>-d<k>`. Notebook 07 (`distilrank.stages.rank_distillm`)
trains one student per selected cell; `estimate` sizes the run from the same cells.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from distilrank import losses
from distilrank.config import FIRST_STAGES, TARGET_KINDS, RankDistillmParams

STAGES: tuple[str, ...] = FIRST_STAGES.__args__  # bm25, dense, fused
TARGETS: tuple[str, ...] = TARGET_KINDS.__args__  # scores, ranks


@dataclass(frozen=True)
class Cell:
    """One point of the grid: a loss, a target kind, a first stage and a sampling depth."""

    loss: str
    targets: str
    stage: str
    depth: int

    @property
    def name(self) -> str:
        return f"{self.loss}-{self.targets}-{self.stage}-d{self.depth}"


def parse_cell(name: str) -> Cell:
    """`<loss>-<targets>-<stage>-d<k>` as a `Cell`; a malformed name is an error naming it."""
    parts = name.split("-")
    if len(parts) != 4 or not parts[3].startswith("d") or not parts[3][1:].isdigit():
        raise ValueError(f"cell {name!r}: expected <loss>-<targets>-<first stage>-d<depth>, e.g. ranknet-ranks-bm25-d20")
    loss, targets, stage = parts[:3]
    if loss not in losses.LOSSES or targets not in TARGETS or stage not in STAGES:
        raise ValueError(f"cell {name!r}: loss in {sorted(losses.LOSSES)}, targets in {list(TARGETS)}, first stage in {list(STAGES)}")
    return Cell(loss, targets, stage, int(parts[3][1:]))


def distinct_cells(params: RankDistillmParams) -> list[Cell]:
    """The grid's cells that train different students: a loss that reads only the order of its
    targets (`losses.ORDER_ONLY`) keeps `ranks` alone when both kinds are in the grid (its
    `scores` twin would train the same student again)."""
    cells = [parse_cell(n) for n in params.cells()]
    if len(params.targets) < 2:
        return cells
    return [c for c in cells if not (c.loss in losses.ORDER_ONLY and c.targets == "scores")]


def selected_cells(params: RankDistillmParams) -> list[Cell]:
    """The cells the profile's `run` picks, parsed: `all` is every distinct cell (`distinct_cells`);
    a cell named in a list runs as named."""
    return distinct_cells(params) if params.run == "all" else [parse_cell(n) for n in params.run]


def stage_depths(cells: Sequence[Cell]) -> dict[str, int]:
    """How deep each first stage's lists must go for `cells` (stages no cell uses are absent)."""
    out: dict[str, int] = {}
    for c in cells:
        out[c.stage] = max(out.get(c.stage, 0), c.depth)
    return out
