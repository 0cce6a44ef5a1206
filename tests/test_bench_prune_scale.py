"""The pruning benchmark (bench/prune_scale.py): its beats-random mark, and a tiny run that resumes to the same table."""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).parents[1]
_spec = importlib.util.spec_from_file_location("prune_scale", ROOT / "bench" / "prune_scale.py")
prune_scale = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(prune_scale)


def test_a_selection_beats_random_only_by_two_standard_errors_of_the_difference():
    se = 0.01 * np.sqrt(2)  # the difference's standard error when both have 0.01
    df = pd.DataFrame({"score": ["random", "random", "cg", "cg", "cg", "cg"],
                       "direction": ["random", "random", "ccs", "ccs", "keep_hard", "keep_hard"],
                       "fraction_pruned": [0.7, 0.9, 0.7, 0.9, 0.7, 0.9],
                       "value": [0.70, 0.60, 0.70 + 2 * se + 1e-9, 0.60 + 2 * se - 1e-4, 0.90, 0.50],
                       "stderr": [0.01, 0.01, 0.01, 0.01, float("nan"), 0.01]})
    assert prune_scale.beats_random(df, 0.8) == {"cg/ccs": {"0.7": True, "0.9": False},
                                                 "cg/keep_hard": {"0.7": False, "0.9": False}}  # NaN: never


@pytest.mark.slow
def test_a_tiny_run_prints_the_table_and_resumes_from_its_checkpoint(tmp_path):
    argv = [sys.executable, str(ROOT / "bench" / "prune_scale.py"), "--n", "300", "--test", "200", "--epochs", "1",
            "--fractions", "0.5,0.9", "--runs", "2", "--seeds", "1", "--el2n-epochs", "1", "--forgetting-epochs", "2",
            "--scores", "cg,el2n,input_norm", "--cg-method", "exact", "--checkpoint", str(tmp_path / "ck"),
            "--plot", str(tmp_path / "curves.png")]
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
    first = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=600)
    assert first.returncode == 0, first.stderr[-2000:]
    out = json.loads(first.stdout.strip().splitlines()[-1])
    assert set(out["curves"]) == {f"{s}/{d}" for s in ("cg", "el2n", "input_norm") for d in
                                  ("keep_hard", "keep_easy", "ccs")} | {"random/random"}
    assert "cg/ccs" in first.stdout and (tmp_path / "curves.png").stat().st_size > 0
    units = sorted((tmp_path / "ck" / "curve").glob("unit-*.npz"))
    assert len(units) == 2 * (1 + 3 * 3 * 2 + 2)  # full, 3 scores × 3 selections × 2 shares, random; 2 runs
    units[-1].unlink()
    again = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=600)
    assert again.returncode == 0 and json.loads(again.stdout.strip().splitlines()[-1])["curves"] == out["curves"]
