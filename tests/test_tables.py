"""A user's own table: standardised columns, an id column, ignored and categorical columns, DataFrames, float64."""

import importlib.util
import json
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from trainfree import TrainfreeError
from trainfree.cli import main
from trainfree.data import from_frame, load, load_file, standardize_as
from trainfree.data._columns import MISSING_LEVEL, max_levels, standardize_columns
from trainfree.metrics import auroc

_spec = importlib.util.spec_from_file_location("table_standardize",
                                               Path(__file__).parents[1] / "bench" / "table_standardize.py")
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)


def run(tmp_path, data, *flags, command="mislabel", out="o"):
    """Run ``score COMMAND`` on ``data``; return its exit code, stderr and (when it ran) its scores."""
    rc = main(["score", command, "--data", str(data), "--out", str(tmp_path / out), "--quiet", "--no-report", *flags])
    path = tmp_path / out / "scores.parquet"
    return rc, pd.read_parquet(path) if rc == 0 else None


def one_line_error(capsys, tmp_path, data, *flags):
    capsys.readouterr()
    rc, _ = run(tmp_path, data, *flags, out=f"failed-{len(list(tmp_path.iterdir()))}")
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and err[0].startswith("trainfree: error:"), err
    return err[0]


def patients(n=40, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"patient_id": [f"P{i:03d}" for i in range(n)], "age": rng.integers(20, 90, n),
                         "income": rng.normal(5e4, 2e4, n), "smoker": rng.random(n) < 0.3,
                         "city": rng.choice(["Oslo", "Lima", "Pune"], n), "notes": [f"visit {i}" for i in range(n)],
                         "diagnosis": rng.choice(["healthy", "sick"], n)})


# ------------------------------------------------------------------------------------------ the target


@pytest.mark.parametrize("name", ["breast_cancer", "wine"])
def test_standardised_tables_find_flipped_labels(name, tmp_path):
    """The issue's table: CSV, string labels, 15% flipped, an id column. Defaults reach AUROC >= 0.99
    (raw columns: 0.9745 and 0.9742 on these flips); the output rows carry the ids."""
    path, flipped = bench.write_table(name, 0.15, 0, tmp_path)
    rc, scores = run(tmp_path, path, "--label-column", "kind", "--id-column", "sample_id")
    assert rc == 0
    assert scores["row_id"].tolist() == [f"s{i:04d}" for i in range(len(flipped))]
    assert auroc(scores["score"].to_numpy(), flipped) >= 0.99
    rc, raw = run(tmp_path, path, "--label-column", "kind", "--id-column", "sample_id", "--no-standardize", out="raw")
    assert rc == 0 and auroc(raw["score"].to_numpy(), flipped) < 0.98
    summary = json.loads((tmp_path / "o" / "summary.json").read_text())["settings"]["data_preprocessing"]
    assert summary["standardize"] is True and "sample_id" not in summary["features"]
    assert json.loads((tmp_path / "raw" / "summary.json").read_text())["settings"]["data_preprocessing"] == {
        "standardize": False, "features": summary["features"]}


# ----------------------------------------------------------------------------------- standardisation


def test_standardisation_is_per_column_and_recorded(tmp_path):
    frame = pd.DataFrame({"cm": [150.0, 160.0, 170.0, 190.0], "tiny": [1e-6, 2e-6, 2e-6, 5e-6],
                          "same": [0.1, 0.1, 0.1, 0.1], "label": ["a", "b", "a", "b"]})
    ds = from_frame(frame, label_column="label")
    assert not np.isnan(ds.X).any()
    np.testing.assert_allclose(ds.X.mean(axis=0), 0, atol=1e-6)
    np.testing.assert_allclose(ds.X.std(axis=0), [1, 1, 0], atol=1e-6)  # the constant column is 0, never NaN
    assert np.all(ds.X[:, 2] == 0)
    record = ds.preprocessing
    assert record["standardize"] is True and record["features"] == ["cm", "tiny", "same"]
    np.testing.assert_allclose(record["mean"], frame[["cm", "tiny", "same"]].mean(), rtol=1e-12)
    np.testing.assert_allclose(record["scale"][:2], frame[["cm", "tiny"]].std(ddof=0), rtol=1e-12)
    # The record undoes the scaling: column = X * scale + mean.
    np.testing.assert_allclose(ds.X * np.array(record["scale"]) + np.array(record["mean"]),
                               frame[["cm", "tiny", "same"]], rtol=1e-6)
    # Subsets and subsamples keep the record; turned off, the values are kept as given.
    assert ds.subset([0, 1]).preprocessing == record
    raw = from_frame(frame, label_column="label", standardize=False)
    np.testing.assert_allclose(raw.X, frame[["cm", "tiny", "same"]], rtol=1e-6)
    assert raw.preprocessing == {"standardize": False, "features": ["cm", "tiny", "same"]}
    with pytest.raises(TrainfreeError, match="'standardize' parameter must be True or False"):
        from_frame(frame, label_column="label", standardize="yes")


def test_standardize_columns_near_the_float64_limit():
    X = np.array([[1e308, -1.0], [-1e308, 1.0], [1e308, 3.0]])
    Z, mean, scale = standardize_columns(X)
    unit = X[:, 0] / 1e308
    np.testing.assert_allclose(Z[:, 0], (unit - unit.mean()) / unit.std(), rtol=1e-12)
    np.testing.assert_allclose(Z[:, 1], (X[:, 1] - 1) / np.sqrt(8 / 3), rtol=1e-12)
    assert np.isfinite(mean).all() and np.isfinite(scale).all()
    np.testing.assert_allclose(Z * scale + mean, X, rtol=1e-12)


def test_images_and_arrays_are_not_standardised(tmp_path):
    X = np.arange(12.0).reshape(6, 2) * [1, 100]
    np.savez(path := tmp_path / "a.npz", X=X, y=np.array([0, 1] * 3))
    ds = load_file(path)
    np.testing.assert_allclose(ds.X, X) and not ds.preprocessing
    assert ds.preprocessing == {}
    np.testing.assert_allclose(load("digits").X.max(), 1.0)


# ---------------------------------------------------------------------------- numbers float64 holds


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".npz"])
def test_values_beyond_float32_load(tmp_path, suffix):
    big = np.array([1e200, -3e250, 2e200, 5e199])
    frame = pd.DataFrame({"big": big, "small": [1.0, 2.0, 3.0, 4.0], "label": ["a", "b", "a", "b"]})
    path = tmp_path / f"t{suffix}"
    if suffix == ".npz":
        np.savez(path, X=frame[["big", "small"]].to_numpy(), y=np.array([0, 1, 0, 1]))
    else:
        frame.to_csv(path, index=False) if suffix == ".csv" else frame.to_parquet(path)
    raw = load_file(path, standardize=False)  # .npz is never standardised
    assert raw.X.dtype == np.float64
    np.testing.assert_allclose(raw.X[:, 0], big, rtol=1e-15)
    if suffix != ".npz":
        ds = load_file(path)
        assert ds.X.dtype == np.float32
        unit = big / 3e250  # big.std() itself would overflow
        np.testing.assert_allclose(ds.X[:, 0], (unit - unit.mean()) / unit.std(), rtol=1e-6)
    # The detector scores them (it normalises rows), and float32-sized tables stay float32.
    rc, scores = run(tmp_path, path, "--no-standardize")
    assert rc == 0 and np.isfinite(scores["score"]).all()
    assert load_file(path, standardize=False).subset([1, 2, 3]).X.dtype == np.float64
    frame.assign(big=[1.0, np.inf, 2.0, 3.0]).to_csv(inf := tmp_path / "inf.csv", index=False)
    with pytest.raises(TrainfreeError, match="1 row\\(s\\) with NaN or infinite feature values, the first at row 1.*"
                                             "column 'big'"):
        load_file(inf)


# ---------------------------------------------------------------------------------------- id column


@pytest.mark.filterwarnings("ignore:.*one-hot encoded the categorical")
def test_id_column_names_the_rows(tmp_path, capsys):
    frame = patients()
    frame.to_csv(path := tmp_path / "p.csv", index=False)
    ds = load_file(path, label_column="diagnosis", id_column="patient_id", ignore_columns=["notes", "city"])
    assert ds.ids.tolist() == frame["patient_id"].tolist()
    assert ds.preprocessing["features"] == ["age", "income", "smoker"]
    # Subsamples keep the ids; integer ids stay integers.
    sub = load(path, n=10, label_column="diagnosis", id_column="patient_id", ignore_columns="notes,city".split(","),
               random_state=0)
    assert set(sub.ids) <= set(frame["patient_id"]) and len(set(sub.ids)) == 10
    frame.assign(num=np.arange(100, 140)).to_parquet(pq := tmp_path / "p.parquet")
    assert load_file(pq, label_column="diagnosis", id_column="num", ignore_columns=("patient_id", "notes")
                     ).ids.dtype == np.int64
    # The CLI writes them as row_id.
    rc, scores = run(tmp_path, path, "--label-column", "diagnosis", "--id-column", "patient_id",
                     "--ignore-columns", "notes")
    assert rc == 0 and scores["row_id"].tolist() == frame["patient_id"].tolist()

    # Refusals: missing, repeated, empty, the label itself.
    line = one_line_error(capsys, tmp_path, path, "--label-column", "diagnosis", "--id-column", "pid")
    assert "p.csv has no column 'pid' to identify the rows" in line and "Pass one of them as --id-column NAME" in line
    frame.loc[[3, 17, 30], "patient_id"] = "P007"
    frame.to_csv(dup := tmp_path / "dup.csv", index=False)
    with pytest.raises(TrainfreeError, match=re.escape("the id column 'patient_id' repeats 'P007' (rows 3, 7, 17, "
                                                       "30), so it cannot identify the rows")):
        load_file(dup, label_column="diagnosis", id_column="patient_id", ignore_columns=["notes"])
    line = one_line_error(capsys, tmp_path, dup, "--label-column", "diagnosis", "--id-column", "patient_id",
                          "--ignore-columns", "notes")
    assert "repeats 'P007' (rows 3, 7, 17, 30)" in line and "--id-column NAME" in line
    frame.loc[5, "patient_id"] = None
    with pytest.raises(TrainfreeError, match="id column 'patient_id' is empty at row 5"):
        from_frame(frame, label_column="diagnosis", id_column="patient_id")
    with pytest.raises(TrainfreeError, match="'diagnosis' is the label column and cannot also identify the rows"):
        from_frame(frame, label_column="diagnosis", id_column="diagnosis")


def test_table_options_need_a_table(tmp_path, capsys):
    np.savez(path := tmp_path / "a.npz", X=np.eye(4), y=np.array([0, 1, 0, 1]))
    with pytest.raises(TrainfreeError, match="a.npz is an .npz file, which has no columns: the 'id_column' "
                                             "parameter is for .csv and .parquet tables"):
        load_file(path, id_column="x")
    assert "--ignore-columns" in one_line_error(capsys, tmp_path, path, "--ignore-columns", "a")
    with pytest.raises(TrainfreeError, match="digits is a built-in data set without columns: the 'id_column'"):
        load("digits", id_column="x")
    assert "digits is a built-in data set without columns: --ignore-columns is for .csv" in one_line_error(
        capsys, tmp_path, "digits", "--ignore-columns", "a")


def test_a_label_column_is_refused_where_labels_have_a_fixed_place(tmp_path, capsys):
    np.savez(path := tmp_path / "a.npz", X=np.eye(4), y=np.array([0, 1, 0, 1]))
    with pytest.raises(TrainfreeError, match="a.npz is an .npz file, whose labels are its array y: the "
                                             "'label_column' parameter \\(here 'kind'\\)"):
        load_file(path, label_column="kind")
    assert len(load_file(path).classes) == 2  # the default names no column
    line = one_line_error(capsys, tmp_path, path, "--label-column", "kind")
    assert "whose labels are its array y: --label-column (here 'kind')" in line
    assert "digits is a built-in data set without columns: --label-column is for" in one_line_error(
        capsys, tmp_path, "digits", "--label-column", "kind")


# --------------------------------------------------------------------------------- ignored columns


@pytest.mark.filterwarnings("ignore:.*one-hot encoded the categorical")
def test_ignore_columns(tmp_path, capsys):
    frame = patients()
    frame.to_csv(path := tmp_path / "p.csv", index=False)
    ds = load_file(path, label_column="diagnosis", ignore_columns=["patient_id", "notes", "city"])
    assert ds.preprocessing["features"] == ["age", "income", "smoker"] and ds.ids.tolist() == list(range(40))
    assert from_frame(frame, label_column="diagnosis", ignore_columns="notes", id_column="patient_id"
                      ).preprocessing["features"][:3] == ["age", "income", "smoker"]
    line = one_line_error(capsys, tmp_path, path, "--label-column", "diagnosis", "--ignore-columns", "notes,nope")
    assert "p.csv has no column(s) ['nope'] to ignore; its columns are" in line and "Fix --ignore-columns." in line
    with pytest.raises(TrainfreeError, match="'diagnosis' is the label column and cannot be ignored"):
        load_file(path, label_column="diagnosis", ignore_columns=["diagnosis"])
    assert "expected comma-separated column names" in one_line_error(capsys, tmp_path, path, "--ignore-columns", "a,")


# ------------------------------------------------------------------------------ categorical columns


def test_categorical_columns_are_one_hot_encoded(tmp_path):
    frame = patients()
    frame.loc[4, "city"] = None
    with pytest.warns(UserWarning, match=re.escape("one-hot encoded the categorical column(s) 'city' (4 levels) "
                                                   "into 4 0/1 features; to drop them instead, pass "
                                                   "ignore_columns='city'")):
        ds = from_frame(frame, label_column="diagnosis", id_column="patient_id", ignore_columns="notes",
                        standardize=False)
    assert ds.preprocessing["one_hot"] == {"city": [MISSING_LEVEL, "Lima", "Oslo", "Pune"]}
    names = ds.preprocessing["features"]
    assert names == ["age", "income", "smoker", f"city={MISSING_LEVEL}", "city=Lima", "city=Oslo", "city=Pune"]
    onehot = ds.X[:, 3:]
    assert onehot.sum(axis=1).tolist() == [1.0] * 40 and onehot[4].tolist() == [1, 0, 0, 0]
    assert onehot[:, 2].tolist() == (frame["city"] == "Oslo").astype(float).tolist()
    assert ds.X[:, 2].tolist() == frame["smoker"].astype(float).tolist()  # booleans are 0/1, not encoded
    # A pandas category dtype too, and the frame itself is untouched.
    before = frame.copy()
    with pytest.warns(UserWarning, match="'city' \\(4 levels\\)"):
        cat = from_frame(frame.astype({"city": "category"}), label_column="diagnosis", id_column="patient_id",
                         ignore_columns=["notes"], standardize=False)
    np.testing.assert_array_equal(cat.X, ds.X)
    pd.testing.assert_frame_equal(frame, before)


def test_too_many_levels_are_refused(tmp_path, capsys):
    frame = patients()
    frame.to_csv(path := tmp_path / "p.csv", index=False)
    line = one_line_error(capsys, tmp_path, path, "--label-column", "diagnosis")
    assert line == ("trainfree: error: p.csv: column 'patient_id' has 40 distinct values, too many for a categorical "
                    "feature (at most 20 here); if it identifies the rows, pass --id-column patient_id, otherwise "
                    "--ignore-columns patient_id.")
    # A number column with a stray word names the cell instead.
    frame.assign(income=frame["income"].astype(object).where(frame.index != 6, "unknown")).drop(
        columns=["patient_id", "notes"]).to_csv(typo := tmp_path / "typo.csv", index=False)
    with pytest.raises(TrainfreeError, match="column 'income' holds numbers and 1 text value\\(s\\), the first "
                                             "'unknown' at row 6"):
        load_file(typo, label_column="diagnosis")
    assert (max_levels(8), max_levels(40), max_levels(10_000)) == (10, 20, 100)


# ----------------------------------------------------------------------------------------- DataFrames


def test_from_frame_equals_the_written_table(tmp_path):
    frame = patients().drop(columns=["notes"])
    frame.to_csv(path := tmp_path / "p.csv", index=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = from_frame(frame, label_column="diagnosis", id_column="patient_id", name="p.csv")
        b = load_file(path, label_column="diagnosis", id_column="patient_id")
    np.testing.assert_allclose(a.X, b.X, rtol=1e-6)
    assert a.y.tolist() == b.y.tolist() and a.classes == b.classes and a.ids.tolist() == b.ids.tolist()
    assert a.preprocessing["features"] == b.preprocessing["features"]
    # A custom index names the rows, as a Parquet file's does.
    indexed = frame.drop(columns=["city", "patient_id"]).set_index(pd.Index([f"r{i}" for i in range(40)]))
    assert from_frame(indexed, label_column="diagnosis").ids.tolist()[:2] == ["r0", "r1"]
    with pytest.raises(TrainfreeError, match="from_frame needs a pandas DataFrame, got ndarray"):
        from_frame(np.zeros((2, 2)), label_column="label")


# ------------------------------------------------------------------------- tables valued against others


def test_contributors_share_the_validation_sets_scale(tmp_path, capsys):
    """Standardising each file on its own would erase a contributor's shift; all take the validation set's scale."""
    def part(n, shift, seed):
        r = np.random.default_rng(seed)
        y = r.integers(0, 2, n)
        return pd.DataFrame({"id": [f"{seed}-{i}" for i in range(n)], "mm": r.normal(y * 3 + shift, 1) * 1000,
                             "g": r.normal(y, 1), "label": np.array(["no", "yes"])[y]})

    val, shifted = part(60, 0, 1), part(40, 5, 2)
    val.to_csv(tmp_path / "val.csv", index=False)
    shifted.to_csv(tmp_path / "shifted.csv", index=False)
    part(40, 0, 3).to_csv(tmp_path / "plain.csv", index=False)
    raw_val = load_file(tmp_path / "val.csv", id_column="id", standardize=False)
    raw = load_file(tmp_path / "shifted.csv", id_column="id", standardize=False)
    scaled = standardize_as(raw, raw_val)
    stats = val[["mm", "g"]]
    np.testing.assert_allclose(scaled.X, (shifted[["mm", "g"]] - stats.mean()) / stats.std(ddof=0), rtol=1e-5)
    assert scaled.X[:, 0].mean() > 2  # the shift survives; on its own scale it would be 0
    assert scaled.preprocessing["reference"] == "val.csv" and scaled.ids.tolist() == shifted["id"].tolist()
    np.testing.assert_allclose(standardize_as(raw_val, raw_val).X, load_file(tmp_path / "val.csv", id_column="id").X,
                               rtol=1e-5, atol=1e-6)
    with pytest.raises(TrainfreeError, match="needs tables loaded with standardize=False; val.csv was standardised"):
        standardize_as(raw, load_file(tmp_path / "val.csv", id_column="id"))
    other = from_frame(shifted.rename(columns={"g": "h"}), label_column="label", id_column="id", standardize=False)
    with pytest.raises(TrainfreeError, match=re.escape("only in frame: ['h']; only in val.csv: ['g']")):
        standardize_as(other, raw_val)
    # The CLI values the files with the table flags, on one scale.
    rc = main(["value", "davinz", "--contributor-data", str(tmp_path / "shifted.csv"), str(tmp_path / "plain.csv"),
               "--val-data", str(tmp_path / "val.csv"), "--id-column", "id", "--model", "mlp", "--out",
               str(tmp_path / "v"), "--quiet", "--no-report"])
    assert rc == 0, capsys.readouterr().err
    values = pd.read_parquet(tmp_path / "v" / "values.parquet").set_index("player")["value"]
    assert values["shifted"] < values["plain"]


@pytest.mark.filterwarnings("ignore:.*one-hot encoded the categorical")
def test_report_shows_the_rows_of_a_table_with_ids_and_categories(tmp_path):
    frame = patients()
    frame.to_csv(path := tmp_path / "p.csv", index=False)
    out = tmp_path / "r"
    assert main(["score", "mislabel", "--data", str(path), "--label-column", "diagnosis", "--id-column", "patient_id",
                 "--ignore-columns", "notes", "--out", str(out), "--quiet", "--report"]) == 0
    page = (out / "report.html").read_text()
    assert "galleries show no pictures" not in page and "P007" in page
    assert "city=Oslo" in page and "income" in page  # the columns as loaded head the gallery tables
    with pytest.warns(UserWarning, match="'city' \\(3 levels\\) into 3 0/1 features; to drop them instead, pass "
                                         "--ignore-columns city\\."):
        assert main(["score", "cg", "--data", str(path), "--label-column", "diagnosis", "--id-column", "patient_id",
                     "--ignore-columns", "notes", "--out", str(tmp_path / "cg"), "--quiet", "--no-report"]) == 0


def test_networks_need_float32_values_and_say_so(tmp_path, capsys):
    rng = np.random.default_rng(0)
    pd.DataFrame({"a": rng.normal(size=60) * 1e200, "b": rng.normal(size=60), "label": ["x", "y"] * 30}).to_csv(
        path := tmp_path / "big.csv", index=False)
    flags = ("--model", "mlp", "--seeds", "1", "--epochs", "1")
    rc, scores = run(tmp_path, path, *flags, command="el2n")
    assert rc == 0 and np.isfinite(scores["score"]).all()  # standardised: float32 holds every value
    capsys.readouterr()
    rc, _ = run(tmp_path, path, *flags, "--no-standardize", command="el2n", out="raw")
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "holds values beyond float32's range (largest magnitude 2.33e+200)" in err[0]
