"""The HTML report in a real browser: headless Chromium opens it from disk and finds it whole and quiet.

Needs Debian's ``chromium`` (``make install-test`` installs it). Without it the test is skipped on a
developer's machine but fails under ``CI=true`` (``.ci/run`` sets it), so CI never passes silently.
"""

import io
import os

import numpy as np
import pytest
from cdp import Chromium, find_chromium

from trainfree.cli import main

WIDTH, HEIGHT = 1280, 900


def _chromium() -> str:
    binary = find_chromium()
    if binary is None:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail("chromium is not installed, and CI must run the browser test: apt-get install -y chromium "
                        "(make install-test does it)")
        pytest.skip("chromium is not installed (apt-get install -y chromium); CI runs this test")
    return binary


IMAGES = """Array.from(document.images).map(function (i) {
  var r = i.getBoundingClientRect();
  return {src: i.src.slice(0, 30), w: i.naturalWidth, h: i.naturalHeight, rw: r.width, rh: r.height,
          done: i.complete};
})"""

# Click the "score" header of the table of top scores once (ascending), and read the column back.
SORT = """(function () {
  var t = document.querySelector("table.top");
  var th = Array.prototype.find.call(t.tHead.rows[0].cells, function (c) { return c.textContent === "score"; });
  th.click();
  return Array.prototype.map.call(t.tBodies[0].rows, function (r) {
    return parseFloat(r.cells[th.cellIndex].dataset.sort); });
})()"""


def test_report_opens_offline_with_every_image_and_no_errors(tmp_path):
    binary = _chromium()
    out = tmp_path / "run"
    assert main(["score", "cg", "--data", "digits", "--n", "200", "--noise", "0.2", "--seed", "0", "--out", str(out),
                 "--report", "--quiet"]) == 0
    page = out / "report.html"
    with Chromium(binary, width=WIDTH, height=HEIGHT) as browser:
        browser.open(page)
        images = browser.evaluate(IMAGES)
        shot = browser.screenshot()
        sorted_scores = browser.evaluate(SORT)
        errors, requests = browser.errors(), browser.requests()
    (tmp_path / "report.png").write_bytes(shot)

    # Nothing but the page itself and its embedded data: URIs was requested, and nothing complained.
    assert [u for u in requests if u != page.resolve().as_uri() and not u.startswith("data:")] == []
    assert errors == []
    # Two plots (histograms, noise curve) and 6 highest + 6 lowest examples for each of the 10 classes,
    # every one decoded and laid out with a non-zero size.
    assert len(images) == 2 + 10 * 12
    assert all(i["src"].startswith("data:image/png;base64,") for i in images)
    bad = [i for i in images if not (i["done"] and i["w"] > 0 and i["h"] > 0 and i["rw"] > 0 and i["rh"] > 0)]
    assert bad == []
    plots = [i for i in images if i["w"] > 200]
    assert len(plots) == 2 and all(i["h"] > 200 for i in plots)
    # The table sorts in the browser: one click on "score" orders it ascending.
    assert len(sorted_scores) == 100 and sorted_scores == sorted(sorted_scores)

    from PIL import Image

    img = Image.open(io.BytesIO(shot)).convert("RGB")
    assert img.size == (WIDTH, HEIGHT)
    px = np.asarray(img, dtype=float)
    # Not blank: a dark header band over a light page, and plenty of distinct colours (text, plots).
    assert px[:40].mean() < 80 and px[200:].mean() > 180
    assert px.std() > 20
    assert len(np.unique(px.reshape(-1, 3), axis=0)) > 100


def test_the_checks_see_requests_console_errors_and_missing_images(tmp_path):
    """The same observations on a page that misbehaves: the test above cannot pass vacuously."""
    binary = _chromium()
    page = tmp_path / "bad.html"
    page.write_text('<!DOCTYPE html><html><head><link rel="icon" href="data:,"></head><body>'
                    '<img src="missing.png"><script>console.error("broken");</script></body></html>')
    with Chromium(binary, width=WIDTH, height=HEIGHT) as browser:
        browser.open(page)
        images = browser.evaluate(IMAGES)
        errors, requests = browser.errors(), browser.requests()
    assert (tmp_path / "missing.png").as_uri() in requests
    assert any("broken" in e for e in errors) and any("missing.png" in e for e in errors)
    assert images[0]["w"] == 0


# Visible rows of the table of flagged rows, the pager's words, after each of the steps the JS takes.
PAGES = """(function () {
  var box = document.querySelector("div.paged"), body = box.querySelector("table").tBodies[0];
  function seen() {
    var rows = Array.prototype.filter.call(body.rows, function (r) { return r.style.display !== "none"; });
    return {n: rows.length, first: rows.length ? rows[0].cells[1].textContent : "",
            where: box.querySelector(".where").textContent};
  }
  var out = {start: seen()};
  box.querySelector(".next").click(); out.next = seen();
  box.querySelector(".next").click(); box.querySelector(".next").click(); out.last = seen();
  var filter = box.querySelector("input.filter");
  filter.value = "photo_00398"; filter.dispatchEvent(new Event("input")); out.filtered = seen();
  filter.value = ""; filter.dispatchEvent(new Event("input"));
  box.querySelector("input.only").click(); out.flagged = seen();
  box.querySelector(".next").click(); box.querySelector(".next").click(); out.flagged_last = seen();
  return out;
})()"""


def test_every_flagged_row_is_reachable_by_page_and_filter(tmp_path):
    import warnings

    from trainfree import ExampleResult
    from trainfree.report import write_report

    binary = _chromium()
    n = 400
    flag = np.zeros(n, bool)
    flag[::2] = True  # 200 flagged rows, and the top 100 scores: 250 rows in the table
    ExampleResult("mislabel_score", {"score": np.linspace(1, 0, n), "flag_mislabel": flag,
                                     "row_id": np.array([f"class_{i % 3}/photo_{i:05d}.png" for i in range(n)]),
                                     "label": np.repeat(["a", "b"], n // 2)}).save(tmp_path / "scores.parquet")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        page = write_report(tmp_path)
    with Chromium(binary, width=WIDTH, height=HEIGHT) as browser:
        browser.open(page)
        seen = browser.evaluate(PAGES)
        errors = browser.errors()
    assert errors == []
    assert seen["start"] == {"n": 100, "first": "class_0/photo_00000.png", "where": "rows 1–100 of 250"}
    assert seen["next"]["n"] == 100 and seen["next"]["where"] == "rows 101–200 of 250"
    assert seen["last"]["n"] == 50 and seen["last"]["where"] == "rows 201–250 of 250"  # it stops at the end
    assert seen["filtered"] == {"n": 1, "first": "class_2/photo_00398.png",
                                "where": "rows 1–1 of 1 matching (250 in all)"}
    assert seen["flagged"]["where"] == "rows 1–100 of 200 matching (250 in all)"
    assert seen["flagged_last"]["n"] == 100 and seen["flagged_last"]["first"] == "class_2/photo_00200.png"
