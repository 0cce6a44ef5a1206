"""The CLI, run in-process on small real data."""

import json

import pandas as pd
import pytest

from trainfree.cli import main


def test_score_cg_writes_scores_and_summary(tmp_path, capsys):
    rc = main(["score", "cg", "--data", "digits", "--n", "400", "--noise", "0.2", "--seed", "1",
               "--out", str(tmp_path)])
    assert rc == 0
    df = pd.read_parquet(tmp_path / "scores.parquet")
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert len(df) == 400 and df["flipped"].sum() == 80
    assert {"score", "partial_sq", "partial_label", "partial_diag", "flag_mislabel", "label", "index"} <= set(df)
    assert summary["settings"]["method"] == "exact" and summary["seed"] is None
    # Digits are easy: the score must find the flipped labels far better than chance (0.5).
    assert summary["noise_detection"]["auroc"] > 0.9
    assert "Noise detection: AUROC" in capsys.readouterr().out


def test_score_cg_stochastic_from_npz(tmp_path, rng):
    X = rng.normal(size=(60, 5))
    y = (X[:, 0] > 0).astype(int)
    import numpy as np

    np.savez(tmp_path / "d.npz", X=X, y=y)
    rc = main(["score", "cg", "--data", str(tmp_path / "d.npz"), "--method", "stochastic", "--ratio", "1",
               "--repeats", "2", "--out", str(tmp_path / "o")])
    assert rc == 0
    df = pd.read_parquet(tmp_path / "o" / "scores.parquet")
    assert (df["n_scored"] == 2).all() and "stderr" in df


def test_cli_reports_clear_error(tmp_path, capsys):
    assert main(["score", "cg", "--data", "no-such-set", "--out", str(tmp_path)]) == 2
    assert "error: Unknown data set" in capsys.readouterr().err


def test_cli_rejects_missing_out():
    with pytest.raises(SystemExit):
        main(["score", "cg", "--data", "digits"])


def test_value_davinz_noisy_contributors_rank_lowest(tmp_path, capsys):
    rc = main(["value", "davinz", "--data", "digits", "--n", "600", "--contributors", "4", "--split", "noisy",
               "--noise-rate", "0.5", "--semivalue", "shapley", "--out", str(tmp_path)])
    assert rc == 0
    df = pd.read_csv(tmp_path / "values.csv")
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert list(df.columns[:3]) == ["value", "stderr", "player"] and len(df) == 4
    assert summary["settings"]["outputs"] == "all" and summary["settings"]["n_contributors"] == 4
    # One of four contributors has half its labels flipped: it must be worth the least.
    assert df.loc[df["value"].idxmin(), "noise_rate"] == 0.5
    assert "values.csv" in capsys.readouterr().out


def test_value_davinz_monte_carlo_banzhaf_reports_stderr(tmp_path):
    rc = main(["value", "davinz", "--data", "digits", "--n", "400", "--contributors", "3", "--max-exact", "2",
               "--semivalue", "banzhaf", "--samples", "40", "--ntk-blocks", "2", "--ntk-permutations", "2",
               "--out", str(tmp_path)])
    assert rc == 0
    df = pd.read_csv(tmp_path / "values.csv")
    assert (df["stderr"] > 0).all()
    settings = json.loads((tmp_path / "summary.json").read_text())["settings"]
    assert (settings["ntk_blocks"], settings["ntk_permutations"]) == (2, 2)
