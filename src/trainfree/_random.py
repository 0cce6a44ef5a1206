"""The one seed contract.

Every public function takes ``random_state`` as None, a non-negative int (NumPy integers
included), a ``np.random.Generator`` or a ``np.random.SeedSequence``. :func:`check_random_state`
turns it into a ``SeedSequence`` once per entry point; each consumer (data subsample, label noise,
model initialisation, Monte Carlo, ...) then gets its own child from :func:`child`, keyed by the
consumer's name, so two consumers never share a stream and adding one does not shift another.
Results record :func:`seed_record` of the root sequence, which reproduces the run.

An int seed ``s`` gives exactly ``np.random.default_rng(s)`` to a function that draws directly
from it (``default_rng(s)`` is ``default_rng(SeedSequence(s))``).
"""

from __future__ import annotations

import numbers
import zlib
from typing import Any, Union

import numpy as np
import torch

from ._errors import TrainfreeError

SeedLike = Union[None, int, np.integer, np.random.Generator, np.random.SeedSequence]


def check_random_state(random_state: Any, *, name: str = "random_state") -> np.random.SeedSequence:
    """Normalise a seed into a ``SeedSequence``.

    None draws fresh entropy (recorded in results, so the run can be repeated); an int is used
    as the entropy; a Generator gives a sequence seeded from one draw of it (so the caller's
    generator advances, as in scikit-learn); a SeedSequence is used as is.

    Examples
    --------
    >>> check_random_state(3).entropy
    3
    >>> check_random_state(np.int64(3)).entropy
    3
    """
    if isinstance(random_state, np.random.SeedSequence):
        return random_state
    if isinstance(random_state, np.random.Generator):
        return np.random.SeedSequence(int(random_state.integers(2**63)))
    if random_state is None:
        return np.random.SeedSequence()
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, (bool, np.bool_)):
        if random_state < 0:
            raise TrainfreeError(f"The {name!r} parameter must be a non-negative int. Got {int(random_state)} "
                                 f"instead.")
        return np.random.SeedSequence(int(random_state))
    raise TrainfreeError(f"The {name!r} parameter must be None, a non-negative int, a numpy Generator or a "
                         f"numpy SeedSequence. Got {random_state!r} ({type(random_state).__name__}) instead.")


def child(seed: np.random.SeedSequence, consumer: str) -> np.random.SeedSequence:
    """The child sequence of ``seed`` reserved for ``consumer`` (a stable name such as ``"noise"``).

    Keyed by name, not by spawn order: asking twice gives the same child, and adding a consumer
    elsewhere leaves every other child unchanged.

    Examples
    --------
    >>> s = check_random_state(0)
    >>> child(s, "noise").spawn_key == child(s, "noise").spawn_key != child(s, "model").spawn_key
    True
    """
    return np.random.SeedSequence(seed.entropy, spawn_key=(*seed.spawn_key, zlib.crc32(consumer.encode())),
                                  pool_size=seed.pool_size)


def unit_child(seed: np.random.SeedSequence, index: int) -> np.random.SeedSequence:
    """The ``index``-th child for numbered work units (Monte Carlo batches, stochastic repeats).

    The same sequence as ``seed.spawn(...)[index]`` of a fresh ``seed``, without ``spawn``'s
    hidden counter: a resumed or re-dispatched unit gets exactly its original stream.

    Examples
    --------
    >>> s = np.random.SeedSequence(3)
    >>> unit_child(s, 1).spawn_key == np.random.SeedSequence(3).spawn(2)[1].spawn_key
    True
    """
    return np.random.SeedSequence(seed.entropy, spawn_key=(*seed.spawn_key, int(index)), pool_size=seed.pool_size)


def rng(seed: np.random.SeedSequence) -> np.random.Generator:
    """A NumPy Generator drawing from ``seed``."""
    return np.random.default_rng(seed)


def int_seed(seed: np.random.SeedSequence, *, bits: int = 63) -> int:
    """A non-negative int below ``2**bits`` for libraries that want one (torch, mnist1d).

    A root sequence made from an int ``s`` gives ``s`` itself (when it fits), so ``random_state=s``
    seeds torch exactly as ``torch.manual_seed(s)`` would; children get a hash of their state.
    """
    if not seed.spawn_key and isinstance(seed.entropy, int) and seed.entropy < 2**bits:
        return seed.entropy
    return int(seed.generate_state(1, np.uint64)[0] >> np.uint64(64 - bits))


def torch_generator(seed: np.random.SeedSequence, device: str | torch.device = "cpu") -> torch.Generator:
    """A torch Generator on ``device`` seeded from ``seed``; the global torch stream is never touched."""
    return torch.Generator(device=device).manual_seed(int_seed(seed))


def seed_record(seed: np.random.SeedSequence) -> int | dict[str, Any]:
    """What a result stores: the entropy, plus the spawn key when the sequence is a child.

    Examples
    --------
    >>> seed_record(check_random_state(7))
    7
    """
    entropy = seed.entropy if isinstance(seed.entropy, int) else [int(e) for e in seed.entropy]
    return entropy if not seed.spawn_key else {"entropy": entropy, "spawn_key": list(seed.spawn_key)}


def from_record(record: int | dict[str, Any]) -> np.random.SeedSequence:
    """Rebuild the SeedSequence that :func:`seed_record` described."""
    if isinstance(record, dict):
        return np.random.SeedSequence(record["entropy"], spawn_key=tuple(record["spawn_key"]))
    return np.random.SeedSequence(record)
