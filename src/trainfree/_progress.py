"""Progress bars for the long steps, shown only where someone watches.

Library loops wrap their iterations in :func:`bar` and whole phases in :func:`step`. Both stay
silent unless progress was switched on for the current context (:func:`showing`): the command line
switches it on when stderr is a terminal and ``--quiet`` is absent, so pipes, logs and tests never
see a bar. A bar appears only once its step has run for a second (tqdm's ``delay``), so short steps
print nothing at all, and it is erased when done (``leave=False``).
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TypeVar

T = TypeVar("T")
_SHOW = contextvars.ContextVar("trainfree_progress", default=False)
DELAY_S = 1.0


@contextmanager
def showing(on: bool = True) -> Iterator[None]:
    """Show (or hide) progress bars inside the ``with`` block.

    Examples
    --------
    >>> with showing(False):
    ...     list(bar(range(3), desc="quiet"))
    [0, 1, 2]
    """
    token = _SHOW.set(bool(on))
    try:
        yield
    finally:
        _SHOW.reset(token)


def enabled() -> bool:
    """Whether progress bars are on in this context."""
    return _SHOW.get()


def bar(iterable: Iterable[T], *, desc: str, total: int | None = None, unit: str = "it") -> Iterable[T]:
    """``iterable`` with a progress bar when progress is on; the iterable itself otherwise."""
    if not _SHOW.get():
        return iterable
    from tqdm.auto import tqdm

    return tqdm(iterable, desc=desc, total=total, unit=unit, delay=DELAY_S, leave=False, dynamic_ncols=True)


@contextmanager
def step(desc: str) -> Iterator[None]:
    """A phase without countable parts (a factorisation, loading a file): its elapsed time, ticking.

    Nothing is shown for a phase shorter than a second or when progress is off.
    """
    if not _SHOW.get():
        yield
        return
    from tqdm.auto import tqdm

    done = threading.Event()
    ticker = tqdm(desc=desc, total=None, bar_format="{desc} {elapsed}", delay=DELAY_S, leave=False)

    def tick() -> None:  # a thread, because the step itself is one long call that cannot report
        if done.wait(DELAY_S):
            return
        while not done.wait(0.5):
            ticker.refresh()

    thread = threading.Thread(target=tick, daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()
        ticker.close()

