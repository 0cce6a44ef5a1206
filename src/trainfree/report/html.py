"""One self-contained HTML page per run: :func:`write_report` turns an output folder into ``report.html``.

The page reads only what the folder holds (``run.json``, every ``*.parquet`` result with its
``.json`` sidecar) and, to draw the examples of per-example scores, the data set that ``run.json``
names. Plots are PNGs and SVGs inside ``data:`` URIs, CSS and the table-sorting script are inline,
and nothing is fetched: the file opens from disk, offline, and can be mailed as it is.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path
from typing import Any

from .._errors import TrainfreeError
from ..result import ExampleResult, PlayerResult, load_result
from .examples import find_rows
from .markup import esc, file_links, key_values, page, section
from .sections import example_sections, player_sections

REPORT_FILE = "report.html"
_SKIP_SETTINGS = {"data_classes", "classes"}
_GALLERY = 'class="classrow"'  # one per class gallery drawn: how a report's galleries are counted


class ReportWarning(UserWarning):
    """Something the report could not draw (a gallery, a plot), and why; the CLI prints each as one line."""


class ReportError(TrainfreeError):
    """A report that cannot be written; ``cli`` holds the same message in command-line words."""

    def __init__(self, message: str, cli: str) -> None:
        super().__init__(message)
        self.cli = cli


def write_report(out_dir: str | Path, *, data: Any = None, to: str | Path | None = None,
                 force: bool = False) -> Path:
    """Write ``report.html`` for the results in ``out_dir`` and return its path.

    Parameters
    ----------
    out_dir : str or Path
        The ``--out`` folder of a ``trainfree`` command, or any folder of results saved with
        :meth:`trainfree.Result.save` (``run.json``, when present, supplies the command line and
        where the data were read).
    data : str, Path, Dataset, ndarray or (X, y), optional
        The examples the per-example scores were computed on, to draw their galleries: the data's
        path (loaded as the run loaded it: same ``n``, label column and seed) or the data themselves
        in the result's row order (a :class:`~trainfree.data.Dataset`, an array of examples, or
        ``(X, y)``). Default: where ``run.json`` says the run read them (their absolute path, then the
        path as typed). Data that no longer match the run (rows, row identities, labels, or the
        fingerprint the CLI records) are not drawn, and the page says so.
    to : str or Path, optional
        The folder to write ``report.html`` into (default ``out_dir``), e.g. when ``out_dir`` is read-only.
    force : bool
        Replace an existing ``report.html`` even when it shows galleries this one cannot draw (by
        default that is refused: a report is never silently replaced by a poorer one).

    Warns
    -----
    ReportWarning
        One per gallery or plot that could not be drawn, saying why (the page says it too).

    Examples
    --------
    >>> import tempfile
    >>> from trainfree.data import load
    >>> from trainfree.experiments import score_dataset
    >>> digits = load("digits", n=60, random_state=0)
    >>> with tempfile.TemporaryDirectory() as d:
    ...     _ = score_dataset(digits, noise_rate=0.2, random_state=0).save(Path(d) / "scores.parquet")
    ...     html = write_report(d, data=digits).read_text()
    >>> html.startswith("<!DOCTYPE html>"), "Noise detection" in html, html.count('class="classrow"')
    (True, True, 10)
    """
    out = Path(out_dir)
    if not out.is_dir():
        raise TrainfreeError(f"{out} is not a folder; pass the --out folder of a trainfree run.")
    folder = out if to is None else Path(to)
    run = _read_json(out / "run.json")
    results, seen = [], set()
    # A result saved in both formats (--format both) appears once, read from its Parquet file.
    for path in sorted([*out.glob("*.parquet"), *out.glob("*.csv")], key=lambda p: (p.stem, p.suffix != ".parquet")):
        if path.stem not in seen and path.with_name(path.name + ".json").exists():
            seen.add(path.stem)
            results.append((path.stem, load_result(path)))
    if not results:
        raise TrainfreeError(f"{out} holds no trainfree results (a .parquet or .csv file with its .json beside it); "
                             f"pass the --out folder of a finished run.")
    # Per-example scores first, then the result the command reported (summary.json names it), then the rest.
    reported = {Path(str(v)).stem for v in _read_json(out / "summary.json").values() if isinstance(v, str)}
    results.sort(key=lambda r: (not isinstance(r[1], ExampleResult), r[0] not in reported, r[0]))
    notes: list[str] = []
    parts, read_from = [], []
    for name, res in results:
        if isinstance(res, ExampleResult):
            rows = find_rows(run, res, data=data)
            notes += [rows.note] if rows.note else []
            read_from.append(rows.source or rows.why)
            parts += example_sections(name, res, run, rows, notes)
        elif isinstance(res, PlayerResult):
            parts += player_sections(name, res, notes)
    parts.insert(0, ("run", "Run", section("run", "The run", _run_info(run, results, read_from))))
    files = [(os.path.relpath(p, folder), p.name, p.stat().st_size) for p in sorted(out.iterdir())
             if p.is_file() and p.name != REPORT_FILE and not p.name.startswith(".")]
    parts.append(("files", "Files", section("files", "Data files", file_links(files),
                                            "The run's outputs; results are Parquet (or CSV) tables with a JSON "
                                            "sidecar (trainfree.load_result reads them back).")))
    main = results[0][1]
    what = run.get("command_line") or f"{main.method} on {data_words(main.settings.get('data', run.get('data', '')))}"
    html = page(f"trainfree report: {_title(run, main)}", str(what), parts)
    target = folder / REPORT_FILE
    _refuse_poorer(target, html, notes, force)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        target.write_text(html, encoding="utf-8")
    except OSError as exc:
        why = exc.strerror or str(exc)
        raise ReportError(f"Cannot write {target} ({why}); pass to=FOLDER to write the report elsewhere.",
                          f"Cannot write {target} ({why}); pass --out FOLDER to write the report elsewhere.") from None
    for note in notes:
        warnings.warn(note, ReportWarning, stacklevel=2)
    return target


def _refuse_poorer(target: Path, html: str, notes: list[str], force: bool) -> None:
    """Refuse to replace ``target`` when it shows more galleries than ``html`` (unless ``force``)."""
    try:
        before = target.read_text(encoding="utf-8").count(_GALLERY) if target.is_file() else 0
    except (OSError, ValueError):
        return
    now = html.count(_GALLERY)
    if force or now >= before:
        return
    why = next((n for n in notes if "no example galleries" in n), "The examples could not be drawn.")
    head = f"{target} shows {before} example galleries, this report would show {now}. {why.split('galleries. ', 1)[-1]}"
    raise ReportError(f"{head} Pass data=PATH (where the data are now) to draw them, or force=True to replace it.",
                      f"{head} Pass --data PATH (where the data are now) to draw them, or --force to replace it.")


def data_words(data: Any) -> str:
    """What a run was computed on, in words: a path or data set as given; contributors by count and name.

    Examples
    --------
    >>> data_words({"alice": "alice.csv", "bob": "bob.csv", "carol": "c.csv", "dan": "d.csv"})
    '4 contributors (alice, bob, carol, ...)'
    >>> data_words("digits")
    'digits'
    """
    if isinstance(data, dict):
        names = list(map(str, data))
        return f"{len(names)} contributors ({', '.join(names[:3])}{', ...' if len(names) > 3 else ''})"
    if isinstance(data, (list, tuple)):
        return f"{len(data)} data sets"
    return "" if data is None else str(data)


def _title(run: dict[str, Any], res) -> str:
    words = [str(run[k]) for k in ("command", "score", "value", "experiment") if run.get(k)]
    data = data_words(res.settings.get("data", run.get("data")))
    return (" ".join(words) or res.method) + (f" on {data}" if data else "")


def _read_json(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def _run_info(run: dict[str, Any], results, read_from: list[str]) -> str:
    from .. import __version__

    main = results[0][1]
    s = main.settings
    info: dict[str, Any] = {"data set": data_words(s.get("data", run.get("data", "–")))}
    if run.get("data_path"):
        info["data path (at run time)"] = run["data_path"]
    if read_from:
        info["examples drawn from"] = read_from[0]
    if isinstance(main, ExampleResult):
        info["examples"] = len(main)
        classes = s.get("data_classes") or s.get("classes")
        if classes:
            info["classes"] = f"{len(classes)}: " + ", ".join(map(str, classes))
        if "flipped" in main.columns:
            info["labels flipped on purpose"] = f"{int(main['flipped'].sum())} ({s.get('noise_rate', 0):.0%})"
    else:
        info["players (rows)"] = len(main)
    info["subsample (--n)"] = run.get("n") if run.get("n") is not None else "all rows"
    info["seed"] = json.dumps(main.seed)
    info["command line"] = run.get("command_line") or "not recorded (the run predates it; see run.json)"
    made = run.get("trainfree_version")
    info["trainfree"] = f"{made} (run), {__version__} (report)" if made and made != __version__ else __version__
    body = f'<div class="cols"><div>{key_values(info)}</div>'
    for name, res in results:
        settings = {k: v for k, v in res.settings.items() if k not in _SKIP_SETTINGS}
        timings = {k: f"{v:.2f} s" for k, v in res.timings.items()}
        title = f"{esc(name)}.parquet: {esc(res.method)}"
        body += f"<div><h3>{title}: settings</h3>{key_values(settings)}</div>"
        body += f"<div><h3>{title}: timings</h3>{key_values(timings)}</div>" if timings else ""
    return body + "</div>"
