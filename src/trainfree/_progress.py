"""Progress of the long steps, shown only where someone watches: bars on a terminal, lines in a log.

Library loops wrap their iterations in :func:`bar` and whole phases in :func:`step`. Both stay
silent unless progress was switched on for the current context (:func:`showing`). The command line
switches bars on when stderr is a terminal, and log lines when it is not (output redirected to a
file, a batch job); ``--quiet`` silences both, and library calls and tests see nothing unless they
ask. A bar appears only once its step has run for a second (tqdm's ``delay``), so short steps print
nothing at all, and it is erased when done (``leave=False``). In a log, a bar or step writes one line
at most every :data:`LOG_EVERY_S` seconds (none for a shorter one) and a last line when it ends::

    [trainfree] leave-one-out chunks: 12/40 (30%), 1m02s elapsed, ~2m25s left
"""

from __future__ import annotations

import contextvars
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import TypeVar

T = TypeVar("T")
# "bars", "log" or "" (off), and the clock that log lines measure time with (a test passes a fake one).
_SHOW = contextvars.ContextVar("trainfree_progress", default="")
_CLOCK: contextvars.ContextVar[Callable[[], float]] = contextvars.ContextVar("trainfree_clock",
                                                                            default=time.monotonic)
DELAY_S = 1.0
LOG_EVERY_S = 30.0


@contextmanager
def showing(on: bool = True, *, log: bool = False, clock: Callable[[], float] = time.monotonic) -> Iterator[None]:
    """Show (or hide) progress inside the ``with`` block: bars, or with ``log=True`` log lines on stderr.

    ``clock`` (seconds, monotonic) times the log lines; tests pass a fake one.

    Examples
    --------
    >>> with showing(False):
    ...     list(bar(range(3), desc="quiet"))
    [0, 1, 2]
    """
    token = _SHOW.set(("log" if log else "bars") if on else "")
    clock_token = _CLOCK.set(clock)
    try:
        yield
    finally:
        _CLOCK.reset(clock_token)
        _SHOW.reset(token)


def enabled() -> bool:
    """Whether progress (bars or log lines) is on in this context."""
    return bool(_SHOW.get())


def bar(iterable: Iterable[T], *, desc: str, total: int | None = None, unit: str = "it",
        show: bool = False) -> Iterable[T]:
    """``iterable`` with a progress bar (or log lines) when progress is on; the iterable itself otherwise.

    ``show=True`` draws a bar even where progress is off: a function's own ``progress=True``.
    """
    mode = _SHOW.get() or ("bars" if show else "")
    if not mode:
        return iterable
    if total is None and hasattr(iterable, "__len__"):
        total = len(iterable)  # type: ignore[arg-type]
    if mode == "log":
        return _logged(iterable, desc, total)
    from tqdm.auto import tqdm

    return tqdm(iterable, desc=desc, total=total, unit=unit, delay=DELAY_S, leave=False, dynamic_ncols=True)


@contextmanager
def step(desc: str) -> Iterator[None]:
    """A phase without countable parts (a factorisation, loading a file): its elapsed time, ticking.

    Nothing is shown for a phase shorter than a second (a log: :data:`LOG_EVERY_S`) or when progress is off.
    """
    mode = _SHOW.get()
    if not mode:
        yield
        return
    done = threading.Event()
    if mode == "log":
        now = _CLOCK.get()
        start = now()

        def tick() -> None:  # a thread, because the step itself is one long call that cannot report
            while not done.wait(LOG_EVERY_S):
                log_line(f"{desc}: {duration(now() - start)} elapsed")
    else:
        from tqdm.auto import tqdm

        ticker = tqdm(desc=desc, total=None, bar_format="{desc} {elapsed}", delay=DELAY_S, leave=False)

        def tick() -> None:
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
        if mode == "log":
            if now() - start >= LOG_EVERY_S:
                log_line(f"{desc}: done in {duration(now() - start)}")
        else:
            ticker.close()


def _logged(iterable: Iterable[T], desc: str, total: int | None) -> Iterator[T]:
    """The items of ``iterable``; every :data:`LOG_EVERY_S` seconds a line of how many are done, and a last one."""
    now = _CLOCK.get()
    start = last = now()
    done, said = 0, False
    for item in iterable:
        yield item
        done += 1
        if now() - last >= LOG_EVERY_S:
            last, said = now(), True
            log_line(_count_line(desc, done, total, last - start))
    if said:
        log_line(_count_line(desc, done, total, now() - start))


def _count_line(desc: str, done: int, total: int | None, elapsed: float) -> str:
    """``desc: 12/40 (30%), 1m02s elapsed, ~2m25s left`` (without a total: ``desc: 12 done, 1m02s elapsed``)."""
    if not total:
        return f"{desc}: {done} done, {duration(elapsed)} elapsed"
    text = f"{desc}: {done}/{total} ({done / total:.0%}), {duration(elapsed)} elapsed"
    return text + (f", ~{duration(elapsed / done * (total - done))} left" if 0 < done < total else "")


def log_line(text: str) -> None:
    """One progress line on stderr: ``[trainfree] text``."""
    print(f"[trainfree] {text}", file=sys.stderr, flush=True)


def duration(seconds: float) -> str:
    """A duration as a log shows it.

    Examples
    --------
    >>> duration(5.2), duration(62), duration(3725)
    ('5s', '1m02s', '1h02m')
    """
    s = int(round(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"
