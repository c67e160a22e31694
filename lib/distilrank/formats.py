"""How numbers print, in one place: the notebooks' tables (`format_number`, `format_p`, through
`notebook.show`) and the front page's cells (`fmt_*`, `markdown_table`). Integers as integers,
three decimals or three significant digits, p-values as 1.8e-13 (never 0.0000), blanks for what
is missing."""

from __future__ import annotations

import math
import numbers
import re

import numpy as np
import pandas as pd

_P_LABEL = re.compile(r"(?:^|[\s(])p(?:$|[\s(]|-value)", re.IGNORECASE)


def is_p_column(label: object) -> bool:
    """Whether a column label names a p-value: the word `p` on its own (`p`, `p (BH)`, `p vs bm25`,
    `sign test p`) or `p-value`; not `pnr`, `p90 ms` or `pairs`. A MultiIndex label is read by its
    last level."""
    text = label[-1] if isinstance(label, tuple) else label
    return isinstance(text, str) and bool(_P_LABEL.search(text.strip()))


def missing(x: object) -> bool:
    """None, NA, NaT or a NaN number (not a boolean)."""
    return x is None or x is pd.NA or x is pd.NaT or (isinstance(x, numbers.Real) and not isinstance(x, bool | np.bool_) and math.isnan(x))


def format_p(x: object) -> str:
    """A p-value as a reader takes it in: three decimals from 0.001 up (`0.038`), scientific below
    (`1.8e-13`, never `0.0000`), `<1e-300` where the float underflowed to 0, blank when missing."""
    if missing(x):
        return ""
    if isinstance(x, str):
        return x
    p = float(x)
    if p > 1:  # no p-value: a count or size in a column whose label reads like one ("sessions until p < 0.05")
        return format_number(x)
    if p == 0:
        return "<1e-300"
    return f"{p:.1e}" if p < 1e-3 else f"{p:.3f}"


def format_number(x: object, integral: bool = False, digits: int = 3) -> str:
    """One table cell: blank when missing; `yes`/`no` for booleans; an integer (or, with
    `integral`, a float column whose values are all whole) as an integer; `inf`; other floats to
    `digits` decimals, from 1000 up without decimals (`11374`), and below 0.001 in scientific style
    with three significant digits (`4.12e-04`); anything else (text) as it is."""
    if missing(x):
        return ""
    if isinstance(x, bool | np.bool_):
        return "yes" if x else "no"
    if isinstance(x, numbers.Integral):
        return str(int(x))
    if not isinstance(x, numbers.Real):
        return str(x)
    v = float(x)
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    if integral:
        return str(int(round(v)))
    a = abs(v)
    if a == 0 or 1e-3 <= a < 1000:
        return f"{v:.{digits}f}"
    return f"{v:.2e}" if a < 1e-3 else f"{v:.0f}"


def whole(values: pd.Series) -> bool:
    """Whether every finite value of `values` is a whole number (and there is one)."""
    finite = values[np.isfinite(values)]
    return len(finite) > 0 and bool((finite == np.round(finite)).all())


# The front page's cells.

def fmt_metric(v: float | None) -> str:
    """A ranking metric: three decimals (0.513; PNR 3.346); empty when missing, `inf` when infinite."""
    return "" if missing(v) else "inf" if math.isinf(v) else f"{v:.3f}"


def fmt_delta(v: float | None) -> str:
    """A difference of metrics: signed, three decimals (+0.069)."""
    return "" if missing(v) else f"{v:+.3f}"


def fmt_interval(v: float | None, lo: float | None, hi: float | None) -> str:
    """`value [low, high]`, three decimals; the value alone without an interval."""
    return fmt_metric(v) if missing(lo) or missing(hi) else f"{fmt_metric(v)} [{fmt_metric(lo)}, {fmt_metric(hi)}]"


def fmt_number(v: float | int | None) -> str:
    """Any other number: integers as integers (75, not 75.0), 100 and more rounded to an integer with
    thousands separators (11,374), smaller ones to three significant digits (333 ms is 333; 0.224;
    6.58), below 0.01 in scientific notation (3.46e-03: never more than four decimals)."""
    if missing(v):
        return ""
    if isinstance(v, int) or float(v).is_integer():
        return f"{int(v):,}"
    if abs(v) >= 100:
        return f"{v:,.0f}"
    if abs(v) < 0.01:  # three significant digits would need five decimals or more: 3.46e-03
        return f"{v:.2e}"
    return f"{v:.3g}"


def fmt_pct(v: float | None) -> str:
    """A relative change: signed percent, one decimal (+10.4%)."""
    if missing(v):
        return ""
    text = f"{v:+.1%}"
    return "0.0%" if text in ("+0.0%", "-0.0%") else text


def markdown_table(df: pd.DataFrame, index: str | None) -> str:
    """A pipe table (no `tabulate` dependency) of already formatted cells; `index` names the index
    column, None drops it."""
    cols = ([index] if index else []) + list(map(str, df.columns))
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for key, row in df.iterrows():
        cells = [*([str(key)] if index else []), *("" if missing(v) else fmt_number(v) if isinstance(v, float | int) and not isinstance(v, bool)
                                                  else str(v) for v in row)]
        lines.append("| " + " | ".join(c.replace("|", "\\|").replace("\n", " ") for c in cells) + " |")
    return "\n".join(lines)
