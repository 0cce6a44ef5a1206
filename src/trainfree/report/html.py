"""One self-contained HTML page per run: :func:`write_report` turns an output folder into ``report.html``.

The page reads only what the folder holds (``run.json``, every ``*.parquet`` result with its
``.json`` sidecar) and, to draw the examples of per-example scores, the data set that ``run.json``
names. Plots are PNGs and SVGs inside ``data:`` URIs, CSS and the table-sorting script are inline,
and nothing is fetched: the file opens from disk, offline, and can be mailed as it is.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .._errors import TrainfreeError
from ..result import ExampleResult, PlayerResult, load_result
from .markup import esc, file_links, key_values, page, section
from .sections import example_sections, player_sections

REPORT_FILE = "report.html"
_SKIP_SETTINGS = {"data_classes", "classes"}


def write_report(out_dir: str | Path) -> Path:
    """Write ``<out_dir>/report.html`` for the results in ``out_dir`` and return its path.

    Parameters
    ----------
    out_dir : str or Path
        The ``--out`` folder of a ``trainfree`` command, or any folder of results saved with
        :meth:`trainfree.Result.save` (``run.json``, when present, supplies the command line and
        the data set to draw examples from).

    Examples
    --------
    >>> import tempfile
    >>> from trainfree.data import load
    >>> from trainfree.experiments import score_dataset
    >>> with tempfile.TemporaryDirectory() as d:
    ...     _ = score_dataset(load("digits", n=60, random_state=0), noise_rate=0.2, random_state=0).save(
    ...         Path(d) / "scores.parquet")
    ...     html = write_report(d).read_text()
    >>> html.startswith("<!DOCTYPE html>"), "Noise detection" in html
    (True, True)
    """
    out = Path(out_dir)
    if not out.is_dir():
        raise TrainfreeError(f"{out} is not a folder; pass the --out folder of a trainfree run.")
    run = _read_json(out / "run.json")
    results, seen = [], set()
    # A result saved in both formats (--format both) appears once, read from its Parquet file.
    for path in sorted([*out.glob("*.parquet"), *out.glob("*.csv")], key=lambda p: (p.stem, p.suffix != ".parquet")):
        if path.stem not in seen and path.with_name(path.name + ".json").exists():
            seen.add(path.stem)
            results.append((path.stem, load_result(path)))
    if not results:
        raise TrainfreeError(f"{out} holds no trainfree results (a .parquet or .csv file with its .json beside it); pass the "
                             f"--out folder of a finished run.")
    # Per-example scores first, then the result the command reported (summary.json names it), then the rest.
    reported = {Path(str(v)).stem for v in _read_json(out / "summary.json").values() if isinstance(v, str)}
    results.sort(key=lambda r: (not isinstance(r[1], ExampleResult), r[0] not in reported, r[0]))
    parts = [("run", "Run", section("run", "The run", _run_info(run, results)))]
    for name, res in results:
        if isinstance(res, ExampleResult):
            parts += example_sections(name, res, run)
        elif isinstance(res, PlayerResult):
            parts += player_sections(name, res)
    files = [(p.name, p.stat().st_size) for p in sorted(out.iterdir())
             if p.is_file() and p.name != REPORT_FILE and not p.name.startswith(".")]
    parts.append(("files", "Files", section("files", "Data files", file_links(files),
                                            "The run's outputs, beside this page; results are Parquet tables with "
                                            "a JSON sidecar (trainfree.load_result reads them back).")))
    main = results[0][1]
    data = main.settings.get("data", run.get("data", ""))
    what = run.get("command_line") or f"{main.method} on {data}"
    target = out / REPORT_FILE
    target.write_text(page(f"trainfree report: {_title(run, main)}", str(what), parts), encoding="utf-8")
    return target


def _title(run: dict[str, Any], res) -> str:
    words = [str(run[k]) for k in ("command", "score", "value", "experiment") if run.get(k)]
    data = res.settings.get("data", run.get("data"))
    return (" ".join(words) or res.method) + (f" on {data}" if data else "")


def _read_json(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def _run_info(run: dict[str, Any], results) -> str:
    from .. import __version__

    main = results[0][1]
    s = main.settings
    info: dict[str, Any] = {"data set": s.get("data", run.get("data", "–"))}
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
