"""Reports that always draw: the examples come from the data the run read, wherever the report is built, or the
page and the terminal say why not; a poorer report never silently replaces a richer one."""

import json
import shutil

import numpy as np
import pandas as pd
import pytest

from trainfree import ExampleResult, PlayerResult
from trainfree.cli import main
from trainfree.report import write_report

GALLERY = 'class="classrow"'


@pytest.fixture
def table_run(tmp_path, rng, monkeypatch):
    """`score mislabel` on a relative --data path from its own folder; the report is then built from elsewhere."""
    work = tmp_path / "work"
    work.mkdir()
    X = np.concatenate([rng.normal(0, 1, (40, 3)), rng.normal(5, 1, (40, 3))])
    df = pd.DataFrame(X, columns=["a", "b", "c"])
    df["kind"] = ["left"] * 40 + ["right"] * 40
    df.loc[[0, 1], "kind"] = "right"
    df.to_csv(work / "t.csv", index=False)
    monkeypatch.chdir(work)
    assert main(["score", "mislabel", "--data", "t.csv", "--label-column", "kind", "--quiet", "--out", "out"]) == 0
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    return work


def test_run_json_records_the_absolute_path_and_the_report_draws_from_any_folder(table_run, capsys):
    run = json.loads((table_run / "out" / "run.json").read_text())
    assert run["data"] == "t.csv" and run["data_path"] == str((table_run / "t.csv").resolve())
    assert run["data_rows"] == 80 and len(run["data_fingerprint"]) == 32
    assert main(["report", str(table_run / "out")]) == 0
    page = (table_run / "out" / "report.html").read_text()
    assert page.count(GALLERY) == 2 and "<th>a</th>" in page  # both classes, with the CSV's column names
    assert "trainfree: warning" not in capsys.readouterr().err


def test_moved_data_refuse_a_poorer_report_until_pointed_at_or_forced(table_run, tmp_path, capsys):
    out = str(table_run / "out")
    assert main(["report", out]) == 0
    moved = tmp_path / "moved.csv"
    shutil.move(table_run / "t.csv", moved)
    capsys.readouterr()
    assert main(["report", out]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "shows 2 example galleries, this report would show 0" in err
    assert "--data PATH" in err and "--force" in err and str(table_run / "t.csv") in err
    assert (table_run / "out" / "report.html").read_text().count(GALLERY) == 2  # the good one is kept
    assert main(["report", out, "--data", str(moved)]) == 0
    assert (table_run / "out" / "report.html").read_text().count(GALLERY) == 2
    capsys.readouterr()
    assert main(["report", out, "--force"]) == 0
    err = capsys.readouterr().err
    warnings = [line for line in err.splitlines() if line.startswith("trainfree: warning:")]
    assert len(warnings) == 1 and "were not found where the run read them" in warnings[0]
    page = (table_run / "out" / "report.html").read_text()
    assert page.count(GALLERY) == 0 and "were not found where the run read them" in page


def test_data_that_changed_since_the_run_are_not_drawn(table_run, capsys):
    df = pd.read_csv(table_run / "t.csv")
    df.iloc[::-1].reset_index(drop=True).to_csv(table_run / "t.csv", index=False)  # the same rows, reordered
    assert main(["report", str(table_run / "out"), "--force"]) == 0
    err = capsys.readouterr().err
    assert "no longer match the run" in err and err.count("\n") == 1
    page = (table_run / "out" / "report.html").read_text()
    assert page.count(GALLERY) == 0 and "no longer match the run" in page


def test_a_read_only_folder_gets_one_line_and_out_writes_elsewhere(table_run, tmp_path, capsys, monkeypatch):
    from pathlib import Path

    out = table_run / "out"
    real = Path.write_text

    def read_only(self, *args, **kwargs):  # root ignores chmod, so the folder refuses writes this way
        if self.parent == out:
            raise PermissionError(13, "Permission denied")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", read_only)
    assert main(["report", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Permission denied" in err and "--out FOLDER" in err
    assert main(["report", str(out), "--out", str(tmp_path / "pages")]) == 0
    page = (tmp_path / "pages" / "report.html").read_text()
    assert page.count(GALLERY) == 2 and 'href="../work/out/scores.parquet"' in page


def test_python_results_draw_their_galleries_from_data_passed_in(tmp_path):
    from trainfree.data import load
    from trainfree.scores import mislabel_score

    digits = load("digits", n=100, random_state=0)
    names = np.asarray(digits.classes)[digits.y]
    mislabel_score(digits.X, names).save(tmp_path / "scores.parquet")
    images = digits.X.reshape(-1, 8, 8)
    page = write_report(tmp_path, data=(images, names)).read_text()
    assert page.count(GALLERY) == 10 and page.count('alt="example') == 10 * 12
    with pytest.raises(ValueError, match="shows 10 example galleries, this report would show 0.*force=True"):
        write_report(tmp_path)
    with pytest.warns(UserWarning, match="names no data set"):
        assert write_report(tmp_path, force=True).read_text().count(GALLERY) == 0
    # Other labels than the scored ones: not the data the result scored, so nothing drawn.
    with pytest.warns(UserWarning, match="labels of 100 rows"):
        write_report(tmp_path, data=(images, np.roll(names, 1).astype("<U3") + "x"), force=True)


def test_a_sidecar_that_no_longer_matches_its_labels_still_draws(tmp_path):
    ExampleResult("cg_score", {"score": np.linspace(0, 1, 20), "label": np.repeat(["a", "b"], 10)},
                  settings={"data_classes": ["x", "y"]}).save(tmp_path / "scores.parquet")
    with pytest.warns(UserWarning):
        page = write_report(tmp_path).read_text()
    assert "histograms of cg_score per class" in page and "could not be drawn" not in page


def test_every_flagged_row_is_in_the_table_and_titles_are_words(tmp_path):
    n = 400
    score = np.linspace(1, 0, n)
    flag = np.zeros(n, bool)
    flag[::2] = True  # 200 flagged rows, most of them beyond the top 100
    ExampleResult("mislabel_score", {"score": score, "flag_mislabel": flag, "row_id": np.array(
        [f"images/a-very-long-folder-name/class_{i % 3}/photo_{i:05d}_taken_on_holiday.png" for i in range(n)]),
        "label": np.repeat(["a", "b"], n // 2)}).save(tmp_path / "scores.parquet")
    with pytest.warns(UserWarning):
        page = write_report(tmp_path).read_text()
    body = page[page.index('<table class="top sortable">'):]
    body = body[:body.index("</table>")]
    assert body.count('<tr data-mark="1">') == 200 and body.count('<tr data-mark="0">') == 50
    assert "images/a-very-long-folder-name/class_2/photo_00398_taken_on_holiday.png" in body
    assert 'class="filter"' in page and "every row flag_mislabel marks (200)" in page

    PlayerResult("davinz_values", {"value": np.arange(4.0), "player": np.array(list("abcd"))},
                 settings={"data": {"alice": "alice.csv", "bob": "bob.csv", "carol": "c.csv", "dan": "d.csv"}}).save(
        tmp_path / "v" / "values.parquet")
    (tmp_path / "v" / "run.json").write_text(json.dumps({"command": "value", "value": "davinz"}))
    page = write_report(tmp_path / "v").read_text()
    assert "<title>trainfree report: value davinz on 4 contributors (alice, bob, carol, ...)</title>" in page
    assert "{&#x27;alice&#x27;" not in page


def test_a_moved_folder_typed_without_a_slash_is_reported_as_moved(tmp_path, rng, monkeypatch, capsys):
    from PIL import Image
    monkeypatch.chdir(tmp_path)
    for k in range(12):
        (tmp_path / "pics" / "ab"[k % 2]).mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 255, (8, 8), dtype=np.uint8)).save(tmp_path / "pics" / "ab"[k % 2] / f"{k}.png")
    assert main(["score", "mislabel", "--data", "pics", "--out", "out", "--quiet"]) == 0
    shutil.move(tmp_path / "pics", tmp_path / "moved")
    capsys.readouterr()
    assert main(["report", "out", "--force"]) == 0
    err = capsys.readouterr().err
    assert "were not found where the run read them" in err and str(tmp_path / "pics") in err
    assert "Unknown data set" not in err
