"""HTML building blocks of the report: escaping, tables, figures and the page around them.

Every string that comes from a run (settings, labels, file names, row identities) passes through
:func:`esc`; the page holds its CSS and its one script inline and loads nothing from anywhere.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import quote

import numpy as np


def esc(value: Any) -> str:
    """``value`` as text, escaped for HTML content and attribute values.

    Examples
    --------
    >>> esc('<b>"x"</b>')
    '&lt;b&gt;&quot;x&quot;&lt;/b&gt;'
    """
    return html.escape(fmt(value), quote=True)


def fmt(value: Any) -> str:
    """A compact, readable rendering of a number, flag or list.

    Examples
    --------
    >>> fmt(0.123456789), fmt(np.float32(2.0)), fmt(True), fmt(float("nan")), fmt([1, 2])
    ('0.1235', '2', 'yes', '–', '1, 2')
    """
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        v = float(value)
        return "–" if math.isnan(v) else f"{v:.4g}"
    if isinstance(value, (list, tuple, np.ndarray)):
        items = [fmt(v) for v in value]
        return ", ".join(items[:20]) + (f", … ({len(items)} in all)" if len(items) > 20 else "")
    if isinstance(value, Mapping):
        return "; ".join(f"{k}: {fmt(v)}" for k, v in value.items())
    return "" if value is None else str(value)


def sort_key(value: Any) -> str:
    """The ``data-sort`` attribute of a table cell: numbers as numbers, everything else as text."""
    if isinstance(value, (bool, np.bool_)):
        return str(int(value))
    if isinstance(value, (int, float, np.integer, np.floating)):
        return "" if not np.isfinite(value) else repr(float(value))
    return esc(value)


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]], *, sortable: bool = False,
          cls: str = "") -> str:
    """An HTML table; ``sortable`` tables sort by a column when its header is clicked."""
    classes = " ".join(c for c in (cls, "sortable" if sortable else "") if c)
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f'<td data-sort="{sort_key(v)}">{esc(v)}</td>' for v in row) + "</tr>"
                   for row in rows)
    return f'<table class="{classes}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def paged_table(headers: Sequence[str], rows: Sequence[Sequence[Any]], *, marked: Sequence[bool] | None = None,
                mark_label: str = "only marked rows", cls: str = "", page_size: int = 100) -> str:
    """A sortable table shown ``page_size`` rows at a time, with a filter box (any column) and page buttons.

    ``marked`` rows (e.g. the flagged ones) carry ``data-mark="1"``, and a check box shows only them.
    Without a script the whole table shows.

    Examples
    --------
    >>> html = paged_table(["row", "score"], [[1, 0.5], [2, 0.25]], marked=[True, False])
    >>> html.count("<tr data-mark="), 'class="filter"' in html
    (2, True)
    """
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    marks = [False] * len(rows) if marked is None else [bool(m) for m in marked]
    body = "".join(f'<tr data-mark="{int(m)}">' + "".join(f'<td data-sort="{sort_key(v)}">{esc(v)}</td>' for v in row)
                   + "</tr>" for row, m in zip(rows, marks))
    only = (f'<label><input type="checkbox" class="only"> {esc(mark_label)}</label>' if marked is not None else "")
    controls = (f'<div class="controls"><input type="search" class="filter" placeholder="filter: any column" '
                f'aria-label="filter rows">{only}<button type="button" class="prev">previous</button>'
                f'<span class="where"></span><button type="button" class="next">next</button></div>')
    classes = " ".join(c for c in (cls, "sortable") if c)
    return (f'<div class="paged" data-page="{int(page_size)}">{controls}<div class="scroll"><table class="{classes}">'
            f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div></div>")


def key_values(items: Mapping[str, Any]) -> str:
    """A two-column table of names and values."""
    rows = "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in items.items())
    return f'<table class="kv"><tbody>{rows}</tbody></table>'


def figure(png_b64: str, alt: str, caption: str = "") -> str:
    """A plot embedded as a ``data:`` URI, with its caption."""
    cap = f"<figcaption>{esc(caption)}</figcaption>" if caption else ""
    return f'<figure class="plot"><img src="data:image/png;base64,{png_b64}" alt="{esc(alt)}">{cap}</figure>'


def section(anchor: str, title: str, body: str, intro: str = "") -> str:
    """A titled section of the page; ``anchor`` feeds the table of contents."""
    lead = f'<p class="intro">{esc(intro)}</p>' if intro else ""
    return f'<section id="{esc(anchor)}"><h2>{esc(title)}</h2>{lead}{body}</section>'


def file_links(files: Sequence[tuple[str, str, int]]) -> str:
    """Links to the run's data files: (path relative to the report, name, size in bytes) each."""
    items = "".join(f'<li><a href="{esc(quote(href.replace(chr(92), "/")))}">{esc(name)}</a> <span class="dim">'
                    f"{size / 1024:.1f} KiB</span></li>" for href, name, size in files)
    return f'<ul class="files">{items}</ul>'


CSS = """
:root{--ink:#1d2430;--dim:#6b7280;--line:#e5e7eb;--clean:#4c78a8;--flip:#e45756;--flag:#f58518}
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--ink);margin:0;background:#f7f7f8}
header{background:#1d2430;color:#fff;padding:18px 28px}
header h1{margin:0 0 4px;font-size:22px} header p{margin:0;color:#cbd5e1}
nav{padding:8px 28px;background:#fff;border-bottom:1px solid var(--line);font-size:13px}
nav a{margin-right:14px;color:var(--clean);text-decoration:none}
main{padding:8px 28px 40px;max-width:1400px}
section{background:#fff;border:1px solid var(--line);border-radius:8px;padding:14px 18px;margin:16px 0}
h2{font-size:17px;margin:0 0 8px} h3{font-size:14px;margin:14px 0 6px}
.intro,.dim{color:var(--dim)} pre{background:#f3f4f6;padding:10px;border-radius:6px;overflow:auto;font-size:12px}
code{background:#f3f4f6;padding:1px 4px;border-radius:4px}
table{border-collapse:collapse;font-size:12.5px;margin:6px 0}
th,td{border-bottom:1px solid var(--line);padding:3px 8px;text-align:left;vertical-align:top}
table.kv th{color:var(--dim);font-weight:500;white-space:nowrap}
table.sortable th{cursor:pointer;user-select:none;background:#f3f4f6}
table.sortable th::after{content:" \\2195";color:#aaa}
.scroll{max-height:520px;overflow:auto}
figure.plot{margin:8px 0} figure.plot img{max-width:100%;height:auto;border:1px solid var(--line)}
figcaption{color:var(--dim);font-size:12px}
.grid{display:flex;flex-wrap:wrap;gap:4px;margin:4px 0 10px}
.ex{width:80px;border:2px solid var(--line);border-radius:6px;padding:3px;font-size:10.5px;line-height:1.25;
 background:#fff;text-align:center}
.ex img{width:68px;height:auto;image-rendering:pixelated;display:block;margin:0 auto 2px}
.ex.flipped{border-color:var(--flip)} .ex.flagged{box-shadow:0 0 0 2px var(--flag) inset}
.tag{display:inline-block;border-radius:3px;padding:0 3px;margin:1px;font-size:9.5px;color:#fff}
.tag.flip{background:var(--flip)} .tag.flag{background:var(--flag)}
.classrow{display:grid;grid-template-columns:100px 1fr 1fr;gap:12px;border-top:1px solid var(--line);padding:6px 0}
.classrow h3{margin:6px 0}
.files li{margin:2px 0}
.cols{display:grid;grid-template-columns:repeat(auto-fill,minmax(340px,1fr));gap:4px 24px;align-items:start}
.cols h3{margin-top:0}
.ex div{overflow-wrap:anywhere}
.controls{display:flex;gap:8px;align-items:center;flex-wrap:wrap;margin:4px 0 6px;font-size:12.5px}
.controls input.filter{padding:3px 6px;min-width:220px} .controls .where{color:var(--dim)}
td{overflow-wrap:anywhere}
"""

# Sorts a table by the clicked column: numbers numerically (by data-sort), then text; a second click reverses.
# Then pages the paged tables (below).
JS = """
document.querySelectorAll("table.sortable th").forEach(function (th, col) {
  th.addEventListener("click", function () {
    var body = th.closest("table").tBodies[0], rows = Array.prototype.slice.call(body.rows);
    var dir = th.dataset.dir === "asc" ? -1 : 1; th.dataset.dir = dir === 1 ? "asc" : "desc";
    rows.sort(function (a, b) {
      var x = a.cells[th.cellIndex].dataset.sort, y = b.cells[th.cellIndex].dataset.sort;
      var nx = parseFloat(x), ny = parseFloat(y);
      if (!isNaN(nx) && !isNaN(ny)) return dir * (nx - ny);
      if (!isNaN(nx)) return -1; if (!isNaN(ny)) return 1;
      return dir * x.localeCompare(y);
    });
    rows.forEach(function (r) { body.appendChild(r); });
    th.closest("table").dispatchEvent(new Event("sorted", {bubbles: true}));
  });
});
// Paged tables: a filter box (any column), "only marked rows", and page buttons over the rows that match.
document.querySelectorAll("div.paged").forEach(function (box) {
  var body = box.querySelector("table").tBodies[0], size = parseInt(box.dataset.page, 10), page = 0;
  var filter = box.querySelector("input.filter"), only = box.querySelector("input.only");
  var where = box.querySelector(".where");
  function show() {
    var q = filter.value.trim().toLowerCase(), rows = Array.prototype.slice.call(body.rows);
    var hits = rows.filter(function (r) {
      return (!only || !only.checked || r.dataset.mark === "1") && r.textContent.toLowerCase().indexOf(q) >= 0;
    });
    var pages = Math.max(1, Math.ceil(hits.length / size));
    page = Math.max(0, Math.min(page, pages - 1));
    rows.forEach(function (r) { r.style.display = "none"; });
    hits.slice(page * size, (page + 1) * size).forEach(function (r) { r.style.display = ""; });
    where.textContent = hits.length ? "rows " + (page * size + 1) + "\u2013" + Math.min(hits.length, (page + 1) * size)
      + " of " + hits.length + (hits.length < rows.length ? " matching (" + rows.length + " in all)" : "")
      : "no row matches";
  }
  filter.addEventListener("input", function () { page = 0; show(); });
  if (only) only.addEventListener("change", function () { page = 0; show(); });
  box.querySelector(".prev").addEventListener("click", function () { page -= 1; show(); });
  box.querySelector(".next").addEventListener("click", function () { page += 1; show(); });
  box.addEventListener("sorted", show);
  show();
});
"""


def page(title: str, subtitle: str, sections: Sequence[tuple[str, str, str]]) -> str:
    """The whole document: ``sections`` are (anchor, title, html) triples, linked from the top."""
    nav = "".join(f'<a href="#{esc(a)}">{esc(t)}</a>' for a, t, _ in sections)
    body = "".join(h for _, _, h in sections)
    # A data: icon stops the browser asking for /favicon.ico: the page makes no request at all.
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{esc(title)}</title>'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<link rel="icon" href="data:,"><style>{CSS}</style></head><body>'
            f"<header><h1>{esc(title)}</h1><p>{esc(subtitle)}</p></header><nav>{nav}</nav>"
            f"<main>{body}</main><script>{JS}</script></body></html>")
