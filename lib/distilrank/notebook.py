"""The set-up every notebook runs right after reading its profile: seeds and the hardware record
(`runtime.start_run`), quiet libraries, and one plot and table style.

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
import pandas as pd
import seaborn as sns
import transformers

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
