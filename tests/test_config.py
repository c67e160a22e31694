from pathlib import Path

import pytest
import yaml

from distilrank import config
from distilrank.config import ParamsError, load_params, notebook_params, scientific_floats, validate
from distilrank.paths import ROOT

PROFILES = sorted(p.stem for p in (ROOT / "params").glob("*.yaml"))


def test_the_four_profiles_exist():
    assert {"default", "gpu", "smoke", "paper"} <= set(PROFILES)


@pytest.mark.parametrize("profile", PROFILES)
def test_every_profile_validates_and_names_itself(profile):
    params = load_params(ROOT / "params" / f"{profile}.yaml")
    assert params.profile == profile
    assert params.device == "auto" or profile == "smoke"


def _write(tmp_path: Path, raw: dict) -> Path:
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


@pytest.fixture
def smoke_raw() -> dict:
    return yaml.safe_load((ROOT / "params" / "smoke.yaml").read_text())


def test_typo_key_names_key_and_file(tmp_path, smoke_raw):
    smoke_raw["split"]["n_tset"] = smoke_raw["split"].pop("n_test")
    path = _write(tmp_path, smoke_raw)
    with pytest.raises(ParamsError) as err:
        load_params(path)
    msg = str(err.value)
    assert str(path) in msg
    assert "split.n_tset: unknown key" in msg
    assert "split.n_test: missing key" in msg


def test_wrong_type_is_an_error(tmp_path, smoke_raw):
    smoke_raw["seed"] = "thirteen"
    with pytest.raises(ParamsError, match=r"seed: Input should be a valid integer"):
        load_params(_write(tmp_path, smoke_raw))


def test_missing_data_directory_is_an_error(tmp_path, smoke_raw):
    smoke_raw["data"]["path"] = str(tmp_path / "nowhere")
    with pytest.raises(ParamsError, match=r"data: Value error, data.path does not exist: .*nowhere"):
        load_params(_write(tmp_path, smoke_raw))


def test_source_specific_keys(tmp_path, smoke_raw):
    smoke_raw["data"] = {"source": "ir_datasets"}
    with pytest.raises(ParamsError, match="needs data.ir_datasets_id"):
        load_params(_write(tmp_path, smoke_raw))


def test_not_a_file_and_not_yaml(tmp_path):
    with pytest.raises(ParamsError, match="params file not found"):
        load_params(tmp_path / "absent.yaml")
    bad = tmp_path / "x.yaml"
    bad.write_text("a: [1, 2\n")
    with pytest.raises(ParamsError, match="not valid YAML"):
        load_params(bad)


def test_notebook_params_reads_profile_and_applies_injected_values():
    ns = {"profile": "smoke", "seed": 99, "split": {"n_test": 20}, "unrelated": 1}
    params = notebook_params(ns)
    assert params.seed == 99
    assert params.split.n_test == 20
    assert params.split.n_dev == load_params(ROOT / "params" / "smoke.yaml").split.n_dev


def test_notebook_params_rejects_bad_injection():
    with pytest.raises(ParamsError, match="with the notebook's parameters"):
        notebook_params({"profile": "smoke", "split": {"n_test": -1}})


def test_cli_exit_codes(tmp_path, capsys, smoke_raw):
    assert config.main([str(ROOT / "params" / "smoke.yaml")]) == 0
    smoke_raw["bm25"]["k3"] = 1.0
    assert config.main([str(_write(tmp_path, smoke_raw))]) == 2
    assert "bm25.k3: unknown key" in capsys.readouterr().err


def test_notebook_params_names_a_shadowed_key():
    import distilrank.stages.data_prep as prep_module

    with pytest.raises(ParamsError, match=r"\['prep'\] name modules"):
        notebook_params({"profile": "smoke", "prep": prep_module})


def test_scientific_floats_are_read_as_floats(tmp_path, smoke_raw):
    # YAML 1.1 reads `5e-5` as a string; a profile (or papermill's -f) must still take it
    text = (ROOT / "params" / "smoke.yaml").read_text().replace("lr: 5.0e-5", "lr: 5e-5").replace("minilm: 1.0e-4", "minilm: 1e-4")
    path = tmp_path / "sci.yaml"
    path.write_text(text)
    params = load_params(path)
    assert params.teacher.lr == 5e-5 and params.cpt.lr["minilm"] == 1e-4
    assert scientific_floats({"a": ["2E+3", "x1e5", "1e5x", "path/1e5"]}) == {"a": [2000.0, "x1e5", "1e5x", "path/1e5"]}
    # only float fields: a profile named "1e3" keeps its name
    assert load_params(path).profile == "smoke"
    path.write_text(text.replace("profile: smoke", "profile: '1e3'"))
    assert load_params(path).profile == "1e3"


def test_trec_source_needs_its_three_files(tmp_path, smoke_raw):
    for name in ("docs.jsonl", "queries.tsv"):
        (tmp_path / name).write_text("x")
    raw = {**smoke_raw, "data": {"source": "trec", "docs": str(tmp_path / "docs.jsonl"), "queries": str(tmp_path / "queries.tsv"),
                                 "qrels": str(tmp_path / "qrels.txt")}}
    with pytest.raises(ParamsError, match=r"data.qrels does not exist: .*qrels.txt"):
        validate(raw, "x")
    with pytest.raises(ParamsError, match="needs data.docs"):
        validate({**raw, "data": {"source": "trec"}}, "x")


def test_notebook_params_reads_a_params_file_kept_anywhere(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text((ROOT / "params" / "smoke.yaml").read_text().replace("profile: smoke", "profile: mine"))
    params = notebook_params({"profile": "mine", "params_file": str(path), "seed": 5})
    assert params.profile == "mine" and params.seed == 5


def test_removed_keys_are_unknown_and_recipes_are_checked(tmp_path, smoke_raw):
    import copy

    # the labels-only student trains in notebook 04 with the distill recipe; training lists add no negatives
    for section, key, value in (("distill", "steps", 3), ("prep", "train_negatives", 3), ("prep", "negative_depth", 10)):
        raw = copy.deepcopy(smoke_raw)
        raw[section][key] = value
        with pytest.raises(ParamsError, match=rf"{section}\.{key}: unknown key"):
            load_params(_write(tmp_path, raw))
    raw = copy.deepcopy(smoke_raw)
    raw["labels_student"] = {"max_len": 32}
    with pytest.raises(ParamsError, match="labels_student: unknown key"):
        load_params(_write(tmp_path, raw))
    raw = copy.deepcopy(smoke_raw)
    del raw["distill"]["epochs"]
    with pytest.raises(ParamsError, match=r"distill\.epochs: missing key"):
        load_params(_write(tmp_path, raw))
    # a recipe sets only what it names: the rest stays None (the distill section's value)
    d = load_params(ROOT / "params" / "smoke.yaml").distill
    assert d.epochs == 1 and d.seeds == 2 and len(d.recipes) == 1
    assert d.recipes[0].model_dump() == {"max_len": 24, "pseudo_groups": None, "schedule": None, "epochs": None}
    for bad, match in (({"max_len": 8}, "greater than or equal to 16"), ({"warmup": 0.2}, "unknown key"),
                       ({"schedule": "step"}, "linear")):
        raw = copy.deepcopy(smoke_raw)
        raw["distill"]["recipes"] = [bad]
        with pytest.raises(ParamsError, match=match):
            load_params(_write(tmp_path, raw))
