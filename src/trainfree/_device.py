"""Where and in what precision to compute, and whether it fits in memory before anything is allocated."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from joblib import effective_n_jobs

from ._errors import TrainfreeError


def resolve_device(device: str | torch.device | None) -> torch.device:
    """``None``/"auto" picks CUDA when present; asking for CUDA without one is an error, not a fallback."""
    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise TrainfreeError(f"Unknown device {device!r}: use 'cpu', 'cuda' (or 'cuda:0', ...) or 'auto'.") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise TrainfreeError("device='cuda' was requested but no CUDA GPU is available. Use device='cpu'.")
    return dev


def resolve_dtype(dtype: Any) -> torch.dtype:
    """Map "float32"/"float64"/numpy/torch dtypes to a torch floating dtype."""
    table = {"float32": torch.float32, "float64": torch.float64, np.float32: torch.float32,
             np.float64: torch.float64, torch.float32: torch.float32, torch.float64: torch.float64}
    key = np.dtype(dtype).type if isinstance(dtype, np.dtype) else dtype
    if key not in table:
        raise TrainfreeError(f"The 'dtype' parameter must be 'float32' or 'float64'. Got {dtype!r} instead.")
    return table[key]


MEMORY_FRACTION = 0.8  # of the memory free now, what one computation may plan to allocate


def memory_budget(device: str | torch.device | None = None) -> float:
    """Bytes a computation on ``device`` may allocate: 80% of the free memory of that CUDA device, else of the host's.

    Examples
    --------
    >>> memory_budget("cpu") > 0
    True
    """
    dev = torch.device("cpu" if device is None else device)
    if dev.type == "cuda":
        return MEMORY_FRACTION * torch.cuda.mem_get_info(dev)[0]
    return MEMORY_FRACTION * _available_memory()


def check_memory(n_bytes: float, *, what: str, alternative: str, budget: float | None = None,
                 device: str | torch.device | None = None) -> None:
    """Refuse before allocating when an estimate exceeds ``budget`` (default: :func:`memory_budget` of ``device``)."""
    if budget is None:
        budget = memory_budget(device)
    if n_bytes > budget:
        raise TrainfreeError(f"{what} needs about {n_bytes / 2**30:.1f} GiB but only {budget / 2**30:.1f} GiB is "
                             f"available. {alternative}")


def _available_memory() -> float:
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return float(line.split()[1]) * 1024
    except OSError:
        pass
    return 8 * 2**30  # unknown platform: assume a modest machine


def concurrent_units(n_jobs: int | None) -> int:
    """How many joblib work units may run at once under the active backend (memory checks multiply by it)."""
    return max(1, int(effective_n_jobs(n_jobs)))
