"""Progress in logs: without a terminal, long steps write a line at most every LOG_EVERY_S seconds.

The clock is injected (a fake one that tests advance), so nothing here depends on the machine's speed.
"""

import itertools

import numpy as np
import pytest

from trainfree import _progress, cli
from trainfree._progress import bar, duration, showing, step
from trainfree.cli import main


class FakeClock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


def test_a_loop_in_a_log_writes_a_line_every_30_s_with_count_elapsed_and_eta(capsys):
    clock = FakeClock()
    with showing(True, log=True, clock=clock):
        for _ in bar(range(40), desc="leave-one-out chunks"):
            clock.t += 5.2  # 40 items of 5.2 s: lines after items 6, 12, 18, 24, 30, 36, and one at the end
    lines = capsys.readouterr().err.splitlines()
    assert lines[0] == "[trainfree] leave-one-out chunks: 6/40 (15%), 31s elapsed, ~2m57s left"
    assert lines[1] == "[trainfree] leave-one-out chunks: 12/40 (30%), 1m02s elapsed, ~2m26s left"
    assert len(lines) == 7 and lines[-1] == "[trainfree] leave-one-out chunks: 40/40 (100%), 3m28s elapsed"


def test_short_steps_and_loops_write_nothing_and_long_steps_say_when_done(capsys):
    clock = FakeClock()
    with showing(True, log=True, clock=clock):
        for _ in bar(range(5), desc="short"):
            clock.t += 1.0
        with step("factorising"):
            clock.t += 10.0
    assert capsys.readouterr().err == ""
    with showing(True, log=True, clock=clock), step("factorising the kernel"):
        clock.t += 95.0
    assert capsys.readouterr().err == "[trainfree] factorising the kernel: done in 1m35s\n"
    # Without a total: the count alone.
    with showing(True, log=True, clock=clock):
        for _ in bar(iter(range(3)), desc="batches"):
            clock.t += 31.0
    assert capsys.readouterr().err.splitlines()[-1] == "[trainfree] batches: 3 done, 1m33s elapsed"


def test_library_calls_stay_silent_unless_progress_is_switched_on(capsys):
    clock = FakeClock()
    items = range(3)
    assert bar(items, desc="off") is items
    with showing(False, log=True, clock=clock), step("off"):
        for _ in bar(items, desc="off"):
            clock.t += 100.0
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("seconds, text", [(0.4, "0s"), (59.6, "1m00s"), (3599, "59m59s"), (86400, "24h00m")])
def test_durations(seconds, text):
    assert duration(seconds) == text


def test_cli_without_a_terminal_logs_progress_and_quiet_silences_it(tmp_path, capsys, monkeypatch, rng):
    # A fake clock 30 s later at every reading: a line for each item, whatever the machine's load (a zero interval
    # instead would let the step threads write lines as fast as they can, between the counted ones).
    ticks = itertools.count(step=_progress.LOG_EVERY_S)
    monkeypatch.setattr(cli, "showing", lambda on, log: showing(on, log=log, clock=lambda: float(next(ticks))))
    np.savez(tmp_path / "d.npz", X=rng.normal(size=(90, 6)), y=np.repeat([0, 1, 2], 30))
    argv = ["score", "mislabel", "--data", str(tmp_path / "d.npz"), "--method", "stochastic", "--chunk-size", "30",
            "--chunk-repeats", "2"]
    assert main([*argv, "--out", str(tmp_path / "log")]) == 0
    err = capsys.readouterr().err.splitlines()
    chunks = [line for line in err if line.startswith("[trainfree] leave-one-out chunks: ")]
    assert chunks[0].startswith("[trainfree] leave-one-out chunks: 1/6 (17%), ") and "left" in chunks[0]
    assert chunks[-1].startswith("[trainfree] leave-one-out chunks: 6/6 (100%), ")
    assert "\r" not in "".join(err)  # lines, never a bar
    assert main([*argv, "--quiet", "--out", str(tmp_path / "quiet")]) == 0
    assert capsys.readouterr().err == ""
