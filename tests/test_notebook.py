import logging

import pandas as pd
import transformers

from distilrank import notebook
from distilrank.config import load_params, profile_path


def test_setup_returns_the_session_and_quiets_transformers(tmp_path, monkeypatch):
    monkeypatch.setenv("DISTILRANK_OUTPUTS", str(tmp_path))
    monkeypatch.setenv("DISTILRANK_PRECISION", "fp32")  # whatever `auto` would pick on this machine
    cfg = load_params(profile_path("smoke"))
    transformers.utils.logging.set_verbosity_warning()
    with pd.option_context("display.max_colwidth", 50):
        out, device, precision, clock = notebook.setup(cfg, colwidth=77)
        assert pd.get_option("display.max_colwidth") == 77
    assert out == tmp_path / "smoke" and out.is_dir() and (out / "hardware.json").is_file()
    assert device == "cpu" and precision == "fp32" and clock.elapsed() >= 0
    assert transformers.utils.logging.get_verbosity() == logging.ERROR  # no load reports in executed notebooks
    assert not transformers.utils.logging.is_progress_bar_enabled()
    transformers.utils.logging.enable_progress_bar()


def test_setup_takes_the_precision_the_environment_forces(tmp_path, monkeypatch, capsys):
    import json

    import pytest

    monkeypatch.setenv("DISTILRANK_OUTPUTS", str(tmp_path))
    cfg = load_params(profile_path("smoke"))
    assert cfg.precision == "auto"
    monkeypatch.setenv("DISTILRANK_PRECISION", "bf16")  # bf16 on any CPU (emulated where it is not native)
    with pd.option_context("display.max_colwidth", 50):
        _, device, precision, _ = notebook.setup(cfg)
    assert (device, precision) == ("cpu", "bf16")
    recorded = json.loads((tmp_path / "smoke" / "hardware.json").read_text())["precision"]
    assert recorded["requested"] == "bf16" and recorded["used"] == "bf16" and recorded["source"] == "DISTILRANK_PRECISION"
    assert "DISTILRANK_PRECISION" in recorded["summary"] and "DISTILRANK_PRECISION" in capsys.readouterr().out
    monkeypatch.setenv("DISTILRANK_PRECISION", "fp8")
    with pytest.raises(ValueError, match="DISTILRANK_PRECISION='fp8'"):
        notebook.setup(cfg)
    transformers.utils.logging.enable_progress_bar()
