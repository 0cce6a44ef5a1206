"""What every command shares: the parser class, the common flags, output folders and CLI wording."""

from __future__ import annotations

import argparse
import json
import math
import re
import shutil
import sys
import time
from collections.abc import Collection
from pathlib import Path
from typing import Any

import numpy as np

from .._errors import TrainfreeError
from ..result import Result, jsonable

# API parameter → CLI flag, so that errors raised by the library name what a CLI user can type.
FLAGS = {"ratio": "--ratio", "n_repeats": "--repeats", "method": "--method", "preprocess": "--preprocess",
         "dtype": "--dtype", "device": "--device", "n_jobs": "--n-jobs", "random_state": "--seed", "n": "--n",
         "label_column": "--label-column", "noise": "--noise", "noise_rate": "--noise", "noise_mode": "--noise-mode",
         "max_permutations": "--samples", "n_samples": "--samples", "max_exact": "--max-exact",
         "n_contributors": "--contributors", "ntk_blocks": "--ntk-blocks", "ntk_permutations": "--ntk-permutations",
         "val_fraction": "--val-fraction", "checkpoint": "--checkpoint", "outputs": "--outputs", "model": "--model",
         "n_datasets": "--datasets", "epochs": "--epochs", "n_seeds": "--seeds",
         "direction": "--directions", "fractions": "--fractions", "n_runs": "--runs", "kappa": "--kappa",
         "convention": "--convention", "bandwidth": "--bandwidth", "chunk_size": "--chunk-size",
         "n_chunk_repeats": "--chunk-repeats", "rank": "--rank", "task": "--task",
         "group_column": "--contributor-column", "width": "--width", "n_groups": "--groups",
         "kernel_rows": "--kernel-rows", "allow_new_classes": "--allow-new-classes",
         "sizes": "--min-size/--max-size", "repeats": "--repeats"}

# Library choices the parser offers, spelled here so that --help imports no torch; tests/test_help.py checks
# they equal the library's (trainfree.training.models.KINDS, the coalition MMD's ESTIMATORS).
MODELS = ("mlp", "cnn", "davinz_cnn", "davinz_mlp", "resnet18_cifar")
MMD_ESTIMATORS = ("biased", "unbiased", "thresholded")
NU_PRESETS, DEFAULT_NU = ("paper", "recommended"), "recommended"  # spelled here: --help imports no torch
PREPROCESS_HELP = ("rows before unit-norm scaling: raw as given, center minus the per-feature mean, mnist-shift "
                   "the official CG code's (x - 0.1307) / 0.3081")


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """``--help`` text: descriptions and epilogs as written, and every option's default.

    An option that takes a value and has a default other than None gets ``(default: X)`` unless its help
    already says ``default``; an ``--x/--no-x`` switch gets ``(default: on)`` or ``(default: off)``. Plain
    ``store_true`` flags are off unless given, so they get nothing.
    """

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if not action.option_strings or action.default in (None, argparse.SUPPRESS) or re.search(r"\bdefault\b",
                                                                                                   text):
            return text
        if isinstance(action, argparse.BooleanOptionalAction):
            return f"{text} (default: {'on' if action.default else 'off'})"
        return text if action.nargs == 0 else f"{text} (default: %(default)s)"


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line and exit code 2, like every other bad input, and ``--help``
    shows every default (:class:`HelpFormatter`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> None:  # type: ignore[override]
        print(f"trainfree: error: {message} (see: {self.prog} --help)", file=sys.stderr)
        sys.exit(2)


def add_group(sub, name: str, *, help: str, example: str):
    """A command that holds commands (``score``, ``value``, ``experiment``); returns its sub-parsers."""
    p = sub.add_parser(name, help=help, description=f"{help[0].upper()}{help[1:]}.",
                       epilog=f"example:\n  {example}\n\nEach command's --help lists its options, their defaults "
                              f"and the columns it writes.")
    return p.add_subparsers(dest=name, required=True)


def describe(p: argparse.ArgumentParser, example: str, outputs: str) -> None:
    """Give a command's --help an example and a description of the columns it writes."""
    p.epilog = (f"example:\n  {example}\n\noutput (in --out; report.html too unless --no-report):\n"
                + "\n".join(f"  {line}" for line in outputs.strip().splitlines()))


SCORE_COLUMNS = """scores.parquet, one row per example, in the data set's order:
  score           the score (higher = more likely mislabelled or atypical)
  stderr          its standard error over repeats or networks (NaN where the method has none)
  label           the label as given to the score (the flipped one where --noise flipped it)
  row_id          the row's identity in the source (file row, index, image path)
  original_label, flipped   with --noise: the label before flipping, and whether it was flipped
  (method-specific columns follow: e.g. CG's partial terms and flag_mislabel, the sign rule)
scores.parquet.json and summary.json: settings, seed, timings, noise-detection metrics"""


def cli_words(message: str, flags: Collection[str] = ()) -> str:
    """Rewrite a library message for the command line: ``the 'ratio' parameter`` → ``--ratio``.

    A parameter is named by its flag in :data:`FLAGS`, or else by the flag of the same name
    (``size_ridge`` → ``--size-ridge``) when ``flags``, the command line's flags, hold it.

    Examples
    --------
    >>> cli_words("The 'ratio' parameter must be positive. Use method='stochastic' or n=None.")
    '--ratio must be positive. Use --method stochastic or no --n.'
    >>> cli_words("The 'size_ridge' parameter must be in the range [0, inf).", flags={"--size-ridge"})
    '--size-ridge must be in the range [0, inf).'
    >>> cli_words("y has 1 class(es) but at least 2 are required. Pass n=60 or fewer.")
    'the label column has 1 class(es) but at least 2 are required. Pass --n 60 or fewer.'
    """
    def flag_of(name: str) -> str | None:
        same = "--" + name.replace("_", "-")
        return FLAGS.get(name) or (same if same in flags else None)

    message = re.sub(r"[Tt]he '(\w+)' parameter", lambda m: flag_of(m.group(1)) or m.group(0), message)
    # The library's bare X and y are, on the command line, the --data feature matrix and label column.
    message = re.sub(r"(?<![\w'.=-])(X|y)(?= (?:has|holds|contains|must|could|mixes) )",
                     lambda m: "the feature matrix" if m.group(1) == "X" else "the label column", message)
    message = re.sub(r"\bX_val\b", "the validation inputs", message)

    def flag(m: re.Match) -> str:
        name, value = flag_of(m.group(1)), m.group(2).strip("'")
        if name is None:
            return m.group(0)
        if value in ("None", "True"):  # an option left out, a switch given
            return f"no {name}" if value == "None" else name
        return f"{name} {value}"

    return re.sub(r"\b(\w+)=('[^']*'|[\w+-]+(?:\.[\w+-]+)*)", flag, message)


def option_strings(parser: argparse.ArgumentParser) -> set[str]:
    """Every flag of ``parser`` and of its sub-commands."""
    out = set()
    for action in parser._actions:
        out.update(action.option_strings)
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                out |= option_strings(sub)
    return out


def finite_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def add_nu_options(p: argparse.ArgumentParser) -> None:
    """DAVINZ's ν: a named preset (--nu) and the three options it sets, each overridable."""
    g = p.add_argument_group("which ν (DAVINZ)")
    g.add_argument("--nu", choices=NU_PRESETS, default=DEFAULT_NU,
                   help="recommended (default): --outputs all --size-ridge 1e-4 --mmd-estimator thresholded, chosen "
                        "by the ground-truth study (it sees label noise and size; about 14x the cost); paper: "
                        "--outputs own --size-ridge 0 --mmd-estimator biased, the paper's ν")
    g.add_argument("--outputs", choices=["own", "all"], default=None,
                   help="override --nu: own: the NTK of the own-class output (the paper's); all: one NTK per class "
                        "output with one-hot residuals (sees label noise)")
    g.add_argument("--size-ridge", type=finite_float, default=None,
                   help="override --nu: ridge ρ·d·m_S on each coalition's NTK (d: mean diagonal of Θ₀); 0: none, "
                        "as in the paper. With a ridge each coalition is factorised on its own (slower)")
    g.add_argument("--mmd-estimator", choices=MMD_ESTIMATORS, default=None,
                   help="override --nu: biased: the paper's MMD; unbiased; thresholded: 0 unless the inputs' shift "
                        "is significant, so the MMD's sampling noise does not blur the NTK term")


def nu_from_args(args: argparse.Namespace):
    """The :class:`~trainfree.valuation.NuOptions` of the flags that :func:`add_nu_options` added."""
    from ..valuation.davinz_options import NuOptions

    return NuOptions(args.nu, outputs=args.outputs, size_ridge=args.size_ridge, mmd_estimator=args.mmd_estimator)


def add_common(p: argparse.ArgumentParser, *, data: str, noise_help: str | None) -> None:
    """The flags every command has: data, subsample, noise (unless ``noise_help`` is None), seed, device, output."""
    g = p.add_argument_group("common")
    g.add_argument("--data", default=data, help="fmnist, digits, mnist1d, or a path: .npz, .csv, .parquet or an "
                                                 "image folder with one sub-folder per class")
    g.add_argument("--label-column", default="label", help="label column of a .csv/.parquet file")
    g.add_argument("--n", type=int, default=None, help="class-balanced random subsample of this many rows")
    if noise_help is not None:
        g.add_argument("--noise", type=finite_float, default=None, help=noise_help)
    g.add_argument("--seed", type=int, default=0, help="root seed; every random step draws from its own child")
    g.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    g.add_argument("--out", required=True, help="output folder (created; refused if it holds another run's results)")
    g.add_argument("--overwrite", action="store_true", help="replace the results of a different run in --out")
    g.add_argument("--quiet", action="store_true", help="print only the paths written")
    add_output_flags(g)


# Whether commands write report.html unless told (--report/--no-report); the test suite turns it off.
REPORT_DEFAULT = True


def add_output_flags(g, *, report: bool = True) -> None:
    """--report/--no-report and --debug, shared by every command."""
    if report:
        g.add_argument("--report", action=argparse.BooleanOptionalAction, default=REPORT_DEFAULT,
                       help="write <out>/report.html: one self-contained page with plots, example galleries and a "
                            "sortable table")
    g.add_argument("--debug", action="store_true", help="on an error, print the full traceback")


def load_data(args: argparse.Namespace):
    from .._progress import step
    from ..data import load

    with step(f"loading {args.data}"):
        return load(args.data, n=args.n, label_column=args.label_column, random_state=args.seed)


IDENTITY_FILE = "run.json"
_NOT_IDENTITY = {"overwrite", "quiet", "func", "out", "options", "report", "debug", "command_line"}
_RECORD_ONLY = ("command_line", "trainfree_version")  # written to run.json for the report, never compared


def prepare_output(args: argparse.Namespace, command: str) -> Path:
    """Create and check ``--out`` before any computation, so a bad path never loses a finished run.

    The folder remembers the command that wrote it (``run.json``): the same command may run
    there again (that is how a checkpointed run resumes), another one only with ``--overwrite``.
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
            what = ", ".join(f"{k}: {before.get(k)!r} then, {identity.get(k)!r} now" for k in changed[:4])
            raise TrainfreeError(f"--out {out} holds results of a different run ({what}). Pass another --out, "
                                 f"or --overwrite to replace them.")
    elif any(out.iterdir()) and not args.overwrite:
        raise TrainfreeError(f"--out {out} is not empty and holds no trainfree run. Pass an empty or new folder, "
                             f"or --overwrite to write into it anyway.")
    if args.overwrite and marker.exists():
        for stale in out.glob("checkpoint*.npz"):  # never resume another run's draws
            stale.unlink()
        if (out / "units").is_dir():
            shutil.rmtree(out / "units")
    from .. import __version__

    record = {**identity, "command_line": getattr(args, "command_line", None), "trainfree_version": __version__}
    marker.write_text(json.dumps(record, indent=2))
    return out


def write_outputs(out: Path, name: str, res: Result, extra: dict[str, Any] | None = None) -> tuple[Path, Path]:
    """``<out>/<name>.parquet`` (+ sidecar) and ``<out>/summary.json`` (the metadata and ``extra``)."""
    path = res.save(out / f"{name}.parquet")
    summary = out / "summary.json"
    summary.write_text(json.dumps(jsonable({**res.metadata(), **(extra or {}), name: str(path)}), indent=2))
    return path, summary


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
