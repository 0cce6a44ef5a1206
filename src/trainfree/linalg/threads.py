"""The one thread rule of the linear algebra: how many CPU threads a LAPACK call or a small solve gets.

Multi-threaded LAPACK whose threads spin-wait between many small steps collapses when other
processes want the same cores, so the calls that suffer from it run inside :func:`lapack_threads`
(the cores no other process is using) and many small operations inside :func:`one_thread`.
Only speed depends on it, not the numbers beyond rounding.
"""

from __future__ import annotations

import os
from contextlib import contextmanager

import torch
from threadpoolctl import threadpool_limits


@contextmanager
def torch_threads(limit: int | None):
    """torch's intra-op threads capped at ``limit`` inside (None: unchanged); re-entrant, restores the caller's count."""
    if limit is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(limit)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@contextmanager
def lapack_threads():
    """Run the LAPACK calls inside on the cores no other process is using: all of them on an idle machine.

    Multi-threaded LAPACK whose threads spin-wait between many small steps collapses when other
    processes want the same cores: on 2 cores at load average 7-8, torch's ``eigh`` of 2 000 × 2 000
    took 84 s with two threads against 6.2 s with one (and 36 s in a λ search beside one other busy
    process), and SciPy's ``trtri`` was 5× slower (n = 3 000-6 000); on an idle machine two threads make
    ``trtri`` 2.3× faster (n = 10 000). So the calls inside get the cores no other process is running
    on at the moment (from /proc: runnable threads less this process's own), at least one. Cholesky
    and matrix products keep their speed under load, so only the calls inside this context are
    limited. Only speed depends on it, not the numbers beyond rounding.
    """
    limit = _lapack_threads()
    if limit is None:
        yield
        return
    with torch_threads(limit), threadpool_limits(limits=limit, user_api="blas"):
        yield


def _lapack_threads() -> int | None:
    """Threads for the limited LAPACK calls: None (all) when every core is idle, else the idle cores (≥ 1)."""
    cpus = os.cpu_count() or 1
    others = _other_runnable()
    if others is None:  # no /proc: fall back on the load average, which counts this process too
        try:
            others = os.getloadavg()[0] - cpus
        except OSError:
            return None
    free = cpus - round(others)
    return None if free >= cpus else max(1, free)


def _other_runnable() -> int | None:
    """Threads of other processes runnable right now (Linux /proc), or None where unknown."""
    try:
        with open("/proc/loadavg") as fh:
            runnable = int(fh.read().split()[3].split("/")[0])
        own = 0
        for task in os.listdir("/proc/self/task"):
            with open(f"/proc/self/task/{task}/stat") as fh:
                own += fh.read().rsplit(")", 1)[1].split()[0] == "R"
    except (OSError, ValueError, IndexError):
        return None
    return max(0, runnable - own)


@contextmanager
def one_thread(device: torch.device):
    """Many small operations on one CPU thread (re-entrant; restores the caller's count; no limit on a GPU).

    On a shared CPU two intra-op threads wait for each other at every barrier whenever one is
    descheduled: on the 2-core machine under load, a Cholesky of 10 × (144×144) took 0.40 s on 2
    threads vs 0.0055 s on 1, a triangular solve against 1 200 columns 0.23 s vs 0.03 s, allocating a
    500×500 factor 20 ms; large matrix products were about as fast on one thread as on two.
    """
    with torch_threads(1 if device.type == "cpu" else None):
        yield
