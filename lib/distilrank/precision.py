"""Numeric precision that follows the hardware: `precision: auto | fp32 | bf16 | fp16`.

`auto` picks bf16 autocast where the hardware computes bf16 natively (a CPU with AVX512-BF16 or
AMX-BF16, read from `/proc/cpuinfo`'s flags; a CUDA GPU that torch says supports bf16), and fp32
otherwise: on a CPU without those instructions bf16 is emulated and many times slower than fp32.
Training uses `Trainer`'s mixed precision (`trainer_flags`), scoring `autocast`; weights stay fp32.
The environment variable `DISTILRANK_PRECISION` (same choices), when set, overrides the profile's
`precision` (`requested`): the test suite runs one chain forced to fp32 and one forced to bf16, on
any machine.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping
from pathlib import Path

CHOICES = ("auto", "fp32", "bf16", "fp16")
ENV_VAR = "DISTILRANK_PRECISION"  # when set, overrides the profile's `precision` (runtime.start_run)
BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16", "bf16")  # x86 AVX512-BF16 and AMX-BF16; ARM's BF16 extension


def cpu_flags(cpuinfo: str | None = None) -> set[str]:
    """The CPU's feature flags from `/proc/cpuinfo` text (read from the file when not given);
    empty where there is no such file."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            return set()
    for line in cpuinfo.splitlines():
        if line.startswith(("flags", "Features")):  # x86 names the line flags, ARM Features
            return set(line.split(":", 1)[1].split())
    return set()


def cpu_has_bf16(flags: set[str] | None = None) -> bool:
    """Whether the CPU computes bf16 natively (AVX512-BF16 or AMX-BF16)."""
    flags = cpu_flags() if flags is None else flags
    return any(f in flags for f in BF16_CPU_FLAGS)


def cuda_has_bf16() -> bool:
    """Whether torch sees a CUDA device that computes bf16 natively (Ampere or newer): torch's
    default also counts devices that only emulate it (a T4, a V100), where bf16 is slow."""
    import torch

    return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported(including_emulation=False))


def has_native_bf16(device: str) -> bool:
    """Whether `device` (`cpu` or `cuda`) computes bf16 natively (`cuda_has_bf16`, `cpu_has_bf16`)."""
    return cuda_has_bf16() if device == "cuda" else cpu_has_bf16()


def requested(profile_value: str, environ: Mapping[str, str] | None = None) -> tuple[str, str]:
    """The precision asked for and who asked: (`$DISTILRANK_PRECISION`, "DISTILRANK_PRECISION")
    when that variable is set and not empty, else (`profile_value`, "profile"). A value outside
    `CHOICES` is an error naming the variable."""
    env = os.environ if environ is None else environ
    value = env.get(ENV_VAR, "").strip()
    if not value:
        return profile_value, "profile"
    if value not in CHOICES:
        raise ValueError(f"{ENV_VAR}={value!r}: must be one of {CHOICES}, or unset to use the profile's precision")
    return value, ENV_VAR


def resolve(requested: str, device: str, *, native_bf16: bool | None = None) -> str:
    """The precision a run uses on `device` (`cpu` or `cuda`): `fp32`, `bf16` or `fp16`.

    `native_bf16` (detected when None) says whether that device computes bf16 natively. `auto`
    gives bf16 there and fp32 elsewhere; an explicit choice is kept, except fp16 on a CPU (no
    mixed-precision training there), which is an error.
    """
    if requested not in CHOICES:
        raise ValueError(f"precision must be one of {CHOICES}, not {requested!r}")
    if native_bf16 is None:
        native_bf16 = has_native_bf16(device)
    if requested == "auto":
        return "bf16" if native_bf16 else "fp32"
    if requested == "fp16" and device != "cuda":
        raise ValueError("precision fp16 needs a CUDA device; on a CPU use bf16 (native bf16 only) or fp32")
    return requested


def torch_dtype(precision: str):
    """The torch dtype of an autocast precision (`fp32` -> float32)."""
    import torch

    return {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]


def autocast(precision: str, device: str) -> contextlib.AbstractContextManager:
    """`torch.autocast` for bf16/fp16 on `device`; a no-op context for fp32."""
    import torch

    if precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device_type="cuda" if device.startswith("cuda") else "cpu", dtype=torch_dtype(precision))  # cuda:<k>: a launched process's GPU


def trainer_flags(precision: str) -> dict[str, bool]:
    """`TrainingArguments` keywords for mixed-precision training at `precision`."""
    return {"bf16": precision == "bf16", "fp16": precision == "fp16"}


def describe(requested: str, used: str, device: str, native_bf16: bool | None = None, *,
             source: str = "profile", profile_value: str | None = None) -> dict[str, object]:
    """What `hardware.json` records about precision, and what notebooks print. `source` says who
    asked for `requested`: "profile", or `ENV_VAR` when the environment variable overrode the
    profile's `profile_value`."""
    if native_bf16 is None:
        native_bf16 = has_native_bf16(device)
    forced = source == ENV_VAR
    by = (f"forced by {ENV_VAR}" + (f" over the profile's {profile_value}" if profile_value else "")) if forced else "set by the profile"
    if requested == "auto":
        why = ("native bf16" if native_bf16 else "no native bf16 on this device") + (f"; {by}" if forced else "")
    else:
        why = by + ("; this device emulates bf16, slowly" if used == "bf16" and not native_bf16 else "")
    info = {"requested": requested, "used": used, "device": device, "native_bf16": bool(native_bf16), "source": source,
            "summary": f"precision {used} ({requested}: {why})"}
    if forced:
        info["profile"] = profile_value
    return info
