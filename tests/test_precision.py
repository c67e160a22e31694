import contextlib

import pytest
import torch

from distilrank import precision

AVX2_ONLY = "processor\t: 0\nflags\t\t: fpu sse2 avx avx2 fma\n"
SAPPHIRE = "flags\t\t: fpu avx2 avx512f avx512_bf16 amx_bf16 amx_tile\n"


def test_cpu_flags_are_read_from_cpuinfo_text():
    assert precision.cpu_flags(AVX2_ONLY) == {"fpu", "sse2", "avx", "avx2", "fma"}
    assert precision.cpu_flags("model name: x\n") == set()
    assert not precision.cpu_has_bf16(precision.cpu_flags(AVX2_ONLY))
    assert precision.cpu_has_bf16(precision.cpu_flags(SAPPHIRE))
    assert precision.cpu_has_bf16({"avx512_bf16"}) and precision.cpu_has_bf16({"amx_bf16"})
    graviton3 = "processor\t: 0\nFeatures\t: fp asimd sve bf16 i8mm\n"  # ARM names the line Features
    assert precision.cpu_has_bf16(precision.cpu_flags(graviton3))
    assert not precision.cpu_has_bf16(precision.cpu_flags("Features\t: fp asimd\n"))


def test_auto_follows_the_hardware_and_explicit_choices_are_kept():
    assert precision.resolve("auto", "cpu", native_bf16=False) == "fp32"
    assert precision.resolve("auto", "cpu", native_bf16=True) == "bf16"
    assert precision.resolve("auto", "cuda", native_bf16=True) == "bf16"
    assert precision.resolve("auto", "cuda", native_bf16=False) == "fp32"
    assert precision.resolve("fp32", "cpu", native_bf16=True) == "fp32"
    assert precision.resolve("bf16", "cpu", native_bf16=False) == "bf16"  # forced: emulated, slow, but allowed
    assert precision.resolve("fp16", "cuda", native_bf16=False) == "fp16"
    with pytest.raises(ValueError, match="fp16 needs a CUDA"):
        precision.resolve("fp16", "cpu", native_bf16=True)
    with pytest.raises(ValueError, match="must be one of"):
        precision.resolve("int8", "cpu", native_bf16=True)


def test_autocast_and_trainer_flags():
    assert isinstance(precision.autocast("fp32", "cpu"), contextlib.nullcontext)
    with precision.autocast("bf16", "cpu"):
        out = torch.nn.Linear(4, 2)(torch.ones(1, 4))
    assert out.dtype == torch.bfloat16
    assert precision.trainer_flags("bf16") == {"bf16": True, "fp16": False}
    assert precision.trainer_flags("fp32") == {"bf16": False, "fp16": False}


def test_describe_says_why():
    d = precision.describe("auto", "fp32", "cpu", native_bf16=False)
    assert d["used"] == "fp32" and not d["native_bf16"] and "no native bf16" in d["summary"]
    forced = precision.describe("bf16", "bf16", "cpu", native_bf16=False)["summary"]
    assert "set by the profile" in forced and "emulates" in forced
    assert "emulates" not in precision.describe("bf16", "bf16", "cpu", native_bf16=True)["summary"]


def test_cuda_bf16_counts_native_support_only(monkeypatch):
    calls = {}
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: calls.setdefault("emulation", including_emulation) and True)
    assert precision.cuda_has_bf16() is False and calls["emulation"] is False


def test_the_environment_variable_overrides_the_profile():
    assert precision.requested("auto", {}) == ("auto", "profile")
    assert precision.requested("auto", {"DISTILRANK_PRECISION": ""}) == ("auto", "profile")  # empty: unset
    assert precision.requested("auto", {"DISTILRANK_PRECISION": "bf16"}) == ("bf16", "DISTILRANK_PRECISION")
    assert precision.requested("bf16", {"DISTILRANK_PRECISION": "auto"}) == ("auto", "DISTILRANK_PRECISION")
    with pytest.raises(ValueError, match="DISTILRANK_PRECISION='bf17'"):
        precision.requested("auto", {"DISTILRANK_PRECISION": "bf17"})
    forced = precision.describe("bf16", "bf16", "cpu", native_bf16=False, source="DISTILRANK_PRECISION", profile_value="auto")
    assert forced["requested"] == "bf16" and forced["source"] == "DISTILRANK_PRECISION" and forced["profile"] == "auto"
    assert "forced by DISTILRANK_PRECISION over the profile's auto" in forced["summary"] and "emulates" in forced["summary"]
    auto = precision.describe("auto", "fp32", "cpu", native_bf16=False, source="DISTILRANK_PRECISION", profile_value="bf16")
    assert "no native bf16" in auto["summary"] and "forced by DISTILRANK_PRECISION" in auto["summary"]
    assert precision.describe("fp32", "fp32", "cpu", native_bf16=True)["source"] == "profile"
