"""The set-up every notebook runs right after reading its profile: seeds and the hardware record
(`runtime.start_run`), quiet libraries, and one plot and table style; and `show`, the one way a
notebook prints a table (integers as integers, three decimals, p-values as 1.8e-13, blanks for
missing values).

Quiet means: no transformers load reports or weight-loading bars (a fresh classification head is
expected here and the prose says so), no datasets bars for small tables; the progress bars of the
project's own long loops stay, and `progress.clean_notebook` keeps one line of each in the
executed copy.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import NamedTuple

import datasets
import numpy as np
import pandas as pd
import seaborn as sns
import transformers

from distilrank.formats import format_number, format_p, is_p_column, whole
from distilrank.paths import output_dir
from distilrank.runtime import Stopwatch, start_run


class Session(NamedTuple):
    """What a notebook's cells use from its set-up: `OUT, device, precision, clock = setup(cfg)`."""

    out: Path  # outputs/<profile>/
    device: str  # cpu or cuda
    precision: str  # fp32, bf16 or fp16, as resolved on this hardware
    clock: Stopwatch  # wall time since the set-up


def quiet_libraries() -> None:
    """Silence library chatter that would fill an executed notebook: transformers' warnings (load
    reports) and weight-loading bars, datasets' bars, and the known-harmless warnings."""
    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    datasets.disable_progress_bars()
    datasets.logging.set_verbosity_error()
    warnings.filterwarnings("ignore", message="IProgress not found")


def setup(cfg, *, colwidth: int = 120) -> Session:
    """Seed, record the hardware and precision (printed), quiet the libraries, set the seaborn
    theme and pandas' display width; returns the `Session`."""
    clock = Stopwatch()
    device, precision = start_run(cfg)
    quiet_libraries()
    sns.set_theme(style="whitegrid", context="notebook")
    pd.set_option("display.max_colwidth", colwidth)
    return Session(out=output_dir(cfg.profile), device=device, precision=precision, clock=clock)


def _format_column(col: pd.Series, p: bool, digits: int) -> pd.Series:
    if p:
        return col.map(format_p).astype(object)
    if pd.api.types.is_bool_dtype(col):
        return col.map(format_number).astype(object)
    if pd.api.types.is_float_dtype(col):
        integral = whole(col.to_numpy(dtype=float, na_value=np.nan))
        return col.map(lambda x: format_number(x, integral=integral, digits=digits)).astype(object)
    if pd.api.types.is_numeric_dtype(col):
        return col.map(format_number).astype(object)
    # object: cell by cell (a transposed or hand-built table mixes quantities in one column)
    return col.map(lambda x: format_number(x, integral=isinstance(x, float) and x.is_integer(), digits=digits)).astype(object)


def _format_index(index: pd.Index) -> pd.Index:
    if isinstance(index, pd.MultiIndex):
        return index.set_levels([_format_index(level) for level in index.levels])
    if pd.api.types.is_float_dtype(index) and whole(index.to_numpy(dtype=float)):
        return pd.Index([format_number(x, integral=True) for x in index], name=index.name)
    return index


def show(table: pd.DataFrame | pd.Series, p: tuple[object, ...] | list[object] = (), digits: int = 3) -> pd.DataFrame:
    """`table` ready to display, every cell a string (`format_number`, `format_p`): a float column
    whose values are all whole prints as integers (75, not 75.0; blank, not NaN, where missing),
    other floats to three decimals (three significant digits below 0.001), p-value columns
    (`is_p_column`, or named in `p`) as 1.8e-13, booleans as yes/no, text as it is. Columns of
    mixed types (object) are formatted cell by cell, so a float never prints as 570.23071 or an
    integer as 22713601.0. Format before transposing: a column is one quantity. The input is not
    changed. `digits`: the decimals of other floats (0 for word counts, say)."""
    frame = table.to_frame() if isinstance(table, pd.Series) else table
    out = pd.DataFrame({i: _format_column(frame.iloc[:, i], is_p_column(c) or c in p, digits) for i, c in enumerate(frame.columns)})
    out.columns = frame.columns
    out.index = _format_index(frame.index)
    return out
