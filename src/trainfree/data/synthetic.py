"""Synthetic data: the 2-D Ising model (a regression target)."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from .._errors import TrainfreeError
from .._random import SeedLike, check_random_state
from .._random import rng as make_rng
from .._validation import check_param
from .dataset import Dataset


def ising_energy(spins: Any) -> np.ndarray:
    """Energy per spin of 2-D Ising configurations: ``-sum over bonds s_i s_j / L**2`` (J = 1, no field).

    Each nearest-neighbour bond of the periodic ``L x L`` lattice is counted once.

    Parameters
    ----------
    spins : array-like of shape (n, L, L) or (L, L)
        Values ±1.

    Returns
    -------
    ndarray of shape (n,) (or a 0-D array for one lattice)

    Examples
    --------
    >>> float(ising_energy(np.ones((4, 4))))
    -2.0
    """
    s = np.asarray(spins, dtype=np.float64)
    if s.ndim not in (2, 3) or s.shape[-1] != s.shape[-2]:
        raise TrainfreeError(f"spins must have shape (n, L, L) or (L, L), got {s.shape}.")
    bonds = s * (np.roll(s, -1, axis=-1) + np.roll(s, -1, axis=-2))
    return -bonds.sum(axis=(-2, -1)) / (s.shape[-1] ** 2)


def make_ising(n_samples: int, *, size: int = 8, temperatures: tuple[float, float] = (1.5, 3.5),
               sweeps: int = 300, random_state: SeedLike = None) -> Dataset:
    """2-D Ising configurations by Metropolis Monte Carlo, with the energy per spin as regression target.

    Each sample is an independent chain on a periodic ``size x size`` lattice (J = 1, no field) at a
    temperature drawn uniformly from ``temperatures``. Chains start fully ordered with a random sign
    (which avoids metastable stripes below T_c ~ 2.269) and run ``sweeps`` checkerboard sweeps,
    all chains at once in NumPy.

    Parameters
    ----------
    n_samples : int
    size : int
        Even lattice side, at least 4 (the checkerboard update needs an even periodic lattice).
    temperatures : (float, float)
        Range of temperatures, ``0 < low <= high``.
    sweeps : int
        Metropolis sweeps per chain.
    random_state : None, int, Generator or SeedSequence

    Returns
    -------
    Dataset
        ``X`` the spins ±1 of shape (n_samples, size**2), ``image_shape=(1, size, size)``, ``y`` the
        float energy per spin, ``extras`` with ``"temperature"`` and ``"magnetisation"`` per spin.

    Examples
    --------
    >>> ds = make_ising(10, size=4, sweeps=20, random_state=0)
    >>> ds.X.shape, ds.task
    ((10, 16), 'regression')
    """
    check_param("n_samples", n_samples, numbers.Integral, low=1)
    check_param("size", size, numbers.Integral, low=4)
    if size % 2:
        raise TrainfreeError(f"size must be even for checkerboard updates on a periodic lattice; got {size}.")
    check_param("sweeps", sweeps, numbers.Integral, low=1)
    if (len(temperatures) != 2 or not all(isinstance(t, numbers.Real) for t in temperatures)
            or not 0 < temperatures[0] <= temperatures[1]):
        raise TrainfreeError(f"temperatures must be a (low, high) pair with 0 < low <= high; got {temperatures!r}.")
    rng = make_rng(check_random_state(random_state))
    T = rng.uniform(temperatures[0], temperatures[1], n_samples)
    beta = (1.0 / T)[:, None, None]
    s = np.where(rng.random(n_samples) < 0.5, -1, 1).astype(np.int8)[:, None, None] * np.ones((size, size), np.int8)
    black = (np.add.outer(np.arange(size), np.arange(size)) % 2 == 0)
    for _ in range(sweeps):
        for sites in (black, ~black):  # same-colour sites share no bond, so they update together exactly
            field_ = (np.roll(s, 1, 1) + np.roll(s, -1, 1) + np.roll(s, 1, 2) + np.roll(s, -1, 2))
            accept = rng.random(s.shape) < np.exp(-2.0 * beta * s * field_)
            s = np.where(sites & accept, -s, s)
    return Dataset(s.reshape(n_samples, -1), ising_energy(s), (), (1, size, size), "ising",
                   {"temperature": T, "magnetisation": s.mean(axis=(1, 2))})
