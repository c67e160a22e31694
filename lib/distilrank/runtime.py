"""Run-time helpers every notebook uses: seeds, device and precision, figures, wall time, hardware."""

from __future__ import annotations

import contextlib
import os
import random
import time
from pathlib import Path

import numpy as np

from distilrank import precision as precision_
from distilrank.paths import atomic_path, output_dir, write_json


def set_seed(seed: int) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA) and ask torch for deterministic kernels."""
    random.seed(seed)
    np.random.seed(seed)
    os.environ.setdefault("PYTHONHASHSEED", str(seed))
    try:
        import torch
    except ImportError:
        return
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)


def pick_device(requested: str = "auto") -> str:
    """`cuda` when requested or available (for `auto`), else `cpu`; errors if cuda is absent."""
    import torch

    if requested == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device: cuda requested but torch sees no CUDA device")
    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return requested


def save_figure(fig, profile: str, name: str) -> Path:
    """Save a matplotlib/seaborn figure to `outputs/<profile>/figures/<name>.png` atomically."""
    path = output_dir(profile) / "figures" / f"{name}.png"
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
    return path


class Stopwatch:
    """Wall time since construction, for each notebook's closing line."""

    def __init__(self) -> None:
        self.start = time.perf_counter()

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def __str__(self) -> str:
        s = self.elapsed()
        return f"{s / 60:.1f} min" if s >= 90 else f"{s:.1f} s"


ISA_CAPS = ("ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA", "MKL_ENABLE_INSTRUCTIONS")  # what holds a fast CPU to an older instruction set


def isa_caps(environ: dict[str, str] | None = None) -> dict[str, str]:
    """The instruction-set caps set in the environment (`ISA_CAPS`, e.g. `ATEN_CPU_CAPABILITY=avx2`):
    a run held to AVX2 on an AVX-512 CPU says so beside its CPU's name."""
    env = os.environ if environ is None else environ
    return {k: env[k] for k in ISA_CAPS if env.get(k, "").strip()}


def hardware() -> dict[str, str | int | dict | None]:
    """What this run ran on: CPU model and usable cores, memory, torch, the GPU when present, and
    the instruction-set caps in force (`isa_caps`)."""
    import platform

    import torch

    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError, StopIteration):
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    mem_gb = None
    try:
        kb = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal"))
        mem_gb = round(kb / 2**20)
    except (OSError, StopIteration):
        pass
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    caps = isa_caps()
    summary = (f"{cpu}, {cores} cores" + (f", {mem_gb} GB RAM" if mem_gb else "") + (f", GPU {gpu}" if gpu else ", no GPU")
               + (f" (instruction set capped: {', '.join(f'{k}={v}' for k, v in caps.items())})" if caps else ""))
    return {"cpu": cpu, "cores": cores, "memory_gb": mem_gb, "gpu": gpu, "torch": torch.__version__, "isa_caps": caps,
            "summary": f"{summary}; torch {torch.__version__}"}


HARDWARE_FILE = "hardware.json"


def record_hardware(profile: str, precision: dict[str, object]) -> dict[str, object]:
    """Write `outputs/<profile>/hardware.json` (results.json's companion): the machine and the
    precision the run used, atomically; returns what it wrote."""
    machine = {**hardware(), "precision": precision}
    machine["summary"] = f"{machine['summary']}; {precision['summary']}"
    write_json(machine, output_dir(profile) / HARDWARE_FILE)
    return machine


def start_run(cfg) -> tuple[str, str]:
    """A training or scoring notebook's first step: seed, then the device and precision it runs at
    (`cfg.device`, and `cfg.precision` or `$DISTILRANK_PRECISION` when set, resolved on this
    hardware), recorded in hardware.json and printed. Returns (device, precision)."""
    set_seed(cfg.seed)
    requested, source = precision_.requested(cfg.precision)  # the environment variable overrides the profile
    device = pick_device(cfg.device)
    native = precision_.has_native_bf16(device)  # read once: resolve and describe both need it
    used = precision_.resolve(requested, device, native_bf16=native)
    info = precision_.describe(requested, used, device, native_bf16=native, source=source,
                               profile_value=cfg.precision if source != "profile" else None)
    machine = record_hardware(cfg.profile, info)
    print(f"profile {cfg.profile!r} on {device}, {info['summary']}; {machine['cpu']}, {machine['cores']} cores")
    return device, used
