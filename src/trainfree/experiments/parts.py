"""The detector on a folder of Parquet parts, on Dask's scheduler in effect or on a ``dask.distributed`` one."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from .._errors import TrainfreeError
from ..data.parquet_parts import ParquetParts
from ..result import ExampleResult
from .noise import score_dataset

#: The detector's modes that score a Dask array; the others need every row in one place.
PARTS_METHODS = ("auto", "lowrank")


def score_parquet_parts(parts: ParquetParts, *, scheduler: str | None = None, noise_rate: float = 0.0,
                        noise_mode: str = "symmetric", random_state: Any = None,
                        **score_options: Any) -> ExampleResult:
    """:func:`score_dataset` with ``score="mislabel"`` on Parquet parts, in the low-rank mode.

    Parameters
    ----------
    parts : ParquetParts
        From :func:`trainfree.data.read_parquet_parts`.
    scheduler : str, optional
        The address of a running ``dask.distributed`` scheduler (e.g. ``"tcp://10.0.0.5:8786"``):
        a ``distributed.Client`` connected to it runs the work and is closed afterwards. Default:
        whatever Dask uses in this process (a client you opened, else its threaded scheduler).
    noise_rate, noise_mode, random_state
        As for :func:`score_dataset`.
    **score_options
        :func:`~trainfree.scores.mislabel_score` options; ``method`` must be ``"auto"`` or ``"lowrank"``.

    Returns
    -------
    ExampleResult
        The detector's result, rows in the parts' order, with ``row_id`` and ``label``.

    Examples
    --------
    >>> from trainfree.data import read_parquet_parts
    >>> res = score_parquet_parts(read_parquet_parts("parts/"), method="auto")  # doctest: +SKIP
    """
    method = score_options.setdefault("method", "auto")
    if method not in PARTS_METHODS:
        raise TrainfreeError(f"Parquet parts are scored by the low-rank mode, which never gathers their rows; "
                             f"pass method='auto' or method='lowrank' (got method={method!r}).")
    for option in ("n_jobs", "checkpoint"):
        score_options.pop(option, None)  # the low-rank mode has no work units
    with _client(scheduler):
        return score_dataset(parts, score="mislabel", noise_rate=noise_rate, noise_mode=noise_mode,
                             random_state=random_state, **score_options)


@contextlib.contextmanager
def _client(address: str | None) -> Iterator[None]:
    """A ``distributed.Client`` on ``address`` for the duration, or nothing (Dask's scheduler in effect)."""
    if address is None:
        yield
        return
    if not isinstance(address, str) or not address:
        raise TrainfreeError(f"The 'scheduler' parameter must be the address of a dask.distributed scheduler, e.g. "
                             f"'tcp://127.0.0.1:8786'; got {address!r}.")
    try:
        import distributed
    except ImportError:
        raise TrainfreeError("The 'scheduler' parameter needs dask.distributed: pip install distributed.") from None
    try:
        client = distributed.Client(address, timeout="10s")
    except (OSError, TimeoutError, ValueError) as exc:
        raise TrainfreeError(f"Cannot reach the Dask scheduler at {address} ({str(exc).splitlines()[0]}); start "
                             f"one (dask scheduler) or fix the 'scheduler' parameter.") from None
    with client:
        yield
