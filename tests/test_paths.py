import pytest

from distilrank.paths import ROOT, atomic_dir, atomic_path, resolve


def test_resolve_is_relative_to_the_repository_root():
    assert resolve("params/default.yaml") == ROOT / "params" / "default.yaml"


def test_atomic_path_keeps_the_old_file_on_error(tmp_path):
    target = tmp_path / "a.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("killed")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_atomic_dir_swaps_only_when_complete(tmp_path):
    target = tmp_path / "ds"
    with atomic_dir(target) as tmp:
        (tmp / "f").write_text("1")
    with pytest.raises(RuntimeError), atomic_dir(target) as tmp:
        (tmp / "f").write_text("2")
        raise RuntimeError("killed")
    assert (target / "f").read_text() == "1"
    with atomic_dir(target) as tmp:
        (tmp / "f").write_text("3")
    assert (target / "f").read_text() == "3"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds"]


def test_atomic_writes_get_ordinary_permissions(tmp_path):
    import os

    with atomic_path(tmp_path / "f") as tmp:
        tmp.write_text("x")
    with atomic_dir(tmp_path / "d") as tmp:
        pass
    mask = os.umask(0)
    os.umask(mask)
    assert (tmp_path / "f").stat().st_mode & 0o777 == 0o666 & ~mask
    assert (tmp_path / "d").stat().st_mode & 0o777 == 0o777 & ~mask


def test_record_hardware_writes_the_machine_and_precision(monkeypatch, tmp_path):
    import json

    from distilrank import runtime

    monkeypatch.setenv("DISTILRANK_OUTPUTS", str(tmp_path))
    info = {"requested": "auto", "used": "fp32", "device": "cpu", "native_bf16": False, "summary": "precision fp32 (auto)"}
    runtime.record_hardware("p", info)
    saved = json.loads((tmp_path / "p" / "hardware.json").read_text())
    assert saved["precision"] == info and saved["cores"] >= 1 and saved["summary"].endswith("precision fp32 (auto)")


def test_hardware_names_the_instruction_set_caps_in_force(monkeypatch):
    from distilrank import runtime

    assert runtime.isa_caps({"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": " ", "PATH": "/bin"}) == {"ATEN_CPU_CAPABILITY": "avx2"}
    for k in runtime.ISA_CAPS:
        monkeypatch.delenv(k, raising=False)
    assert runtime.hardware()["isa_caps"] == {} and "capped" not in runtime.hardware()["summary"]
    monkeypatch.setenv("ATEN_CPU_CAPABILITY", "avx2")
    assert "(instruction set capped: ATEN_CPU_CAPABILITY=avx2)" in runtime.hardware()["summary"]
