"""The CLI, run in-process on small real data: it parses, calls a workflow and prints; errors are one line."""

import json
import sys

import numpy as np
import pandas as pd
import pytest

from trainfree import _progress
from trainfree.cli import main


def test_score_cg_writes_scores_and_summary(tmp_path, capsys):
    rc = main(["score", "cg", "--data", "digits", "--n", "400", "--noise", "0.2", "--seed", "1",
               "--out", str(tmp_path)])
    assert rc == 0
    df = pd.read_parquet(tmp_path / "scores.parquet")
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert len(df) == 400 and df["flipped"].sum() == 80
    assert {"score", "stderr", "partial_sq", "partial_label", "partial_diag", "flag_mislabel", "label",
            "row_id", "original_label"} <= set(df)
    assert summary["settings"]["method"] == "exact" and summary["seed"] == 1
    # Digits are easy: the score must find the flipped labels far better than chance (0.5).
    assert summary["metrics"]["auroc"] > 0.9
    assert "Noise detection: AUROC" in capsys.readouterr().out


def test_score_cg_stochastic_from_npz(tmp_path, rng):
    X = rng.normal(size=(60, 5))
    y = (X[:, 0] > 0).astype(int)
    np.savez(tmp_path / "d.npz", X=X, y=y)
    rc = main(["score", "cg", "--data", str(tmp_path / "d.npz"), "--method", "stochastic", "--ratio", "1",
               "--repeats", "2", "--out", str(tmp_path / "o")])
    assert rc == 0
    df = pd.read_parquet(tmp_path / "o" / "scores.parquet")
    assert (df["n_scored"] == 2).all() and df["stderr"].notna().all()


def test_score_cg_large_resumes_from_its_units_and_refuses_other_settings(tmp_path, capsys):
    argv = ["score", "cg", "--data", "digits", "--n", "300", "--method", "large", "--chunk-size", "100",
            "--rank", "40", "--quiet", "--out", str(tmp_path)]
    assert main(argv) == 0
    first = pd.read_parquet(tmp_path / "scores.parquet")
    units = sorted((tmp_path / "units").glob("unit-*.npz"))
    assert len(units) == 3 * 3 + 1  # 3 chunks × 3 partitions, and the solution
    units[0].unlink()
    assert main(argv) == 0
    np.testing.assert_allclose(pd.read_parquet(tmp_path / "scores.parquet")["score"], first["score"], rtol=1e-10)
    capsys.readouterr()
    assert main([*argv[:-2], "--checkpoint", str(tmp_path / "units"), "--rank", "30", "--out",
                 str(tmp_path / "other")]) == 2
    assert "different run (rank: saved 40, now 30)" in capsys.readouterr().err


@pytest.mark.parametrize("argv, words", [
    (["--data", "no-such-set"], "Unknown data set"),
    (["--data", "digits", "--ratio", "nan", "--method", "stochastic"], "--ratio"),
    (["--data", "digits", "--ratio", "inf"], "--ratio"),
    (["--data", "digits", "--noise", "nan"], "--noise"),
    (["--data", "digits", "--seed", "-1"], "--seed"),
    (["--data", "digits", "--n-jobs", "0", "--method", "stochastic"], "--n-jobs"),
    (["--data", "digits", "--device", "tpu"], "device"),
])
def test_cli_bad_input_is_one_line_and_exit_2(tmp_path, capsys, argv, words):
    assert main(["score", "cg", *argv, "--n", "100", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("trainfree: error:") and words in err
    assert "Traceback" not in err


def test_cli_rejects_missing_out(capsys):
    assert main(["score", "cg", "--data", "digits"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--out" in err


def test_output_folder_is_checked_before_computing_and_never_silently_overwritten(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["score", "cg", "--data", "digits", "--n", "100", "--out", str(blocker)]) == 2
    assert "is a file" in capsys.readouterr().err
    out = str(tmp_path / "run")
    assert main(["score", "cg", "--data", "digits", "--n", "100", "--out", out]) == 0
    # The same command again is allowed (the resume path); a different one is refused, naming what differs.
    assert main(["score", "cg", "--data", "digits", "--n", "100", "--out", out]) == 0
    capsys.readouterr()
    assert main(["score", "cg", "--data", "digits", "--n", "200", "--out", out]) == 2
    assert "holds a `score cg` run (run.json) with other settings (--n 100 then, 200 now)" in capsys.readouterr().err
    assert len(pd.read_parquet(tmp_path / "run" / "scores.parquet")) == 100
    assert main(["score", "cg", "--data", "digits", "--n", "200", "--out", out, "--overwrite"]) == 0
    assert len(pd.read_parquet(tmp_path / "run" / "scores.parquet")) == 200


def test_value_davinz_noisy_contributors_rank_lowest(tmp_path, capsys):
    rc = main(["value", "davinz", "--data", "digits", "--n", "600", "--contributors", "4", "--split", "noisy",
               "--noise", "0.5", "--semivalue", "shapley", "--out", str(tmp_path)])
    assert rc == 0
    df = pd.read_parquet(tmp_path / "values.parquet")
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert list(df.columns[:3]) == ["value", "stderr", "player"] and len(df) == 4
    assert summary["settings"]["outputs"] == "mean" and summary["settings"]["n_contributors"] == 4
    # One of four contributors has half its labels flipped: it must be worth the least.
    assert df.loc[df["value"].idxmin(), "noise_rate"] == 0.5
    printed = capsys.readouterr().out
    assert "values.parquet" in printed
    # Which ν was computed: printed and saved (the default is the recommended ν, not the paper's).
    assert ("ν: --nu recommended (--outputs mean --size-ridge 0.0003 --mmd-estimator thresholded): an extension"
            in printed)
    assert summary["settings"]["nu"] == "recommended" and summary["settings"]["kappa_mode"] == "singletons"


def test_value_davinz_official_settings(tmp_path):
    rc = main(["value", "davinz", "--data", "fmnist", "--n", "120", "--contributors", "2", "--model", "davinz_cnn",
               "--nu", "paper", "--kappa", "leave_one_out", "--convention", "official", "--bandwidth", "5",
               "--semivalue", "loo", "--quiet", "--out", str(tmp_path)])
    assert rc == 0
    s = json.loads((tmp_path / "summary.json").read_text())["settings"]
    assert (s["kappa_mode"], s["convention"], s["bandwidth"], s["jitter"]) == ("leave_one_out", "official", 5.0, 1e-4)
    assert s["model"] == "davinz_cnn" and s["nu"] == "paper" and s["nu_description"].startswith("the paper's")
    assert (s["outputs"], s["size_ridge"], s["mmd_estimator"]) == ("own", 0.0, "biased")


def test_value_davinz_recommended_nu_reaches_the_utility(tmp_path):
    rc = main(["value", "davinz", "--data", "digits", "--n", "300", "--contributors", "3", "--semivalue", "loo",
               "--quiet", "--out", str(tmp_path)])
    assert rc == 0
    s = json.loads((tmp_path / "summary.json").read_text())["settings"]
    assert (s["mmd_estimator"], s["size_ridge"], s["outputs"]) == ("thresholded", 3e-4, "mean")
    assert "kernel ridge" in s["nu_description"] and "MMD thresholded" in s["nu_description"]  # which ν
    df = pd.read_parquet(tmp_path / "values.parquet")
    assert (df["mmd_term"] == 0).all()  # random splits of one dataset: no significant shift


def test_value_davinz_monte_carlo_banzhaf_reports_stderr_and_resumes(tmp_path):
    argv = ["value", "davinz", "--data", "digits", "--n", "400", "--contributors", "3", "--max-exact", "2",
            "--semivalue", "banzhaf", "--samples", "40", "--ntk-blocks", "2", "--ntk-permutations", "2",
            "--out", str(tmp_path)]
    assert main(argv) == 0
    df = pd.read_parquet(tmp_path / "values.parquet")
    assert (df["stderr"] > 0).all()
    settings = json.loads((tmp_path / "summary.json").read_text())["settings"]
    assert (settings["ntk_blocks"], settings["ntk_permutations"]) == (2, 2)
    assert (tmp_path / "checkpoint.npz").exists()
    assert main(argv) == 0  # the finished checkpoint is resumed: same values
    np.testing.assert_allclose(pd.read_parquet(tmp_path / "values.parquet")["value"], df["value"], rtol=1e-12)


def test_experiment_groundtruth_small(tmp_path, capsys):
    rc = main(["experiment", "groundtruth", "--data", "digits", "--model", "mlp", "--datasets", "4", "--min-size",
               "40", "--max-size", "120", "--epochs", "3", "--val-size", "100", "--quiet", "--out", str(tmp_path)])
    assert rc == 0
    df = pd.read_parquet(tmp_path / "groundtruth.parquet")
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert len(df) == 4 and {"value", "test_metric", "VP", "IF", "RV", "size"} <= set(df)
    assert df["size"].between(40, 120).all()
    from scipy.stats import pearsonr

    assert summary["metrics"]["pearson"] == pytest.approx(pearsonr(df["value"], df["test_metric"])[0], rel=1e-9)
    assert summary["result_type"] == "PlayerResult"
    out = capsys.readouterr().out.splitlines()  # --quiet prints only the paths
    assert out == [str(tmp_path / "groundtruth.parquet"), str(tmp_path / "summary.json")]


def test_a_failed_run_does_not_lock_its_output_folder(tmp_path, capsys):
    out = str(tmp_path / "o")
    assert main(["score", "cg", "--data", str(tmp_path / "typo.csv"), "--out", out]) == 2
    assert "No such file" in capsys.readouterr().err
    assert main(["score", "cg", "--data", "digits", "--n", "100", "--out", out]) == 0


def test_value_davinz_checkpoint_of_another_problem_is_refused(tmp_path, capsys):
    ckpt = str(tmp_path / "run.npz")
    base = ["value", "davinz", "--data", "digits", "--contributors", "3", "--max-exact", "2", "--samples", "40",
            "--checkpoint", ckpt]
    assert main(base + ["--n", "300", "--outputs", "all", "--out", str(tmp_path / "o1")]) == 0
    first = pd.read_parquet(tmp_path / "o1" / "values.parquet")
    capsys.readouterr()
    # Another data size and kernel with the same checkpoint: refused (it used to average both problems).
    assert main(base + ["--n", "400", "--outputs", "own", "--out", str(tmp_path / "o2")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("trainfree: error: Checkpoint ")
    assert "fingerprint.settings.outputs: saved 'all', now 'own'" in err and "new checkpoint path" in err
    assert not (tmp_path / "o2" / "values.parquet").exists()
    # The same command resumes the finished run: the same values.
    assert main(base + ["--n", "300", "--outputs", "all", "--out", str(tmp_path / "o3")]) == 0
    np.testing.assert_allclose(pd.read_parquet(tmp_path / "o3" / "values.parquet")["value"], first["value"],
                               rtol=1e-12)


@pytest.mark.parametrize("argv, flag, api", [
    (["value", "davinz", "--data", "digits", "--n", "200", "--samples", "1", "--max-exact", "1"], "--samples",
     "n_samples"),
    (["value", "davinz", "--data", "digits", "--n", "200", "--contributors", "0"], "--contributors", "n_contributors"),
    (["score", "cg", "--data", "digits", "--n", "100", "--repeats", "0", "--method", "stochastic"], "--repeats",
     "n_repeats"),
    # Parameters outside the FLAGS map: named by the flag of the same name.
    (["score", "mislabel", "--data", "digits", "--n", "100", "--ridge", "-1"], "--ridge", "'ridge'"),
    (["value", "davinz", "--data", "digits", "--n", "200", "--size-ridge", "-1"], "--size-ridge", "size_ridge"),
    (["experiment", "correlate", "--data", "digits", "--n", "100", "--forgetting-epochs", "0"], "--forgetting-epochs",
     "--epochs "),
])
def test_cli_errors_name_the_flag_not_the_api_parameter(tmp_path, capsys, argv, flag, api):
    assert main([*argv, "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert flag in err and api not in err and err.count("\n") == 1


@pytest.mark.parametrize("score, extra", [("grand", ["--epochs", "0"]), ("el2n", ["--epochs", "2"]),
                                          ("forgetting", ["--epochs", "4"])])
def test_data_diet_scores_from_the_cli(tmp_path, score, extra):
    out = tmp_path / score
    rc = main(["score", score, "--data", "digits", "--n", "200", "--noise", "0.2", "--model", "mlp", "--seeds", "2",
               *extra, "--quiet", "--out", str(out)])
    assert rc == 0
    df = pd.read_parquet(out / "scores.parquet")
    summary = json.loads((out / "summary.json").read_text())
    assert len(df) == 200 and df["flipped"].sum() == 40 and {"row_id", "label", "stderr"} <= set(df)
    from trainfree.metrics import auroc

    # The AUROC reported is that of the saved scores against the saved flips.
    assert summary["metrics"]["auroc"] == pytest.approx(auroc(df["score"], df["flipped"]), rel=1e-12)
    assert summary["settings"]["n_seeds"] == 2 and summary["seed"] == 0


def test_cnn_scores_need_images_and_auto_picks_the_mlp_for_small_ones(tmp_path, capsys):
    assert main(["score", "grand", "--data", "digits", "--n", "100", "--model", "cnn", "--out", str(tmp_path / "o")]) == 2
    assert "--model mlp" in capsys.readouterr().err
    assert main(["score", "grand", "--data", "digits", "--n", "100", "--seeds", "2", "--out", str(tmp_path / "a")]) == 0
    assert "model: mlp (--model auto: images of 8x8 px" in capsys.readouterr().out
    assert json.loads((tmp_path / "a" / "summary.json").read_text())["settings"]["model"] == "mlp"


def test_experiment_noise_compares_scores_on_the_same_flips(tmp_path, capsys):
    out = tmp_path / "nz"
    assert main(["experiment", "noise", "--data", "digits", "--n", "200", "--scores", "cg,input_norm,random",
                 "--noise", "0.25", "--out", str(out)]) == 0
    df = pd.read_parquet(out / "noise.parquet")
    assert df["player"].tolist() == ["cg", "input_norm", "random"] and "found_at_0.25" in df
    assert df["value"].iloc[0] > 0.9  # CG finds flipped digits far better than chance
    assert capsys.readouterr().out.splitlines()[1].startswith("cg")  # best first
    assert main(["experiment", "noise", "--data", "digits", "--scores", "nope", "--out", str(tmp_path / "b")]) == 2


@pytest.mark.parametrize("score, options", [
    ("mislabel", ["--method", "stochastic", "--chunk-size", "30", "--chunk-repeats", "2"]),
    ("cg", ["--method", "stochastic", "--ratio", "1", "--repeats", "2"]),
])
def test_progress_bars_only_on_a_terminal_and_never_with_quiet(tmp_path, capsys, monkeypatch, rng, score, options):
    X = rng.normal(size=(90, 6))
    np.savez(tmp_path / "d.npz", X=X, y=np.repeat([0, 1, 2], 30))
    argv = ["score", score, "--data", str(tmp_path / "d.npz"), *options]
    # stderr captured: a pipe or a log file, not a terminal. Not one bar, not one carriage return.
    assert main([*argv, "--out", str(tmp_path / "pipe")]) == 0
    assert capsys.readouterr().err == ""
    # The same run on a terminal draws its bars (the check above can fail); --quiet silences them there too.
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    monkeypatch.setattr(_progress, "DELAY_S", 0.0)  # bars drawn at once, not after a second: whatever the speed
    assert main([*argv, "--out", str(tmp_path / "tty")]) == 0
    assert "\r" in capsys.readouterr().err
    assert main([*argv, "--quiet", "--out", str(tmp_path / "quiet")]) == 0
    assert capsys.readouterr().err == ""
