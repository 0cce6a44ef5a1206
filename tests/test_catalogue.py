"""The bad-input catalogue (issue 19): every case is one clear line and exit 2, or a correct result.

Each test drives ``trainfree.cli.main`` in-process on small files in ``tmp_path`` (or calls the library),
so a traceback, a hang or a silently wrong number fails here first.
"""

import os
import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest
from joblib import parallel_config

from trainfree import _device
from trainfree._runs import run_units
from trainfree.cli import main
from trainfree.semivalues._evaluator import Evaluator


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("trainfree: error: "), err
    return err[0]


# --- --n-jobs never starts more workers than there are cores or work units --------------------------------------

class SpyParallel:
    """Stands in for joblib.Parallel: records the n_jobs it is given and runs the calls in this process."""

    seen: list = []

    def __init__(self, n_jobs=None, **_):
        SpyParallel.seen.append(n_jobs)

    def __call__(self, calls):
        return [f(*a, **k) for f, a, k in calls]


def unit(k):
    return {"k": np.array([k])}


@pytest.fixture
def two_cores(monkeypatch):
    monkeypatch.setattr(_device, "available_cores", lambda: 2)
    SpyParallel.seen = []
    return SpyParallel


def test_a_huge_n_jobs_is_capped_at_the_cores_with_one_warning(two_cores, monkeypatch):
    from trainfree import _runs

    monkeypatch.setattr(_runs, "Parallel", two_cores)
    with pytest.warns(RuntimeWarning, match="n_jobs=1000 asks for more workers than the 2 cores"):
        out = run_units(unit, [(k, (k,)) for k in range(10)], n_jobs=1000)
    assert two_cores.seen == [2] and sorted(out) == list(range(10))
    # At most one worker per unit, and no warning when the cores suffice.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        run_units(unit, [(0, (0,))], n_jobs=-1)
        run_units(unit, [(k, (k,)) for k in range(5)], n_jobs=2)
    assert two_cores.seen == [2, 1, 2]
    assert _device.concurrent_units(1000) == 2 and _device.concurrent_units(1000, n_units=1) == 1


def test_utility_evaluations_are_capped_too(two_cores, monkeypatch):
    from trainfree.semivalues import _evaluator

    monkeypatch.setattr(_evaluator, "Parallel", two_cores)
    ev = Evaluator(lambda c: float(len(c)), 3, n_jobs=1000)
    with pytest.warns(RuntimeWarning, match="2 cores"):
        values = ev.coalitions([0, 1, 3, 7])
    np.testing.assert_allclose(values, [0, 1, 2, 3])
    assert two_cores.seen == [2]


def test_a_cluster_backend_keeps_its_workers(two_cores, monkeypatch):
    from joblib import register_parallel_backend
    from joblib._parallel_backends import ThreadingBackend

    from trainfree import _runs

    class ClusterBackend(ThreadingBackend):  # what joblib sees of Dask: a backend that is not this machine's
        pass

    register_parallel_backend("test-cluster", ClusterBackend)
    monkeypatch.setattr(_runs, "Parallel", two_cores)
    with parallel_config(backend="test-cluster"), warnings.catch_warnings():
        warnings.simplefilter("error")
        run_units(unit, [(k, (k,)) for k in range(10)], n_jobs=64)
        assert _device.concurrent_units(64) == 64
    assert two_cores.seen == [64]


def test_cli_n_jobs_above_the_cores_warns_in_one_line_naming_the_flag(tmp_path):
    # A process of its own, so that the warning reaches stderr as a user sees it (pytest records warnings).
    script = ("import sys; from trainfree import _device; _device.available_cores = lambda: 2; "
              "from trainfree.cli import main; sys.exit(main(sys.argv[1:]))")
    argv = ["value", "davinz", "--data", "digits", "--n", "200", "--contributors", "3", "--semivalue", "loo",
            "--n-jobs", "1000", "--no-report", "--quiet", "--out", str(tmp_path)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([os.path.abspath("src"), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-c", script, *argv], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip().splitlines() == [
        "trainfree: warning: --n-jobs 1000 asks for more workers than the 2 cores of this machine; running 2 at a "
        "time."]
