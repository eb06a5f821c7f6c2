"""Pick a torch device: CUDA, then Apple MPS, then the CPU (always there, and the one tested here).

Also the few device-specific calls the trainer and the benchmarks share, so that CUDA code paths are
the same code on the CPU: `synchronize`, `autocast` (fp32 or bf16 mixed precision), `bf16_supported`
and `describe`.
"""
from __future__ import annotations

import contextlib
import os
import threading

import torch

from .config import ConfigError

PRECISIONS = ("fp32", "bf16")  # bf16: torch.autocast around the forward pass; weights and optimizer stay fp32


def available() -> list[str]:
    found = ["cpu"]
    if torch.cuda.is_available():
        found.append("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        found.append("mps")
    return found


def resolve(name: str = "auto") -> torch.device:
    """'auto' picks the fastest device present; naming one that is absent is a clear error."""
    have = available()
    if name == "auto":
        return torch.device("cuda" if "cuda" in have else "mps" if "mps" in have else "cpu")
    if name not in have:
        raise ConfigError("error.config_device_unavailable", name=repr(name), have=", ".join(have))
    return torch.device(name)


def synchronize(device: torch.device | str) -> None:
    """Wait for the device's queued work (a no-op on the CPU): timings must call it before reading the clock."""
    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def bf16_supported(device: torch.device | str) -> bool:
    """Whether bf16 matmuls run natively (CUDA compute capability >= 8, a CPU with AVX-512 BF16 or AMX)."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())
    return False


def check_precision(precision: str) -> str:
    if precision not in PRECISIONS:
        raise ConfigError("error.config_choice", name="precision", choices=", ".join(PRECISIONS), value=repr(precision))
    return precision


def autocast(device: torch.device | str, precision: str = "fp32"):
    """A context for the forward pass: nothing for fp32, torch.autocast(bfloat16) for bf16."""
    if check_precision(precision) == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(torch.device(device).type, dtype=torch.bfloat16)


def describe(device: torch.device | str) -> str:
    """'cuda:0 (NVIDIA H200, 139 GiB)' or 'cpu (2 torch threads)': for logs and benchmark tables."""
    device = torch.device(device)
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        props = torch.cuda.get_device_properties(index)
        return f"cuda:{index} ({props.name}, {props.total_memory / 2**30:.0f} GiB)"
    if device.type == "cpu":
        return f"cpu ({torch.get_num_threads()} torch threads)"
    return str(device)


_threads_lock = threading.Lock()
_threads_set: int | None = None


def bound_threads() -> int:
    """Bound torch's intra-op threads once per process (env MINIGPT_TORCH_THREADS, default half the cores).

    torch.set_num_threads is process-wide: it limits every training job *and* every page's trace
    together, so one job cannot take all cores from the other sessions' reruns. Returns the bound.
    """
    global _threads_set
    with _threads_lock:
        if _threads_set is None:
            default = max(1, (os.cpu_count() or 2) // 2)
            try:
                n = int(os.environ.get("MINIGPT_TORCH_THREADS", default))
            except ValueError:
                n = default
            _threads_set = max(1, n)
            torch.set_num_threads(_threads_set)
        return _threads_set
