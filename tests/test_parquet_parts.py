"""A folder of Parquet parts: read as a Dask array, scored by the low-rank detector, locally and on a LocalCluster."""

import json

import numpy as np
import pandas as pd
import pytest

from trainfree import TrainfreeError
from trainfree.data import is_parquet_parts, load_file, read_parquet_parts
from trainfree.experiments import score_parquet_parts
from trainfree.scores import mislabel_score

pytest.importorskip("dask.array")
BOUNDS = ((0, 70), (70, 160), (160, 240))


def _table(n=240, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    centres = rng.normal(size=(3, 5)) * 3
    X = centres[y] + rng.normal(size=(n, 5))
    frame = pd.DataFrame(X * [1, 10, 100, 1e-3, 1] + [0, 5, -50, 7, 0], columns=[f"f{j}" for j in range(5)])
    frame["const"] = 4.0
    frame["flag"] = rng.random(n) > 0.5
    frame["label"] = np.array(["cat", "dog", "eel"])[y]
    frame["rid"] = [f"r{i:03d}" for i in range(n)]
    return frame


def _write(folder, frame):
    folder.mkdir()
    for i, (start, stop) in enumerate(BOUNDS):
        frame.iloc[start:stop].to_parquet(folder / f"part-{i}.parquet", index=False)
    return folder


@pytest.fixture
def parts(tmp_path):
    frame = _table()
    frame.to_parquet(tmp_path / "all.parquet", index=False)
    return _write(tmp_path / "parts", frame), tmp_path / "all.parquet"


def test_parts_equal_the_concatenated_table(parts):
    folder, whole = parts
    got = read_parquet_parts(folder, id_column="rid")
    want = load_file(whole, id_column="rid")
    assert is_parquet_parts(folder) and not is_parquet_parts(whole)
    assert got.X.numblocks[0] == 3 and got.X.chunks[0] == (70, 90, 80)
    np.testing.assert_allclose(got.X.compute(), want.X, atol=1e-6)
    np.testing.assert_array_equal(got.y, want.y)
    np.testing.assert_array_equal(got.ids, want.ids)
    assert got.classes == want.classes and len(got) == 240
    assert got.preprocessing["features"] == want.preprocessing["features"]
    np.testing.assert_allclose(got.preprocessing["mean"], want.preprocessing["mean"], rtol=1e-10)
    np.testing.assert_allclose(got.preprocessing["scale"], want.preprocessing["scale"], rtol=1e-10)
    raw = read_parquet_parts(folder, id_column="rid", standardize=False)
    np.testing.assert_allclose(raw.X.compute()[:, 2], _table()["f2"].to_numpy())
    assert "mean" not in raw.preprocessing
    numbered = read_parquet_parts(folder, ignore_columns="rid")
    np.testing.assert_array_equal(numbered.ids, np.arange(240))


def test_parts_on_a_local_cluster_match_the_local_lowrank_result(parts, tmp_path):
    distributed = pytest.importorskip("distributed")
    from trainfree.cli import main

    folder, whole = parts
    table = load_file(whole, id_column="rid")
    local = mislabel_score(np.asarray(table.X, dtype=np.float64), table.y, method="lowrank", block_rows=0,
                           random_state=0)  # on Dask the block correction is off
    data = read_parquet_parts(folder, id_column="rid")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=":0") as cluster:
        with distributed.Client(cluster):
            remote = mislabel_score(data.X, data.y, method="auto", random_state=0)
        out = tmp_path / "o"
        assert main(["score", "mislabel", "--data", str(folder), "--id-column", "rid", "--method", "auto", "--scheduler",
                     cluster.scheduler_address, "--seed", "0", "--out", str(out), "--no-report", "--quiet"]) == 0
    assert remote.settings["method"] == "lowrank" and remote.settings["rank"] == local.settings["rank"]
    np.testing.assert_allclose(remote.scores, local.scores, rtol=1e-6, atol=1e-6)
    scores = pd.read_parquet(out / "scores.parquet")
    assert scores["row_id"].tolist() == table.ids.tolist()
    assert scores["label"].tolist() == table.labels.tolist()
    assert set(scores["predicted"]) <= set(table.classes)
    assert json.loads((out / "summary.json").read_text())["settings"]["method"] == "lowrank"


def test_score_parquet_parts_refuses_the_modes_that_gather_rows(parts):
    with pytest.raises(TrainfreeError, match="method='auto' or method='lowrank'"):
        score_parquet_parts(read_parquet_parts(parts[0], id_column="rid"), method="exact")


@pytest.mark.parametrize("case, match", [
    ("empty", "holds no .parquet files"),
    ("columns", "part part-1.parquet has columns"),
    ("label", "no column 'label'.*'label_column' parameter"),
    ("text", r"column 'rid' holds .*string.*ignore_columns='rid'"),
    ("nan", "Part part-2.parquet has 1 row"),
])
def test_bad_parts_are_refused_in_one_line(tmp_path, case, match):
    frame = _table()
    folder = tmp_path / "bad"
    if case == "empty":
        folder.mkdir()
    elif case == "columns":
        _write(folder, frame)
        frame.iloc[70:160].drop(columns=["f1"]).to_parquet(folder / "part-1.parquet", index=False)
    elif case == "label":
        _write(folder, frame.rename(columns={"label": "kind"}))
    else:
        if case == "nan":
            frame.loc[200, "f3"] = np.nan
        _write(folder, frame)
    with pytest.raises(TrainfreeError, match=match) as info:
        parts = read_parquet_parts(folder, id_column=None if case == "text" else "rid")
        parts.X.compute()
    assert "\n" not in str(info.value)


def test_cli_refusals_name_the_flag(parts, tmp_path, capsys):
    from trainfree.cli import main

    folder, _ = parts
    for extra, flag in (([], "--method auto"), (["--method", "lowrank", "--n", "100"], "--n"),
                        (["--ignore-columns", "nope"], "--ignore-columns"),
                        (["--method", "lowrank", "--block-rows", "500"], "--block-rows 0")):
        assert main(["score", "mislabel", "--data", str(folder), "--id-column", "rid", *extra, "--out",
                     str(tmp_path / "x"), "--no-report", "--quiet"]) == 2
        err = capsys.readouterr().err.strip()
        assert flag in err and len(err.splitlines()) == 1
    assert main(["score", "mislabel", "--data", "digits", "--n", "100", "--scheduler", "tcp://127.0.0.1:1",
                 "--out", str(tmp_path / "y"), "--quiet"]) == 2
    assert "Drop --scheduler" in capsys.readouterr().err


def test_the_report_of_parts_says_it_draws_no_examples(parts, tmp_path, capsys):
    from trainfree.cli import main

    out = tmp_path / "r"
    assert main(["score", "mislabel", "--data", str(parts[0]), "--ignore-columns", "rid", "--method", "lowrank",
                 "--rank", "20", "--seed", "0", "--out", str(out), "--report"]) == 0
    assert "are Parquet parts, scored on Dask; no examples are drawn" in capsys.readouterr().err
    assert "no examples are drawn for parts" in (out / "report.html").read_text()
    assert pd.read_parquet(out / "scores.parquet")["row_id"].tolist() == list(range(240))
