"""Where and in what precision to compute, and whether it fits in memory before anything is allocated."""

from __future__ import annotations

import os
import warnings
from typing import Any

import numpy as np
import torch
from joblib import effective_n_jobs
from joblib.parallel import get_active_backend

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


# joblib back-ends that run on this machine; others (Dask, Ray) bring their own workers and are never capped.
LOCAL_BACKENDS = ("LokyBackend", "MultiprocessingBackend", "ThreadingBackend", "SequentialBackend")


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity where the platform tells it, else ``os.cpu_count``)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def concurrent_units(n_jobs: int | None, n_units: int | None = None) -> int:
    """How many joblib work units run at once under the active backend (memory checks multiply by it).

    On a local backend (processes or threads of this machine) that is ``n_jobs`` capped at the
    machine's cores and at the ``n_units`` there are; a cluster backend (``parallel_config(backend=
    "dask")``) runs as many as its workers take, capped at ``n_units`` only.

    Examples
    --------
    >>> concurrent_units(1), concurrent_units(-1, n_units=1)
    (1, 1)
    """
    wanted = max(1, int(effective_n_jobs(n_jobs)))
    if _local_backend():
        wanted = min(wanted, available_cores())
    return wanted if n_units is None else max(1, min(wanted, n_units))


def parallel_n_jobs(n_jobs: int | None, n_units: int) -> int | None:
    """The ``n_jobs`` to give ``joblib.Parallel`` for ``n_units`` work units: never more workers than cores or units.

    More processes than cores only compete for them (and each one costs memory and semaphores), so
    on a local backend the count is capped at :func:`available_cores`, with one warning when the
    request exceeded them, and at ``n_units``. Under a cluster backend ``n_jobs`` is passed on as given.

    Examples
    --------
    >>> parallel_n_jobs(None, 10)
    1
    >>> parallel_n_jobs(-1, 1)
    1
    """
    if not _local_backend():
        return n_jobs
    wanted, cores = max(1, int(effective_n_jobs(n_jobs))), available_cores()
    if wanted > cores:
        warnings.warn(f"n_jobs={n_jobs if n_jobs is not None else wanted} asks for more workers than the {cores} "
                      f"cores of this machine; running {cores} at a time.", RuntimeWarning, stacklevel=3)
    return concurrent_units(n_jobs, n_units)


def _local_backend() -> bool:
    backend, _ = get_active_backend()
    return type(backend).__name__ in LOCAL_BACKENDS
