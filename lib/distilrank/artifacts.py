"""The prepared tables on disk: notebook 01 writes its rows as one `datasets.DatasetDict`
(`save_prepared`), and every later stage reads them from there (`load_prepared`), never from
in-memory state. The tables and their fields: `distilrank.stages.data_prep`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from distilrank.paths import atomic_dir


def save_prepared(tables: dict[str, Any], path: str | Path) -> None:
    """Write the prepared tables (each a list of row dicts, or an Arrow table) as one
    `DatasetDict` (Arrow), atomically."""
    import datasets
    import pyarrow as pa
    from datasets import Dataset, DatasetDict

    empty = [name for name, rows in tables.items() if len(rows) == 0]
    if empty:
        raise ValueError(f"refusing to save empty tables: {empty}")
    dd = DatasetDict({name: Dataset(rows) if isinstance(rows, pa.Table) else Dataset.from_pandas(pd.DataFrame(rows), preserve_index=False)
                      for name, rows in tables.items()})
    was_disabled = datasets.is_progress_bar_enabled() is False
    datasets.disable_progress_bars()  # a bar per small table is noise in an executed notebook
    try:
        with atomic_dir(path) as tmp:
            dd.save_to_disk(str(tmp))
    finally:
        if not was_disabled:
            datasets.enable_progress_bars()


def load_prepared(path: str | Path):
    """Read what `save_prepared` wrote (a `datasets.DatasetDict`), with a clear error if absent."""
    from datasets import load_from_disk

    path = Path(path)
    if not (path / "dataset_dict.json").is_file():
        raise FileNotFoundError(f"no prepared data at {path}: run notebook 01 (make replicate) first")
    return load_from_disk(str(path))
