"""Real contributors: one file each or a contributor column, the user's validation set, regression, names."""

import json

import numpy as np
import pandas as pd
import pytest

from trainfree import TrainfreeError
from trainfree.cli import main
from trainfree.data import Dataset, load
from trainfree.experiments import load_contributors, value_datasets


def table(X, y, **extra):
    df = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    df["label"] = y
    for k, v in extra.items():
        df[k] = v
    return df


@pytest.fixture(scope="module")
def digits():
    return load("digits", n=500, random_state=0)


def test_one_file_per_contributor_from_the_cli(tmp_path, digits, capsys):
    X, y = digits.X, digits.y.copy()
    rng = np.random.default_rng(0)
    noisy = y[100:200].copy()
    noisy[:60] = (noisy[:60] + rng.integers(1, 10, 60)) % 10  # "mallory" has 60% of her labels wrong
    paths = []
    for name, (a, b, labels) in {"alice": (0, 100, y[:100]), "mallory": (100, 200, noisy),
                                 "bob": (200, 300, y[200:300])}.items():
        paths.append(tmp_path / f"{name}.csv")
        table(X[a:b], labels).to_csv(paths[-1], index=False)
    table(X[300:], y[300:]).to_csv(tmp_path / "val.csv", index=False)
    out = tmp_path / "out"
    assert main(["value", "davinz", "--contributor-data", *map(str, paths), "--val-data", str(tmp_path / "val.csv"),
                 "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "alice: 100" in printed and "mallory" in printed
    df = pd.read_parquet(out / "values.parquet")
    assert df["player"].tolist() == ["alice", "mallory", "bob"]
    assert df.loc[df["value"].idxmin(), "player"] == "mallory"
    settings = json.loads((out / "summary.json").read_text())["settings"]
    assert settings["validation"] == "val.csv" and settings["n_val"] == 200


def test_contributor_column_and_class_names_matched_across_files(tmp_path, digits):
    X, y = digits.X[:300], digits.y[:300]
    who = np.array(["north", "south", "east"])[np.arange(300) % 3]
    table(X, y, site=who).to_csv(tmp_path / "all.csv", index=False)
    parts = load_contributors([tmp_path / "all.csv"], group_column="site")
    assert sorted(parts) == ["east", "north", "south"] and all(len(d) == 100 for d in parts.values())
    assert parts["north"].X.shape[1] == 64  # the contributor column is not a feature
    # Files whose class sets differ get one label space, by class name (whole numbers sort as numbers).
    a, b = digits.subset(np.flatnonzero(digits.y < 5)[:60]), digits.subset(np.flatnonzero(digits.y >= 3)[:60])
    val = digits.subset(np.arange(300, 400))
    from trainfree.experiments.contributors import _common_targets

    relabelled = Dataset(b.X, b.y - 3, tuple(str(c) for c in range(3, 10)))  # codes 0..6 mean classes 3..9
    targets, classes = _common_targets({"a": a, "b": relabelled, "validation set": val}, "classification")
    assert classes == [str(c) for c in range(10)]
    np.testing.assert_array_equal(targets["b"], b.y)
    res = value_datasets({"a": a, "b": relabelled}, val, random_state=0)
    assert res.to_dataframe()["player"].tolist() == ["a", "b"]


def test_regression_contributors_and_errors(tmp_path, rng, capsys):
    X = rng.normal(size=(150, 5))
    t = X @ rng.normal(size=5)
    for name, (a, b) in {"p": (0, 50), "q": (50, 100)}.items():
        table(X[a:b], np.round(t[a:b] * 10)).to_csv(tmp_path / f"{name}.csv", index=False)  # whole numbers
    table(X[100:], np.round(t[100:] * 10)).to_csv(tmp_path / "val.csv", index=False)
    files = [str(tmp_path / "p.csv"), str(tmp_path / "q.csv")]
    out = tmp_path / "out"
    assert main(["value", "davinz", "--contributor-data", *files, "--val-data", str(tmp_path / "val.csv"),
                 "--task", "regression", "--quiet", "--out", str(out)]) == 0
    settings = json.loads((out / "summary.json").read_text())["settings"]
    assert settings["task"] == "regression" and settings["outputs"] == "own"
    capsys.readouterr()
    assert main(["value", "davinz", "--contributor-data", *files, "--out", str(tmp_path / "o2")]) == 2
    assert "--val-data" in capsys.readouterr().err
    gone, val = str(tmp_path / "gone.csv"), str(tmp_path / "val.csv")
    for flag, argv in (("--contributor-data", [*files, gone, "--val-data", val]), ("--val-data", [*files, "--val-data",
                                                                                                gone])):
        assert main(["value", "davinz", "--contributor-data", *argv, "--out", str(tmp_path / "o3")]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and f"{flag}: no such file or folder: {gone}" in err, err
    assert not (tmp_path / "o3").exists()  # refused before the output folder is made
    real = Dataset(X[100:], t[100:].astype(np.float64))  # real-valued targets cannot be classes
    with pytest.raises(TrainfreeError, match="real-valued targets"):
        value_datasets({"p": load(files[0])}, real, task="classification")
