"""Output folders: check ``--out`` before any work (:func:`prepare_output`), write results and the summary
(:func:`write_outputs`), and the table a command prints last (:func:`summary_table`)."""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np

from .._errors import TrainfreeError
from ..result import FORMATS, Result, jsonable

IDENTITY_FILE = "run.json"
_NOT_IDENTITY = {"overwrite", "quiet", "func", "out", "options", "report", "debug", "command_line", "progress"}
# Written to run.json for the report, never compared: --format changes the files, not the results, and the data's
# absolute path (data_path) lets a report find them from any folder, their fingerprint tells it they still match.
_RECORD_ONLY = ("command_line", "trainfree_version", "format", "data_path", "data_rows", "data_fingerprint")
_COMMAND_KEYS = ("command", "score", "value", "experiment")  # the command and its sub-command, not flags
REPORT_FILE = "report.html"


def prepare_output(args: argparse.Namespace, command: str) -> Path:
    """Create and check ``--out`` before any computation, so a bad path never loses a finished run.

    The folder remembers the command that wrote it (``run.json``): the same command may run
    there again (that is how a checkpointed run resumes), another one only with ``--overwrite``,
    which first removes every file the replaced run wrote (:func:`remove_run`).
    """
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise TrainfreeError(f"--out {out} is a file; pass a folder path (it is created if missing).")
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".trainfree-write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise TrainfreeError(f"Cannot write to --out {out} ({exc.strerror or exc}). Pass a folder you can "
                             f"write to.") from None
    identity = {"command": command, **{k: v for k, v in vars(args).items() if k not in _NOT_IDENTITY}}
    identity = jsonable(identity)
    marker = out / IDENTITY_FILE
    if marker.exists():
        try:
            before = json.loads(marker.read_text())
        except ValueError:
            before = {}
        changed = sorted(k for k in (set(before) | set(identity)) - set(_RECORD_ONLY)
                         if before.get(k) != identity.get(k))
        # A run that failed before writing anything (e.g. a mistyped --data) leaves only its marker.
        produced = [p for p in out.iterdir() if p.name != IDENTITY_FILE]
        if changed and produced and not args.overwrite:
            raise TrainfreeError(conflict_message(out, before, identity, changed))
    elif any(out.iterdir()) and not args.overwrite:
        raise TrainfreeError(f"--out {out} is not empty and holds no trainfree run. Pass an empty or new folder, "
                             f"or --overwrite to write into it anyway.")
    if args.overwrite and marker.exists():
        remove_run(out)  # never resume another run's draws, nor report its results as this run's
    from .. import __version__

    from ..data import DATASETS

    data = getattr(args, "data", None)
    path = data and str(data).lower() not in DATASETS and Path(data).exists()  # a named set is no path
    record = {**identity, "command_line": getattr(args, "command_line", None), "trainfree_version": __version__,
              "data_path": str(Path(data).resolve()) if path else None}
    marker.write_text(json.dumps(record, indent=2))
    return out


def record_data(out: Path, data) -> None:
    """Add the data's row count and fingerprint to ``run.json``: a later report draws their examples only if they
    still match (:func:`trainfree.report.examples.rows_fingerprint`)."""
    from ..report.examples import rows_fingerprint

    marker = out / IDENTITY_FILE
    run = json.loads(marker.read_text())
    run.update(data_rows=len(data), data_fingerprint=rows_fingerprint(data))
    marker.write_text(json.dumps(run, indent=2))


def conflict_message(out: Path, before: dict[str, Any], now: dict[str, Any], changed: list[str]) -> str:
    """Which run ``out`` holds, and (for the same command) the flags that differ, by flag.

    Examples
    --------
    >>> conflict_message(Path("o"), {"command": "score", "score": "cg", "chunk_size": 5000},
    ...                  {"command": "score", "score": "cg", "chunk_size": 4000}, ["chunk_size"]).split(";")[0]
    '--out o holds a `score cg` run (run.json) with other settings (--chunk-size 5000 then, 4000 now)'
    """
    held = f"a `{command_of(before)}` run" if before.get("command") else "another trainfree run"
    flags = [k for k in changed if k not in _COMMAND_KEYS]
    what = ""
    if command_of(before) == command_of(now) and flags:
        listed = ", ".join(f"--{k.replace('_', '-')} {_as_typed(before.get(k))} then, {_as_typed(now.get(k))} now"
                           for k in flags[:3])
        what = f" with other settings ({listed}{f'; {len(flags) - 3} more' if len(flags) > 3 else ''})"
    return f"--out {out} holds {held} (run.json){what}; pass another --out, or --overwrite to replace it."


def command_of(run: dict[str, Any]) -> str:
    """The command a run.json records, in words: ``score cg``, ``experiment prune``, ``report``."""
    top = str(run.get("command", ""))
    sub = run.get(top)
    return f"{top} {sub}" if top in _COMMAND_KEYS[1:] and isinstance(sub, str) else top


def _as_typed(value: Any) -> str:
    if value is None:
        return "not given"
    if isinstance(value, bool):
        return "on" if value else "off"
    return " ".join(map(str, value)) if isinstance(value, list) else str(value)


def remove_run(out: Path) -> list[Path]:
    """Delete what trainfree wrote in ``out`` (results and their sidecars, summary.json, report.html,
    checkpoints, units/, run.json) and nothing else; returns what it removed."""
    gone = [p for p in (out / "summary.json", out / REPORT_FILE, out / IDENTITY_FILE) if p.is_file()]
    for sidecar in out.glob("*.json"):
        result = sidecar.with_suffix("")
        if result.suffix in FORMATS.values() and _is_result_sidecar(sidecar):
            gone += [sidecar] + ([result] if result.is_file() else [])
    gone += [p for p in out.glob("checkpoint*.npz*") if p.is_file()]
    for p in gone:
        p.unlink()
    if (out / "units").is_dir():
        shutil.rmtree(out / "units")
        gone.append(out / "units")
    return gone


def _is_result_sidecar(path: Path) -> bool:
    try:
        return "result_type" in json.loads(path.read_text())
    except (OSError, ValueError, TypeError):
        return False


def write_outputs(out: Path, name: str, res: Result, extra: dict[str, Any] | None = None, *,
                  fmt: str = "parquet") -> tuple[Path, ...]:
    """``<out>/<name>.parquet`` and/or ``.csv`` (``fmt``: parquet, csv or both; each with its JSON sidecar), then
    ``<out>/summary.json`` (the metadata and ``extra``); returns the paths, summary last."""
    paths = save_result(res, out, name, fmt=fmt)
    summary = out / "summary.json"
    summary.write_text(json.dumps(jsonable({**res.metadata(), **(extra or {}), name: str(paths[0])}), indent=2))
    return (*paths, summary)


def save_result(res: Result, out: Path, name: str, *, fmt: str = "parquet") -> tuple[Path, ...]:
    """``res`` saved as ``<out>/<name>`` in the ``--format`` asked for (both: Parquet first, then CSV)."""
    kinds = list(FORMATS) if fmt == "both" else [fmt]
    return tuple(res.save(out / f"{name}{FORMATS[k]}") for k in kinds)


def finish(args: argparse.Namespace, t0: float, res: Result, *paths: Path) -> None:
    """Record what the command measured and wrote; :func:`summary_table` prints it when all is done."""
    args.finished = {"seconds": time.perf_counter() - t0, "result": res, "paths": [Path(p) for p in paths]}


def summary_table(args: argparse.Namespace, report: Path | None = None, report_s: float = 0.0) -> str:
    """The last thing a command prints: its headline numbers, its time and every file it wrote.

    With ``--quiet`` only the paths, one per line.

    Examples
    --------
    >>> from trainfree import PlayerResult
    >>> import numpy as np
    >>> a = argparse.Namespace(quiet=False, finished={"seconds": 1.5, "paths": [Path("o/values.parquet")],
    ...     "result": PlayerResult("demo", {"value": np.ones(2), "player": np.array(["a", "b"])})})
    >>> print(summary_table(a))
    Summary
      rows            2 players
      time            1.5 s
      values.parquet  o/values.parquet
    """
    done = getattr(args, "finished", None)
    paths = ([] if done is None else done["paths"]) + ([report] if report else [])
    if args.quiet:
        return "\n".join(str(p) for p in paths)
    rows: list[tuple[str, str]] = []
    if done is not None:
        res = done["result"]
        classes = res.settings.get("data_classes")
        what = "examples" if res.main_column == "score" else "players"
        rows.append(("rows", f"{len(res)} {what}" + (f", {len(classes)} classes" if classes else "")))
        if "flipped" in res.columns:
            rows.append(("flipped labels", str(int(np.sum(res["flipped"])))))
        found, noise = res.metrics.get("found_at"), res.metrics.get("noise_rate")
        if isinstance(found, dict) and noise:
            share = {float(k): v for k, v in found.items()}.get(float(noise))
            if share is not None:
                rows.append((f"flipped in top {noise:.0%}", f"{share:.1%}"))
        for k, v in list(res.metrics.items())[:8]:
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                rows.append((k, f"{v:.4g}"))
        rows.append(("time", f"{done['seconds']:.1f} s" + (f" (+ {report_s:.1f} s for the report)" if report else "")))
    rows += [(p.name, str(p.resolve() if p == report else p)) for p in paths]
    width = max(len(k) for k, _ in rows)
    return "\n".join(["Summary", *(f"  {k:<{width}}  {v}" for k, v in rows)])


def say(args: argparse.Namespace, text: str) -> None:
    if not args.quiet:
        print(text)
