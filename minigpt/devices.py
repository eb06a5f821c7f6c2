"""Pick a torch device: CUDA, then Apple MPS, then the CPU (always there, and the one tested here)."""
from __future__ import annotations

import torch

from .config import ConfigError


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
        raise ConfigError(f"Device {name!r} is not available here; this machine has {', '.join(have)}.")
    return torch.device(name)
