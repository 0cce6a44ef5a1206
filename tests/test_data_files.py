"""User files, through the API and the CLI: row identity, damaged and ambiguous input, safe image folders."""

import itertools
import os
import re

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from trainfree._errors import TrainfreeError
from trainfree._validation import check_labels
from trainfree.cli import main
from trainfree.data import load, load_file
from trainfree.scores import cg_score

N, SUB, SEED = 40, 20, 3
_RUNS = itertools.count()


def cli_error(capsys, tmp_path, data, *extra):
    """Run ``score cg`` on ``data``; it must fail with exit code 2 and exactly one error line, which is returned."""
    capsys.readouterr()
    # A fresh --out each time: a failed run still marks its folder as that run's.
    out = tmp_path / f"failed-{next(_RUNS)}"
    rc = main(["score", "cg", "--data", str(data), "--out", str(out), "--quiet", *extra])
    err = capsys.readouterr().err
    assert rc == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("trainfree: error:") and "Traceback" not in err, err
    return lines[0]


def both_fail(capsys, tmp_path, data, match, *, label_column="label", cli_match=None):
    """The API raises a TrainfreeError matching ``match``; the CLI prints it as one line (``cli_match``)."""
    with pytest.raises(TrainfreeError, match=match):
        load_file(data, label_column=label_column)
    extra = [] if label_column == "label" else ["--label-column", label_column]
    assert re.search(cli_match or match, cli_error(capsys, tmp_path, data, *extra))


def cli_scores(tmp_path, data, name="o", *extra):
    rc = main(["score", "cg", "--data", str(data), "--out", str(tmp_path / name), "--quiet", *extra])
    assert rc == 0
    return pd.read_parquet(tmp_path / name / "scores.parquet")


# ------------------------------------------------------------------------------------- row identity


def source_table(rng):
    """Features that encode the row number (column ``row``) and string labels."""
    return pd.DataFrame({"row": np.arange(N, dtype=float), "noise": rng.normal(size=N),
                         "label": rng.choice(["cat", "dog"], N)})


def write_source(kind, tmp_path, rng):
    """Write one source; return its path, the id of each input row, the row-number feature and the labels."""
    df = source_table(rng)
    labels = df["label"].to_numpy(dtype=str)
    if kind == "csv":
        df.to_csv(path := tmp_path / "d.csv", index=False)
        ids = np.arange(N)
    elif kind in ("parquet-str", "parquet-int"):
        ids = np.array([f"r{i:02d}" for i in range(N)]) if kind == "parquet-str" else 1000 - 7 * np.arange(N)
        df.set_axis(ids).to_parquet(path := tmp_path / "d.parquet")
    elif kind in ("npz", "npz-ids"):
        ids = np.arange(N) if kind == "npz" else np.array([f"s{i}" for i in range(N)])
        arrays = {"X": df[["row", "noise"]].to_numpy(), "y": labels}
        np.savez(path := tmp_path / "d.npz", **arrays, **({"ids": ids} if kind == "npz-ids" else {}))
    else:  # image folder: pixel (0, 0) holds the row number, the rest is noise
        path, ids = tmp_path / "imgs", []
        for i, lab in enumerate(labels):
            arr = rng.integers(0, 256, (4, 5))
            arr[0, 0] = 5 * i
            (path / lab).mkdir(parents=True, exist_ok=True)
            Image.fromarray(arr.astype(np.uint8), mode="L").save(path / lab / f"{i:03d}.png")
            ids.append(f"{lab}/{i:03d}.png")
        ids = np.array(ids)
    return path, ids, labels


@pytest.mark.parametrize("kind", ["csv", "parquet-str", "parquet-int", "npz", "npz-ids", "images"])
def test_subsampled_rows_map_back_to_input_rows(kind, tmp_path):
    path, ids, labels = write_source(kind, tmp_path, np.random.default_rng(0))
    row_of = {i.item() if hasattr(i, "item") else i: r for r, i in enumerate(ids)}
    ds = load(path, n=SUB, random_state=SEED, standardize=False)
    rows = np.array([row_of[i] for i in ds.ids.tolist()])
    assert len(set(rows)) == SUB
    row_feature = ds.X[:, 0] * 255 / 5 if kind == "images" else ds.X[:, 0]
    np.testing.assert_allclose(row_feature, rows, atol=1e-3)
    assert ds.labels.tolist() == labels[rows].tolist()

    # The CLI draws the same subsample from the same seed; its rows name the input rows and their labels.
    scores = cli_scores(tmp_path, path, "o", "--n", str(SUB), "--seed", str(SEED))
    cli_rows = np.array([row_of[i] for i in scores["row_id"].tolist()])
    assert sorted(cli_rows.tolist()) == sorted(rows.tolist())
    assert scores["label"].tolist() == labels[cli_rows].tolist()
    assert all(isinstance(v, str) for v in scores["label"])


def test_unnamed_first_column_is_the_index(tmp_path):
    df = source_table(np.random.default_rng(1))
    df.to_csv(with_index := tmp_path / "with_index.csv")  # pandas' default: an unnamed index column
    df.to_csv(plain := tmp_path / "plain.csv", index=False)
    with pytest.warns(UserWarning, match="unnamed first column .* index"):
        ds = load_file(with_index)
    ref = load_file(plain)
    np.testing.assert_allclose(ds.X, ref.X)
    assert ds.y.tolist() == ref.y.tolist() and ds.ids.tolist() == list(range(N))
    # Scores equal those of the same data without the index column.
    with pytest.warns(UserWarning, match="index"):
        a = cli_scores(tmp_path, with_index, "a")
    b = cli_scores(tmp_path, plain, "b")
    np.testing.assert_allclose(a["score"], b["score"], rtol=1e-9)
    # A subset written with its index keeps the original row identities.
    df.iloc[::3].to_csv(part := tmp_path / "part.csv")
    with pytest.warns(UserWarning, match="index"):
        assert load_file(part).ids.tolist() == list(range(0, N, 3))
    # The same column carried into a Parquet file is recognised too.
    pd.read_csv(with_index).to_parquet(pq := tmp_path / "carried.parquet", index=False)
    with pytest.warns(UserWarning, match="index"):
        np.testing.assert_allclose(load_file(pq).X, ref.X)


# ---------------------------------------------------------------------------- empty and damaged files


def valid_bytes(suffix, tmp_path):
    df = source_table(np.random.default_rng(2))
    path = tmp_path / f"valid{suffix}"
    if suffix == ".csv":
        df.to_csv(path, index=False)
    elif suffix == ".parquet":
        df.to_parquet(path)
    else:
        np.savez_compressed(path, X=df[["row", "noise"]].to_numpy(), y=df["label"].to_numpy(dtype=str))
    return path.read_bytes()


@pytest.mark.parametrize("suffix", [".csv", ".npz", ".parquet"])
@pytest.mark.parametrize("damage", ["empty", "garbage", "truncated"])
def test_damaged_files_name_the_file_and_the_fix(suffix, damage, tmp_path, capsys):
    good = valid_bytes(suffix, tmp_path)
    if damage == "empty":
        content = b""
    elif damage == "garbage":
        content = np.random.default_rng(0).bytes(300)
    elif suffix == ".csv":  # cut inside the last row: its label is gone
        content = good[:good.rstrip().rfind(b",") + 1]
    else:
        content = good[:len(good) // 2]
    path = tmp_path / f"bad{suffix}"
    path.write_bytes(content)
    both_fail(capsys, tmp_path, path, rf"bad\{suffix}.*(write it again|write the data again|fill in their labels)")


def test_csv_rows_longer_than_the_header(tmp_path, capsys):
    (path := tmp_path / "long.csv").write_text("a,label\n1,x,3,4\n2,y\n")
    both_fail(capsys, tmp_path, path, r"long\.csv has rows with more fields than its header")


def test_parquet_index_variants(tmp_path):
    df = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0], "label": ["x", "y", "x", "y"]})
    df.set_axis(pd.MultiIndex.from_tuples([("p", 1), ("p", 2), ("q", 1), ("q", 2)])).to_parquet(tmp_path / "m.parquet")
    assert load_file(tmp_path / "m.parquet").ids.tolist() == ["p/1", "p/2", "q/1", "q/2"]
    df.set_axis([5, 5, 6, 7]).to_parquet(tmp_path / "d.parquet")
    with pytest.warns(UserWarning, match="repeated values"):
        assert load_file(tmp_path / "d.parquet").ids.tolist() == [0, 1, 2, 3]


def test_header_only_csv_has_no_rows(tmp_path, capsys):
    (path := tmp_path / "header.csv").write_text("a,b,label\n")
    both_fail(capsys, tmp_path, path, r"header\.csv has no data rows")
    with pytest.raises(TrainfreeError) as info:
        load_file(path)
    assert "non-numeric" not in str(info.value)


def test_npz_never_unpickles_and_checks_ids(tmp_path, capsys):
    np.savez(obj := tmp_path / "obj.npz", X=np.zeros((2, 2)), y=np.array(["a", None], dtype=object))
    both_fail(capsys, tmp_path, obj, r"'y' of .*obj\.npz is an object array.*refuses to unpickle")
    np.save(tmp_path / "one.npy", np.zeros((3, 2)))
    os.replace(tmp_path / "one.npy", single := tmp_path / "one.npz")
    both_fail(capsys, tmp_path, single, r"single array.*np\.savez")
    np.savez(dup := tmp_path / "dup.npz", X=np.zeros((3, 2)), y=np.array([0, 1, 0]), ids=np.array([1, 1, 2]))
    both_fail(capsys, tmp_path, dup, r"'ids' of .*dup\.npz repeats values")


# -------------------------------------------------------------------------- missing and odd values


@pytest.mark.parametrize("missing", ["", None, np.nan])
def test_missing_string_labels(missing, tmp_path, capsys):
    labels = ["cat", "dog", missing, "cat", missing, "dog"]
    df = pd.DataFrame({"a": np.arange(6.0), "label": labels})
    df.to_csv(csv := tmp_path / "m.csv", index=False)  # "" and None both become empty cells
    both_fail(capsys, tmp_path, csv, r"m\.csv has 2 row\(s\) with a missing label in column 'label', the first "
                                     r"at row 2 .*drop those rows or fill")
    df.set_axis(list("uvwxyz")).to_parquet(pq := tmp_path / "m.parquet")
    both_fail(capsys, tmp_path, pq, r"m\.parquet has 2 row\(s\) with a missing label.*row 2, index 'w'")
    y = np.array([0.0, 1.0, np.nan, 0.0, np.nan, 1.0])
    np.savez(npz := tmp_path / "m.npz", X=np.zeros((6, 2)), y=y)
    both_fail(capsys, tmp_path, npz, r"m\.npz has 2 row\(s\) with a missing label, the first at row 2")


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_features_name_count_and_first_row(bad, tmp_path, capsys):
    df = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0], "b": [0.0, bad, 1.0, bad], "label": ["x", "y", "x", "y"]})
    df.to_csv(csv := tmp_path / "f.csv", index=False)
    both_fail(capsys, tmp_path, csv, r"f\.csv has 2 row\(s\) with NaN or infinite feature values, the first at "
                                     r"row 1 .*column 'b'.*impute")
    df.to_parquet(pq := tmp_path / "f.parquet")
    both_fail(capsys, tmp_path, pq, r"f\.parquet has 2 row\(s\) with NaN or infinite.*row 1")


def test_real_valued_labels_ask_for_classes(tmp_path, capsys):
    df = pd.DataFrame({"a": np.arange(6.0), "b": np.arange(6.0) ** 2, "label": [0.5, 1.5, 2.25, 0.1, 3.0, 1.0]})
    df.to_csv(path := tmp_path / "r.csv", index=False)
    ds = load_file(path)
    assert ds.task == "regression"  # loading keeps real targets; the CG-score asks for classes
    line = cli_error(capsys, tmp_path, path)
    assert re.search(r"r\.csv are real numbers.*CG-score needs class labels.*pandas\.cut", line)
    for word in ("regression utility", "task=", "task='regression'"):
        assert word not in line
    with pytest.raises(TrainfreeError, match="real numbers.*class labels.*pandas.cut") as info:
        cg_score(ds.X, ds.y)
    assert "regression utility" not in str(info.value)
    with pytest.raises(TrainfreeError, match=r"holds 1 NaN or infinite label\(s\), the first at row 1"):
        check_labels(np.array([0.0, np.inf, 1.0]), 3)


# -------------------------------------------------------------------------------- tables' columns


def test_table_columns(tmp_path, capsys):
    pd.DataFrame({"label": ["x", "y"]}).to_csv(only := tmp_path / "only.csv", index=False)
    both_fail(capsys, tmp_path, only, r"only\.csv holds only the label column 'label'; add feature columns")
    pd.DataFrame({"a": [1.0, 2.0], "Target": ["x", "y"]}).to_parquet(nolab := tmp_path / "nolab.parquet")
    both_fail(capsys, tmp_path, nolab, r"no label column 'label'; its columns are \['a', 'Target'\]\. "
                                       r"Pass label_column='Target'",
              cli_match=r"its columns are \['a', 'Target'\]\. Pass --label-column Target")
    pd.DataFrame({"a": [1.0, 2.0], "b": ["x", "y"]}).to_csv(other := tmp_path / "other.csv", index=False)
    both_fail(capsys, tmp_path, other, r"no label column 'lab'.*Pass label_column=NAME", label_column="lab",
              cli_match=r"Pass --label-column NAME")
    pd.DataFrame({"a": np.arange(40.0), "patient": [f"p{i}" for i in range(40)], "label": [0, 1] * 20}).to_csv(
        ids := tmp_path / "ids.csv", index=False)
    both_fail(capsys, tmp_path, ids, r"column 'patient' has 40 distinct values, too many for a categorical feature "
                                     r"\(at most 20 here\); if it identifies the rows, pass id_column='patient', "
                                     r"otherwise ignore_columns='patient'",
              cli_match=r"pass --id-column patient, otherwise --ignore-columns patient\.")


# ---------------------------------------------------------------------------------- missing paths


def test_missing_paths_and_unknown_names(tmp_path, capsys):
    for missing in ("/no/such/file.csv", str(tmp_path / "missing.parquet"), "missing.parquet", "no/such/dir"):
        with pytest.raises(TrainfreeError, match=f"No such file or folder: {re.escape(missing)}"):
            load(missing)
        line = cli_error(capsys, tmp_path, missing)
        assert "No such file" in line and missing in line and "Unknown data set" not in line
    with pytest.raises(TrainfreeError, match="Unknown data set 'no-such-set'"):
        load("no-such-set")
    assert "Unknown data set 'no-such-set'" in cli_error(capsys, tmp_path, "no-such-set")



def test_a_npy_array_is_refused_with_how_to_save_its_labels(tmp_path, capsys):
    np.save(path := tmp_path / "emb.npy", np.eye(4))
    line = cli_error(capsys, tmp_path, str(path))
    assert "'emb.npy'" in line and "numpy.savez(path, X=X, y=y)" in line


# ------------------------------------------------------------------------------------- image folders


def make_folder(root, classes=("a", "b"), per_class=3, size=(4, 5)):
    rng = np.random.default_rng(0)
    for c in classes:
        (root / c).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            Image.fromarray(rng.integers(0, 256, size).astype(np.uint8), mode="L").save(root / c / f"{i}.png")
    return root


@pytest.mark.parametrize("limit, match", [(12, r"is 5x4 pixels \(20 in all\)"), (5, r"has 20 pixels")])
def test_decompression_bomb_is_a_clear_error(limit, match, tmp_path, capsys, monkeypatch):
    folder = make_folder(tmp_path / "imgs")
    # Pillow warns above MAX_IMAGE_PIXELS (limit 12 < 20 pixels) and raises above twice that (limit 5).
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", limit)
    both_fail(capsys, tmp_path, folder, rf"Image .*a/0\.png {match}, more than Pillow's decompression-bomb "
                                        rf"limit.*resize it")


def test_links_out_of_the_folder_are_refused(tmp_path, capsys):
    outside = make_folder(tmp_path / "outside", classes=("secret",))
    folder = make_folder(tmp_path / "imgs")
    (folder / "c").symlink_to(outside / "secret", target_is_directory=True)
    both_fail(capsys, tmp_path, folder, r"imgs/c is a link to .*outside/secret, outside the data folder")
    (folder / "c").unlink()
    (folder / "a" / "9.png").symlink_to(outside / "secret" / "0.png")
    both_fail(capsys, tmp_path, folder, r"imgs/a/9\.png is a link to .*outside the data folder")
    (folder / "a" / "9.png").unlink()
    # Links that stay inside the folder are followed; the row keeps the link's own path.
    (folder / ".store").mkdir()
    os.replace(folder / "b", folder / ".store" / "b")
    (folder / "b").symlink_to(folder / ".store" / "b", target_is_directory=True)
    (folder / "a" / "9.png").symlink_to(folder / "a" / "0.png")
    ds = load_file(folder)
    assert ds.classes == ("a", "b") and len(ds) == 7 and "a/9.png" in ds.ids.tolist()
    np.testing.assert_allclose(ds.X[ds.ids.tolist().index("a/9.png")], ds.X[0])
