import os
import signal
import subprocess
import sys
import time

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


@pytest.fixture
def script_runner():
    """Run a Python script in a subprocess that imports this checkout's trainfree; ``.killed`` SIGKILLs it mid-run."""

    class Runner:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([os.path.abspath("src"), os.environ.get("PYTHONPATH", "")])}

        def run(self, *args) -> None:
            subprocess.run([sys.executable, *map(str, args)], env=self.env, check=True)

        def killed(self, *args, folder, units: int = 3) -> int:
            """Start the script, SIGKILL it once ``units`` work units are saved in ``folder``; return how many are."""
            proc = subprocess.Popen([sys.executable, *map(str, args)], env=self.env)
            deadline = time.monotonic() + 120
            while len(list(folder.glob("unit-*.npz"))) < units and time.monotonic() < deadline and proc.poll() is None:
                time.sleep(0.02)
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            return len(list(folder.glob("unit-*.npz")))

    return Runner()
