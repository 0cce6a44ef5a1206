"""What the CLI writes into --out: results by class name, in Parquet and/or CSV, and the folder's own rules
(a conflict names the command and flags, --overwrite removes every file of the replaced run)."""

import json

import numpy as np
import pandas as pd
import pytest

from trainfree import load_result
from trainfree.cli import main


@pytest.fixture
def fruit_table(tmp_path, rng):
    """A CSV of two well-separated classes named by words, with 3 labels swapped."""
    X = np.concatenate([rng.normal(0, 1, (30, 4)), rng.normal(6, 1, (30, 4))])
    labels = np.array(["apple"] * 30 + ["pear"] * 30, dtype=object)
    labels[[0, 1, 2]] = "pear"
    df = pd.DataFrame(X, columns=[f"f{i}" for i in range(4)])
    df["kind"] = labels
    path = tmp_path / "fruit.csv"
    df.to_csv(path, index=False)
    return path


def test_predicted_is_a_class_name_like_label(fruit_table, tmp_path):
    out = tmp_path / "out"
    assert main(["score", "mislabel", "--data", str(fruit_table), "--label-column", "kind", "--quiet",
                 "--out", str(out)]) == 0
    df = pd.read_parquet(out / "scores.parquet")
    assert set(df["predicted"]) <= {"apple", "pear"} and set(df["label"]) == {"apple", "pear"}
    # The three swapped rows (file rows 0-2: apples labelled pear) are predicted as what they are.
    swapped = df[df["row_id"].isin([0, 1, 2])]
    assert (swapped["predicted"] == "apple").all() and swapped["flag_mislabel"].all()
    assert (df["flag_mislabel"] == (df["predicted"] != df["label"])).all()


def test_format_csv_writes_a_spreadsheet_table_that_load_result_reads_back(fruit_table, tmp_path):
    out = tmp_path / "out"
    assert main(["score", "mislabel", "--data", str(fruit_table), "--label-column", "kind", "--format", "csv",
                 "--quiet", "--out", str(out)]) == 0
    assert not (out / "scores.parquet").exists() and (out / "scores.csv.json").exists()
    text = (out / "scores.csv").read_text().splitlines()
    assert text[0].startswith("score,stderr,") and "predicted" in text[0].split(",")  # a header, no index column
    df = pd.read_csv(out / "scores.csv")
    assert len(df) == 60 and set(df["predicted"]) <= {"apple", "pear"}
    res = load_result(out / "scores.csv")
    assert res["label"].tolist() == df["label"].tolist() and res["flag_mislabel"].dtype == bool
    np.testing.assert_allclose(res.scores, df["score"], rtol=1e-12)
    assert json.loads((out / "summary.json").read_text())["scores"] == str(out / "scores.csv")


def test_format_both_writes_the_same_table_twice(tmp_path):
    out = tmp_path / "out"
    assert main(["score", "cg", "--data", "digits", "--n", "60", "--noise", "0.2", "--format", "both", "--quiet",
                 "--out", str(out), "--report"]) == 0
    a, b = load_result(out / "scores.parquet"), load_result(out / "scores.csv")
    assert list(a.columns) == list(b.columns)
    np.testing.assert_allclose(a.scores, b.scores, rtol=1e-12)
    assert (a["label"] == b["label"]).all() and (a["flipped"] == b["flipped"]).all()
    # Class names that look like numbers stay text ("0".."9"), as the Parquet file holds them.
    assert b["label"].dtype == object and set(b["label"]) <= {str(d) for d in range(10)}
    page = (out / "report.html").read_text()
    assert page.count("Scores: cg_score") == 1  # one section, not one per file


def test_csv_round_trip_keeps_text_that_looks_like_numbers_or_missing(tmp_path):
    from trainfree import ExampleResult

    r = ExampleResult("demo", {"score": np.array([0.25, np.nan, np.inf], dtype=np.float32),
                               "label": np.array(["NA", "007", ""], dtype=object), "row_id": np.array([5, 3, 9]),
                               "flag": np.array([True, False, True])})
    back = load_result(r.save(tmp_path / "r.csv"))
    assert back["label"].tolist() == ["NA", "007", ""] and back["row_id"].tolist() == [5, 3, 9]
    assert back.scores.dtype == np.float32 and back.scores[0] == np.float32(0.25)
    assert np.isnan(back.scores[1]) and np.isinf(back.scores[2]) and back["flag"].tolist() == [True, False, True]
    with pytest.raises(ValueError, match=r"'\*.parquet' or '\*.csv'"):
        r.save(tmp_path / "r.xlsx")


def test_a_conflict_names_the_command_held_and_the_flags_that_differ(tmp_path, capsys):
    out = str(tmp_path / "run")
    assert main(["score", "cg", "--data", "digits", "--n", "60", "--method", "stochastic", "--repeats", "2",
                 "--quiet", "--out", out]) == 0
    capsys.readouterr()
    assert main(["score", "cg", "--data", "digits", "--n", "60", "--method", "stochastic", "--repeats", "3",
                 "--chunk-size", "4000", "--quiet", "--out", out]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (f"trainfree: error: --out {out} holds a `score cg` run (run.json) with other settings "
                   f"(--chunk-size 5000 then, 4000 now, --repeats 2 then, 3 now); pass another --out, or "
                   f"--overwrite to replace it.")
    assert main(["score", "mislabel", "--data", "digits", "--n", "60", "--quiet", "--out", out]) == 2
    err = capsys.readouterr().err
    assert "holds a `score cg` run (run.json); pass another --out" in err and "--kernel" not in err
    # Only --format or the terminal changed: the same run, resumed or rewritten, not a conflict.
    assert main(["score", "cg", "--data", "digits", "--n", "60", "--method", "stochastic", "--repeats", "2",
                 "--format", "csv", "--quiet", "--out", out]) == 0


def test_overwrite_removes_every_file_of_the_replaced_run_and_only_those(tmp_path):
    out = tmp_path / "run"
    assert main(["value", "davinz", "--data", "digits", "--n", "200", "--contributors", "3", "--format", "both",
                 "--quiet", "--out", str(out), "--report"]) == 0
    (out / "units").mkdir()
    (out / "units" / "unit-0.npz").write_bytes(b"")
    (out / "checkpoint.npz").write_bytes(b"")
    (out / "notes.txt").write_text("mine")
    (out / "mine.json").write_text("{}")
    assert main(["score", "cg", "--data", "digits", "--n", "60", "--quiet", "--out", str(out), "--overwrite"]) == 0
    left = sorted(p.name for p in out.iterdir())
    assert left == ["mine.json", "notes.txt", "run.json", "scores.parquet", "scores.parquet.json", "summary.json"]
    run = json.loads((out / "run.json").read_text())
    assert (run["command"], run["score"]) == ("score", "cg")


def test_load_result_reads_a_detector_result_in_a_fresh_process(fruit_table, tmp_path):
    """The scores' own result types (MislabelResult, CGResult) load without importing trainfree.scores first."""
    import os
    import subprocess
    import sys

    out = tmp_path / "out"
    assert main(["score", "mislabel", "--data", str(fruit_table), "--label-column", "kind", "--quiet",
                 "--out", str(out)]) == 0
    code = f"from trainfree import load_result; print(type(load_result({str(out / 'scores.parquet')!r})).__name__)"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([os.path.abspath("src"), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert done.returncode == 0 and done.stdout.strip() == "MislabelResult", done.stderr
