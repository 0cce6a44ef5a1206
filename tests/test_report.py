"""The HTML report: self-contained (no fetches), escaped, one figure per result kind; and the CLI around it."""

import base64
import json
import re

import numpy as np
import pandas as pd
import pytest

from trainfree import ExampleResult, PlayerResult
from trainfree.cli import main
from trainfree.report.html import write_report
from trainfree.report.markup import esc

URL = re.compile(r'(?:src|href)="([^"]*)"')


def _refs_are_local(page: str, folder) -> None:
    """Every src/href is an embedded data: URI, an anchor, or a file that sits beside the report."""
    for ref in URL.findall(page):
        assert ref.startswith(("data:", "#")) or (folder / ref).is_file(), ref
    assert "<link rel=\"stylesheet\"" not in page and "@import" not in page and "url(" not in page


def _images(page: str) -> list[bytes]:
    return [base64.b64decode(b) for b in re.findall(r'src="data:image/[a-z+]+;base64,([^"]+)"', page)]


def test_score_report_has_histograms_noise_curve_galleries_and_table(tmp_path):
    argv = ["score", "cg", "--data", "digits", "--n", "200", "--noise", "0.2", "--seed", "3", "--out", str(tmp_path),
            "--report", "--quiet"]
    assert main(argv) == 0
    page = (tmp_path / "report.html").read_text()
    _refs_are_local(page, tmp_path)
    for words in ("Noise detection: AUROC", "Highest and lowest scores per class",
                  "Flagged and highest-scored rows (cg_score)",
                  "trainfree score cg --data digits --n 200 --noise 0.2 --seed 3", "scores.parquet.json"):
        assert words in page, words
    imgs = _images(page)
    pngs = [b for b in imgs if b.startswith(b"\x89PNG")]
    # 2 plots + 6 highest and 6 lowest of each of the 10 digit classes (every class holds at least 6).
    assert len(imgs) == len(pngs) == 2 + 10 * 12
    assert all(len(b) > 100 for b in pngs)
    df = pd.read_parquet(tmp_path / "scores.parquet")
    top = df.sort_values("score", ascending=False, kind="stable").iloc[0]
    first_row = re.search(r'<table class="top sortable">.*?<tbody><tr data-mark="[01]"><td data-sort="1.0">1</td>'
                          r'<td data-sort="([^"]+)"', page)
    assert float(first_row.group(1)) == top["row_id"]
    # Flipped rows among the galleries carry their mark and their original label.
    assert page.count('class="ex flipped') > 0 and "flipped, was" in page


def test_report_escapes_user_strings_and_draws_table_rows(tmp_path):
    rng = np.random.default_rng(0)
    evil = ['<script>alert("x")</script>', "a&b \"q\" 'r'"]
    df = pd.DataFrame(rng.normal(size=(40, 3)), columns=["<f1>", "f2", "f3"])
    df["label"] = np.repeat(evil, 20)
    df.to_csv(tmp_path / "t.csv", index=False)
    out = tmp_path / "out<&>"
    assert main(["score", "cg", "--data", str(tmp_path / "t.csv"), "--out", str(out), "--report", "--quiet"]) == 0
    page = (out / "report.html").read_text()
    assert "<script>alert" not in page and esc(evil[0]) in page and esc(evil[1]) in page
    assert "&lt;f1&gt;" in page and "<f1>" not in page  # the CSV's column names head the gallery tables
    assert page.count("<script>") == 1  # only the page's own sorting script
    _refs_are_local(page, out)


def _save(folder, name, res):
    res.save(folder / f"{name}.parquet")


def test_player_results_get_their_figures(tmp_path):
    n = 4
    _save(tmp_path, "values", PlayerResult("davinz_values", {
        "value": np.array([0.1, 0.3, -0.2, 0.0]), "stderr": np.array([0.01, 0.02, 0.01, 0.03]),
        "player": np.array([f"c{i}" for i in range(n)]), "ntk_term": np.ones(n), "mmd_term": np.full(n, 0.1),
        "noise_rate": np.array([0.0, 0.0, 0.4, 0.0])}, settings={"semivalue": "permutation_shapley"}))
    _save(tmp_path, "pruning", PlayerResult("pruning_curve", {
        "value": np.array([0.8, 0.7, 0.75, 0.72]), "player": np.array(["a", "b", "c", "d"]),
        "score": np.array(["cg", "cg", "random", "random"]), "direction": np.array(["keep_hard", "keep_hard",
                                                                                    "random", "random"]),
        "fraction_pruned": np.array([0.3, 0.5, 0.3, 0.5]), "n_kept": np.array([70, 50, 70, 50])},
        settings={"epochs": 5, "n_runs": 1, "n_train": 100}, metrics={"full_accuracy": 0.9}))
    _save(tmp_path, "correlations", PlayerResult("score_correlations", {
        "value": np.array([0.5, -0.1, 0.2]), "player": np.array(["a ~ b", "a ~ c", "b ~ c"]),
        "score_a": np.array(["a", "a", "b"]), "score_b": np.array(["b", "c", "c"])}))
    g, e = np.repeat([0, 1], 3), np.tile([0, 1, 2], 2)
    _save(tmp_path, "dynamics", PlayerResult("group_dynamics", {
        "value": np.linspace(2, 1, 6), "player": np.array([f"group{a}/epoch{b}" for a, b in zip(g, e)]),
        "group": g, "epoch": e, "accuracy": np.linspace(0.1, 0.9, 6),
        "velocity": np.array([0.1, 0.01, np.nan, 0.1, 0.02, np.nan])}))
    page = write_report(tmp_path).read_text()
    for title in ("Contributor values", "Pruning curves", "Score correlations", "Group dynamics"):
        assert f"<h2>{title}</h2>" in page
    assert len(_images(page)) == 4
    _refs_are_local(page, tmp_path)


def test_generic_example_result_with_flag_column(tmp_path):
    """Any ExampleResult with a score column (higher = more suspicious) and optional flag/flipped columns."""
    rng = np.random.default_rng(1)
    flipped = rng.random(60) < 0.2
    ExampleResult("mislabel_score", {"score": rng.random(60) + flipped, "is_mislabeled": flipped.copy(),
                                     "flipped": flipped, "label": np.repeat(["cat", "dog"], 30),
                                     "predicted": np.repeat([1, 0], 30)},
                  settings={"data_classes": ["cat", "dog"]}, metrics={"auroc": 0.9}).save(tmp_path / "scores.parquet")
    with pytest.warns(UserWarning, match="run.json names no data set"):
        page = write_report(tmp_path).read_text()
    assert "<h2>Noise detection</h2>" in page and "<th>is_mislabeled</th>" in page
    assert "<th>predicted</th>" in page and '<td data-sort="dog">dog</td>' in page  # codes shown as class names
    assert "run.json names no data set" in page  # no data to draw from: said, not crashed


def test_report_command_errors_are_one_line(tmp_path, capsys):
    assert main(["report", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not a folder" in err
    assert main(["report", str(tmp_path)]) == 2
    assert "holds no trainfree results" in capsys.readouterr().err


def test_internal_failure_exits_1_with_one_line_and_debug_shows_the_traceback(tmp_path, capsys, monkeypatch):
    import trainfree.experiments

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(trainfree.experiments, "score_dataset", broken)
    argv = ["score", "cg", "--data", "digits", "--n", "50", "--out", str(tmp_path / "o")]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "internal error: RuntimeError: boom" in err and "Traceback" not in err
    assert main([*argv, "--debug"]) == 1
    assert "Traceback" in capsys.readouterr().err


def test_run_json_records_the_command_line_without_blocking_reruns(tmp_path):
    out = str(tmp_path / "o")
    assert main(["score", "cg", "--data", "digits", "--n", "60", "--out", out, "--quiet"]) == 0
    assert main(["score", "cg", "--n", "60", "--data", "digits", "--out", out, "--quiet", "--report"]) == 0
    run = json.loads((tmp_path / "o" / "run.json").read_text())
    assert run["command_line"].startswith("trainfree score cg --n 60") and run["trainfree_version"]
    assert (tmp_path / "o" / "report.html").is_file()


@pytest.mark.parametrize("argv", [["score", "cg"], ["value", "davinz"], ["experiment", "prune"], ["report"]])
def test_every_command_has_help_with_an_example(argv, capsys):
    assert main([*argv, "--help"]) == 0
    assert "example" in capsys.readouterr().out.lower()


def test_the_run_ends_with_a_summary_table_naming_every_file(tmp_path, capsys):
    assert main(["score", "cg", "--data", "digits", "--n", "100", "--noise", "0.2", "--out", str(tmp_path),
                 "--report"]) == 0
    out = capsys.readouterr().out
    table = out[out.index("Summary\n"):].splitlines()
    assert table[1].split() == ["rows", "100", "examples,", "10", "classes"]
    assert any(line.split()[:2] == ["flipped", "labels"] and line.split()[2] == "20" for line in table)
    assert table[-1].split() == ["report.html", str((tmp_path / "report.html").resolve())]
    assert {line.split()[0] for line in table[1:]} >= {"auroc", "time", "scores.parquet", "summary.json"}


def test_progress_bars_show_only_when_switched_on(capsys, monkeypatch):
    from trainfree import _progress
    from trainfree._progress import bar, showing, step

    # Drawn at once rather than after tqdm's one-second delay, so "on" is seen whatever the machine's speed.
    monkeypatch.setattr(_progress, "DELAY_S", 0.0)
    items = range(3)
    assert bar(items, desc="quiet loop") is items  # off by default: the iterable itself, unwrapped
    with step("quiet step"), showing(True), showing(False):
        assert bar(items, desc="inner quiet loop") is items
    assert capsys.readouterr().err == ""
    with showing(True), step("slow step"):
        assert list(bar(items, desc="loop")) == [0, 1, 2]
    err = capsys.readouterr().err
    assert "slow step" in err and "loop:   0%" in err and "0/3" in err and "quiet" not in err
