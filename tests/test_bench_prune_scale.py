"""The pruning benchmark (bench/prune_scale.py): its paired beats-random mark; a tiny run resumes to the same table."""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).parents[1]
_spec = importlib.util.spec_from_file_location("prune_scale", ROOT / "bench" / "prune_scale.py")
prune_scale = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(prune_scale)


def test_a_selection_beats_random_only_by_two_standard_errors_of_the_paired_difference():
    df = pd.DataFrame({"score": ["cg", "cg", "cg", "random", "random"],
                       "direction": ["ccs", "ccs", "keep_hard", "random", "random"],
                       "fraction_pruned": [0.7, 0.9, 0.9, 0.7, 0.9],
                       "player": ["cg/ccs/0.7", "cg/ccs/0.9", "cg/keep_hard/0.9", "random/random/0.7",
                                  "random/random/0.9"]})
    runs = {"random/random/0.7": [0.70, 0.60, 0.80], "random/random/0.9": [0.5, 0.5, 0.5],
            "cg/ccs/0.7": [0.72, 0.62, 0.82],  # +0.02 in every run: standard error 0, a win
            "cg/ccs/0.9": [0.53, 0.50, 0.50],  # +0.01 ± 0.01: one standard error only
            "cg/keep_hard/0.9": [0.40, 0.40, 0.40]}
    got = prune_scale.versus_random(df, runs)
    assert got["cg/ccs"]["0.7"][2] and got["cg/ccs"]["0.7"][0] == pytest.approx(0.02)
    assert got["cg/ccs"]["0.9"][:2] == pytest.approx((0.01, 0.01)) and not got["cg/ccs"]["0.9"][2]
    assert got["cg/keep_hard"]["0.9"] == (pytest.approx(-0.1), pytest.approx(0.0), False)


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
