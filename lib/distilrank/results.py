"""The results contract: every notebook appends its measured rows to `outputs/<profile>/results.json`.

The file is a JSON list of rows `{system, metric, value, ci_low, ci_high, n_queries, profile,
commit}`. `record` replaces an earlier row of the same (system, metric, profile), writes the file
atomically under a lock, and stamps the git commit the numbers came from.

Its companion `claims.json` holds the claims notebooks test (`record_claims`: one row per claim with
Δ, p, the verdict and the notebook section that shows it), which the report's front page lists.
"""

from __future__ import annotations

import fcntl
import json
import math
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator

from distilrank.paths import ROOT, atomic_path, output_dir


class ResultRow(BaseModel):
    """One measured number."""

    model_config = ConfigDict(extra="forbid", strict=True)

    system: str
    metric: str
    value: float = Field(allow_inf_nan=False)
    ci_low: float | None = None
    ci_high: float | None = None
    n_queries: int | None = None
    profile: str
    commit: str

    @field_validator("system", "metric", "profile", "commit")
    @classmethod
    def _non_empty(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("must not be empty")
        return v

    @field_validator("ci_low", "ci_high", mode="before")
    @classmethod
    def _undefined_is_none(cls, v: float | None) -> float | None:
        """A CI that could not be computed (too few queries, no discordant pair) is null."""
        return None if v is None or (isinstance(v, float) and not math.isfinite(v)) else v


def git_commit(root: Path = ROOT) -> str:
    """Short hash of HEAD, with `-dirty` when tracked files differ from it; `unknown` without git."""
    try:
        head = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{head}-dirty" if dirty else head


def results_path(profile: str) -> Path:
    """`outputs/<profile>/results.json`."""
    return output_dir(profile) / "results.json"


def _read_rows(path: str | Path, model: type[BaseModel]) -> list:
    """Read and validate a JSON list of `model` rows (an empty list if the file does not exist yet)."""
    path = Path(path)
    if not path.exists():
        return []
    raw = json.loads(path.read_text())
    if not isinstance(raw, list):
        raise ValueError(f"{path}: expected a JSON list of rows")
    return [model.model_validate(r) for r in raw]


def _replace_rows(path: Path, model: type[BaseModel], new: list, replaced) -> None:
    """Rewrite `path` (atomically, under a lock) as its rows for which `replaced(row)` is false,
    followed by `new`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(f".{path.name}.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        kept = [r for r in _read_rows(path, model) if not replaced(r)]
        with atomic_path(path) as tmp:
            tmp.write_text(json.dumps([r.model_dump() for r in kept + new], indent=1, allow_nan=False) + "\n")


def load_results(path: str | Path) -> list[ResultRow]:
    """Read and validate a results file (an empty list if it does not exist yet)."""
    return _read_rows(path, ResultRow)


def record(profile: str, rows: list[dict], path: str | Path | None = None) -> list[ResultRow]:
    """Append rows (replacing same system/metric/profile) to the profile's results file.

    Each row gives system, metric, value and optionally ci_low, ci_high, n_queries; `profile` and
    `commit` are filled in. Returns the validated rows written.
    """
    path = Path(path) if path is not None else results_path(profile)
    commit = git_commit()
    new = [ResultRow.model_validate({"profile": profile, "commit": commit, **r}) for r in rows]
    keys = {(r.system, r.metric, r.profile) for r in new}
    _replace_rows(path, ResultRow, new, lambda r: (r.system, r.metric, r.profile) in keys)
    return new


class ClaimRow(BaseModel):
    """One tested claim, as its notebook's table states it."""

    model_config = ConfigDict(extra="forbid", strict=True)

    notebook: str  # the executed notebook's stem, e.g. 04_distillation
    section: str  # the heading text of the section that shows the test
    claim: str
    metric: str
    delta: float | None = None  # claimed-better minus other
    ci_low: float | None = None  # of delta, when the notebook computed one
    ci_high: float | None = None
    p: float | None = None
    p_adjusted: float | None = None  # within the notebook's family (Benjamini-Hochberg), when it adjusts
    verdict: str  # `verdicts.KINDS`: holds, fails, no significant difference, fragile, not testable (with what follows)
    detail: str | None = None  # e.g. how the verdict reads against the paper
    n_queries: int | None = None
    system: str | None = None  # the system claimed better ...
    against: str | None = None  # ... and the other one
    paper_claim: str | None = None  # the group it is filed under (`verdicts.GROUPS` key), None: its notebook's
    headline: bool = False  # the test of that group's claim (its line in the front page's verdict box)
    dev_delta: float | None = None  # the same difference on the dev queries, when the notebook measured it
    profile: str
    commit: str

    @field_validator("delta", "ci_low", "ci_high", "p", "p_adjusted", "dev_delta", mode="before")
    @classmethod
    def _undefined_is_none(cls, v: float | None) -> float | None:
        return None if v is None or (isinstance(v, float) and not math.isfinite(v)) else float(v)


def _first(row: pd.Series, *names: str, startswith: str | None = None):
    for name in names:
        if name in row.index and not pd.isna(row[name]):
            return row[name]
    if startswith is not None:
        for name in row.index:
            if str(name).startswith(startswith) and not pd.isna(row[name]):
                return row[name]
    return None


def claim_rows(table: pd.DataFrame, notebook: str, section: str, metric: str = "ndcg@5") -> list[dict]:
    """Rows for `record_claims` from a notebook's claims table (indexed by the claim; columns `Δ…`,
    `p`, `verdict`, and where present `p (BH)`, `queries`, `against the paper` or `note`, a
    `[lo, hi]` column named `Δ 95% CI…`, a `metric` column that overrides `metric` per row, and
    `verdicts.claim`'s `system`, `against`, `paper claim`, `headline` and `dev Δ`)."""
    rows = []
    for claim, r in table.iterrows():
        ci = _first(r, startswith="Δ 95% CI")
        lo, hi = (float(x) for x in str(ci).strip("[]").split(",")) if isinstance(ci, str) else (None, None)
        n = _first(r, "queries", "n_queries")
        text = {k: _first(r, k) for k in ("system", "against", "paper claim")}
        rows.append({"notebook": notebook, "section": section, "claim": str(claim), "metric": str(_first(r, "metric") or metric),
                     "delta": _first(r, "Δ", startswith="Δ ndcg"), "ci_low": lo, "ci_high": hi, "p": _first(r, "p"),
                     "p_adjusted": _first(r, "p (BH)", "p (BH-adjusted)"), "verdict": str(r["verdict"]),
                     "detail": _first(r, "against the paper", "note"), "n_queries": None if n is None else int(n),
                     **{k.replace(" ", "_"): None if v is None else str(v) for k, v in text.items()},
                     "headline": bool(_first(r, "headline") or False), "dev_delta": _first(r, "dev Δ")})
    return rows


RECORD_ONLY = ("system", "against", "paper claim", "headline")  # claims-table columns for the record, not the reader


def shown_claims(table: pd.DataFrame) -> pd.DataFrame:
    """A claims table as a notebook shows it: without the columns only the record reads
    (`RECORD_ONLY`: the claim's text names its systems)."""
    return table.drop(columns=[c for c in RECORD_ONLY if c in table.columns])


def claims_path(profile: str) -> Path:
    """`outputs/<profile>/claims.json`."""
    return output_dir(profile) / "claims.json"


def load_claims(path: str | Path) -> list[ClaimRow]:
    """Read and validate a claims file (an empty list if it does not exist yet)."""
    return _read_rows(path, ClaimRow)


def record_claims(profile: str, table: pd.DataFrame, notebook: str, section: str, metric: str = "ndcg@5",
                  path: str | Path | None = None) -> list[ClaimRow]:
    """Write a notebook section's claims table to `claims.json` (`claim_rows`), replacing that
    section's earlier rows (so a re-run never leaves a claim it no longer tests), atomically under a
    lock; returns the validated rows written."""
    path = Path(path) if path is not None else claims_path(profile)
    commit = git_commit()
    new = [ClaimRow.model_validate({"profile": profile, "commit": commit, **r}) for r in claim_rows(table, notebook, section, metric)]
    _replace_rows(path, ClaimRow, new, lambda r: (r.notebook, r.section, r.profile) == (notebook, section, profile))
    return new


def summary_rows(system: str, summary: pd.DataFrame) -> list[dict]:
    """Rows for `record` from `distilrank.metrics.summarise` output; a metric whose value is not
    finite (the oracle's PNR: no discordant pair) has no row."""
    return [{"system": system, "metric": r.metric, "value": float(r.value), "ci_low": float(r.ci_low), "ci_high": float(r.ci_high), "n_queries": int(r.n_queries)}
            for r in summary.itertuples() if np.isfinite(r.value)]


def results_table(rows: list[ResultRow]) -> pd.DataFrame:
    """Systems as rows, metrics as columns (values only), in the order first recorded."""
    df = pd.DataFrame([r.model_dump() for r in rows])
    if df.empty:
        return df
    return df.pivot_table(index="system", columns="metric", values="value", sort=False)


if __name__ == "__main__":
    import sys

    rows = load_results(sys.argv[1])
    print(f"{sys.argv[1]}: {len(rows)} rows")
    if rows:
        print(results_table(rows).round(4).to_string())
