import os
import signal
import subprocess
import sys

import numpy as np
import pytest


@pytest.fixture
def rng():
    """A fixed seed by default; the suite must not depend on a lucky draw."""
    return np.random.default_rng(0)


@pytest.fixture(autouse=True)
def _no_html_report_unless_asked(monkeypatch):
    """CLI runs in tests write report.html only when a test passes --report: drawing plots costs seconds."""
    from trainfree.cli import _common

    monkeypatch.setattr(_common, "REPORT_DEFAULT", False)


# What the script runner starts in front of every script: it counts the work units the run saves (through
# trainfree._runs.UnitStore.save, where every resumable run writes its units) into the file named by
# TRAINFREE_TEST_SAVES and, when TRAINFREE_TEST_KILL_AFTER is k > 0, SIGKILLs its own process right after
# the k-th unit file is in place. The event that stops the run is thus the k-th save itself, not a clock.
_COUNTING_PRELUDE = """
import os, runpy, signal, sys
from trainfree import _runs
_save, _saved, _kill_after = _runs.UnitStore.save, [0], int(os.environ["TRAINFREE_TEST_KILL_AFTER"])
def _counted_save(self, key, arrays):
    _save(self, key, arrays)
    _saved[0] += 1
    with open(os.environ["TRAINFREE_TEST_SAVES"], "w") as fh:
        fh.write(str(_saved[0]))
    if _saved[0] == _kill_after:
        os.kill(os.getpid(), signal.SIGKILL)
_runs.UnitStore.save = _counted_save
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


@pytest.fixture
def script_runner(tmp_path):
    """Run a Python script in a subprocess that imports this checkout's trainfree; return the units it saved.

    ``run(script, *args)`` runs it to the end; ``run(script, *args, kill_after=k)`` SIGKILLs it right
    after it saved its k-th work unit (and fails if it ended before). Either returns how many work
    units that process saved, so a test knows exactly how many a resumed run computed.
    """

    class Runner:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([os.path.abspath("src"), os.environ.get("PYTHONPATH", "")])}
        counter = tmp_path / "saved-units.txt"

        def run(self, *args, kill_after: int = 0) -> int:
            self.counter.unlink(missing_ok=True)
            env = {**self.env, "TRAINFREE_TEST_KILL_AFTER": str(kill_after), "TRAINFREE_TEST_SAVES": str(self.counter)}
            done = subprocess.run([sys.executable, "-c", _COUNTING_PRELUDE, *map(str, args)], env=env)
            expected = -signal.SIGKILL if kill_after else 0
            assert done.returncode == expected, f"{args[0]} exited with {done.returncode}, expected {expected}"
            return int(self.counter.read_text()) if self.counter.exists() else 0

    return Runner()
