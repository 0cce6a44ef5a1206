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


# --- files: tables, contributors, checkpoints ---------------------------------------------------------------------

@pytest.fixture
def files(tmp_path, rng):
    """A 60-row table with classes a, b, c; three contributor files; a one-row file; a file of other labels."""
    df = pd.DataFrame(rng.normal(size=(60, 4)), columns=list("pqrs"))
    df["label"] = np.repeat(["a", "b", "c"], 20)
    df.to_csv(tmp_path / "t.csv", index=False)
    for k in range(3):
        df.iloc[k::3].to_csv(tmp_path / f"c{k}.csv", index=False)
    df.iloc[:1].to_csv(tmp_path / "one.csv", index=False)
    df.assign(label=[f"d{i % 10}" for i in range(60)]).to_csv(tmp_path / "digits_named.csv", index=False)
    return tmp_path


def run(capsys, argv, out):
    capsys.readouterr()
    return main([*argv, "--quiet", "--no-report", "--out", str(out)])


def test_groundtruth_sizes_in_the_wrong_order_or_beyond_the_pool(files, capsys):
    argv = ["experiment", "groundtruth", "--data", "digits", "--model", "mlp"]
    assert run(capsys, [*argv, "--min-size", "1000", "--max-size", "10"], files / "o1") == 2
    assert "--min-size/--max-size must have smallest <= largest. Got smallest 1000 and largest 10" in \
        one_error_line(capsys)
    assert run(capsys, [*argv, "--max-size", "5000"], files / "o2") == 2
    assert "datasets of up to 5000 rows exceed the pool's 698 rows" in one_error_line(capsys)


@pytest.mark.parametrize("argv, flag", [
    (["experiment", "groundtruth", "--data", "digits", "--test-size", "5000"], "--test-size"),
    (["experiment", "groundtruth", "--data", "digits", "--n", "500"], "--n"),
    (["experiment", "prune", "--data", "digits", "--test-size", "5000"], "--test-size"),
    (["experiment", "dynamics", "--data", "digits", "--test-size", "5000"], "--test-size"),
])
def test_fashion_mnist_only_flags_are_refused_for_other_data(files, capsys, argv, flag):
    assert run(capsys, argv, files / "o") == 2
    assert f"{flag} applies to --data fmnist only" in one_error_line(capsys)


def test_an_empty_unit_file_or_a_checkpoint_that_is_a_file_is_a_clear_error(files, capsys):
    argv = ["score", "mislabel", "--data", str(files / "t.csv"), "--method", "stochastic", "--chunk-size", "30",
            "--checkpoint", str(files / "units")]
    assert run(capsys, argv, files / "o") == 0
    first = sorted((files / "units").glob("unit-*.npz"))[0]
    first.write_bytes(b"")  # a disk that filled up, a copy that failed
    assert run(capsys, argv, files / "o") == 2
    assert f"Could not read work unit {first} (No data left in file). Delete that file" in one_error_line(capsys)
    first.unlink()
    assert run(capsys, argv, files / "o") == 0  # the fix the message names works
    assert run(capsys, [*argv[:-1], str(files / "t.csv")], files / "o2") == 2
    assert f"The checkpoint {files / 't.csv'} is a file, but a checkpoint is a folder" in one_error_line(capsys)


def test_an_empty_or_folder_monte_carlo_checkpoint_is_a_clear_error(files, capsys):
    (files / "empty.npz").write_bytes(b"")
    (files / "folder").mkdir()
    argv = ["value", "davinz", "--data", "digits", "--n", "200", "--contributors", "3", "--max-exact", "2",
            "--samples", "4"]
    assert run(capsys, [*argv, "--checkpoint", str(files / "empty.npz")], files / "o1") == 2
    assert "Could not read checkpoint" in one_error_line(capsys)
    assert run(capsys, [*argv, "--checkpoint", str(files / "folder")], files / "o2") == 2
    assert "is a folder, but a Monte Carlo checkpoint is one file" in one_error_line(capsys)


def test_missing_or_mixed_object_labels_name_the_rows():
    from trainfree import TrainfreeError, cg_score

    X = np.random.default_rng(0).normal(size=(8, 3))
    y = np.array(["a", "b", None, "a", "b", "a", None, "b"], dtype=object)
    with pytest.raises(TrainfreeError, match=r"y holds 2 missing label\(s\) \(None or NaN\) at row\(s\) 2, 6;"):
        cg_score(X, y)
    with pytest.raises(TrainfreeError, match=r"y mixes label types \(int, str\)"):
        cg_score(X, np.array(["a", 1] * 4, dtype=object))


def test_real_contributors_are_named_by_their_file_and_foreign_labels_are_refused(files, capsys):
    argv = ["value", "davinz", "--val-data", str(files / "t.csv"), "--contributor-data", str(files / "c0.csv")]
    assert run(capsys, [*argv, str(files / "one.csv")], files / "o1") == 2
    assert "Contributor 'one' (one.csv) has 1 example(s)" in one_error_line(capsys)
    assert run(capsys, [*argv, str(files / "digits_named.csv")], files / "o2") == 2
    line = one_error_line(capsys)
    assert ("Contributor 'digits_named' (digits_named.csv) has label(s) 'd0', 'd1', 'd2', 'd3', 'd4' and 5 more "
            "that the validation set t.csv lacks") in line and line.endswith("or pass --allow-new-classes to value "
                                                                             "them as classes of their own.")
    assert run(capsys, [*argv, str(files / "digits_named.csv"), "--allow-new-classes"], files / "o3") == 0
    values = pd.read_parquet(files / "o3" / "values.parquet")
    assert values["player"].tolist() == ["c0", "digits_named"] and np.isfinite(values["value"]).all()


@pytest.mark.parametrize("extra, flag", [(["--split", "noisy"], "--split"), (["--contributors", "5"], "--contributors"),
                                         (["--noise", "0.3"], "--noise"), (["--n", "10"], "--n"),
                                         (["--val-fraction", "0.5"], "--val-fraction")])
def test_simulation_flags_are_refused_with_real_contributors(files, capsys, extra, flag):
    argv = ["value", "davinz", "--val-data", str(files / "t.csv"), "--contributor-data", str(files / "c0.csv"),
            str(files / "c1.csv"), *extra]
    assert run(capsys, argv, files / "o") == 2
    assert one_error_line(capsys).endswith(f"are valued as given. Drop {flag}.")


@pytest.mark.parametrize("argv, words", [
    (["value", "davinz", "--data", "digits", "--noise", "0.3"], "--noise sets the share of labels flipped by --split "
                                                                "noisy"),
    (["value", "davinz", "--data", "digits", "--allow-new-classes"], "--allow-new-classes are for real contributors"),
    (["value", "davinz", "--data", "digits", "--contributors", "3", "--checkpoint", "x.npz"],
     "computed exactly in one pass. Pass no --checkpoint, or --max-exact 2 or less for Monte Carlo."),
    (["score", "cg", "--data", "digits", "--n", "5000"], "Pass --n 1797 or fewer, or no --n for all of them."),
    (["experiment", "dynamics", "--data", "digits", "--n", "40", "--groups", "30", "--epochs", "1"],
     "into 30 groups; pass --groups 26 or fewer."),
])
def test_messages_name_flags_not_parameters(files, capsys, argv, words):
    assert run(capsys, argv, files / "o") == 2
    assert words in one_error_line(capsys)


def test_a_single_class_names_the_label_column(files, capsys):
    pd.read_csv(files / "t.csv").assign(label="a").to_csv(files / "a.csv", index=False)
    assert run(capsys, ["score", "cg", "--data", str(files / "a.csv")], files / "o") == 2
    assert one_error_line(capsys).startswith("trainfree: error: the label column has 1 class(es)")


# --- experiments on the user's own files -----------------------------------------------------------------------

@pytest.fixture
def table(tmp_path, rng):
    """300 rows, labels a/b/c in a column named "kind"."""
    df = pd.DataFrame(rng.normal(size=(300, 4)), columns=list("pqrs"))
    df["kind"] = np.repeat(["a", "b", "c"], 100)
    df.to_csv(tmp_path / "kind.csv", index=False)
    return tmp_path / "kind.csv"


def test_experiments_read_the_label_column_they_are_given(table, tmp_path, capsys):
    common = ["--data", str(table), "--label-column", "kind"]
    assert run(capsys, ["experiment", "dynamics", *common, "--epochs", "1", "--groups", "2", "--kernel-rows", "5"],
               tmp_path / "dy") == 0
    assert pd.read_parquet(tmp_path / "dy" / "dynamics.parquet")["n_rows"].sum() == 2 * 200  # 2/3 of 300, 2 epochs
    assert run(capsys, ["experiment", "prune", *common, "--model", "mlp", "--scores", "random", "--fractions", "0.5",
                        "--epochs", "1", "--runs", "1"], tmp_path / "pr") == 0
    assert run(capsys, ["experiment", "groundtruth", *common, "--model", "mlp", "--datasets", "3", "--min-size", "10",
                        "--max-size", "20", "--val-size", "20", "--epochs", "1"], tmp_path / "gt") == 0
    assert pd.read_parquet(tmp_path / "gt" / "groundtruth.parquet")["size"].between(10, 20).all()


@pytest.mark.parametrize("argv", [["experiment", "prune", "--model", "mlp", "--scores", "random"],
                                  ["experiment", "noise", "--scores", "random"],
                                  ["experiment", "dynamics"], ["experiment", "groundtruth", "--val-size", "20"]])
def test_experiments_refuse_a_single_class_naming_the_label_column(table, tmp_path, capsys, argv):
    pd.read_csv(table).assign(kind="a").to_csv(one := tmp_path / "one.csv", index=False)
    assert run(capsys, [*argv, "--data", str(one), "--label-column", "kind"], tmp_path / "o") == 2
    assert "one.csv: the label column 'kind' holds one class ('a')" in one_error_line(capsys)


@pytest.mark.parametrize("argv, words", [
    (["experiment", "prune", "--model", "mlp", "--scores", "random", "--fractions", "0.5", "--epochs", "1", "--runs",
      "1", "--checkpoint", "TABLE"], "Cannot create the checkpoint folder"),
    (["experiment", "noise", "--scores", "random", "--noise", "1"], "--noise is the share of labels flipped, strictly "
                                                                    "between 0 and 1"),
    (["experiment", "groundtruth", "--noise", "2", "--val-size", "20"], "--noise is the largest noise rate of a dataset, from 0 to 1; got 2"),
    (["experiment", "groundtruth", "--noise", "-0.5", "--val-size", "20"], "from 0 to 1; got -0.5"),
    (["experiment", "groundtruth"], "500 go to validation and the rest must hold the datasets. Pass --val-size 50 or so"),
    (["experiment", "groundtruth", "--val-size", "0"], "--val-size must be in the range [1, inf). Got 0"),
    (["experiment", "groundtruth", "--val-size", "20", "--min-size", "1"], "--min-size/--max-size must be in the range "
                                                                           "[2, inf). Got 1"),
    (["experiment", "dynamics", "--width", "0"], "--width must be at least 1"),
])
def test_experiment_bad_values_are_one_line(table, tmp_path, capsys, argv, words):
    argv = [a if a != "TABLE" else str(table) for a in argv]
    assert run(capsys, [*argv, "--data", str(table), "--label-column", "kind"], tmp_path / "o") == 2
    assert words in one_error_line(capsys)
