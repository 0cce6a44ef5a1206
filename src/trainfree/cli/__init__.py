"""The ``trainfree`` command: parses flags, calls one library workflow, prints its report.

    trainfree score mislabel --data table.csv --label-column label --out out/labels
    trainfree score cg --data fmnist --n 10000 --noise 0.2 --out out/cg
    trainfree value davinz --data digits --contributors 10 --split noisy --out out/davinz
    trainfree experiment groundtruth --data fmnist --datasets 30 --out out/gt
    trainfree experiment prune --data fmnist --n 3000 --scores cg,el2n,random --fractions 0.3,0.5 --out out/prune
    trainfree experiment dynamics --data fmnist --n 2000 --epochs 5 --out out/dynamics
    trainfree experiment correlate --data fmnist --n 2000 --scores cg,el2n,grand --out out/corr
    trainfree report out/cg

Every command writes ``<out>/<name>.parquet`` (+ ``.json`` sidecar), ``<out>/summary.json`` and, unless
``--no-report``, ``<out>/report.html``. Bad input exits with code 2 and one line on stderr that names
the flag and the fix; an internal failure exits with 1 and one line (``--debug`` adds the traceback).
"""

from __future__ import annotations

import shlex
import sys
import time
import traceback
import warnings
from collections.abc import Sequence

from .._errors import TrainfreeError
from .._progress import showing, step
from ._common import Parser, add_nu_options, cli_words, nu_from_args, option_strings
from ._outputs import summary_table
from .dynamics import add_dynamics_command
from .experiment import add_experiment_commands
from .report import add_report_command, draw_report
from .score import add_score_commands
from .value import add_value_commands


__all__ = ["add_nu_options", "build_parser", "main", "nu_from_args"]  # ν flags shared with bench/


def build_parser() -> Parser:
    """The full parser: one sub-command per workflow, all sharing the common flags."""
    p = Parser(prog="trainfree", description="Value data before (or very early in) training.",
               epilog="examples:\n"
                      "  trainfree score mislabel --data table.csv --label-column label --out out/labels\n"
                      "  trainfree score mislabel --data digits --noise 0.2 --out out/demo\n"
                      "  trainfree report out/demo\n\n"
                      "The first flags the likely mislabelled rows of your table; the second flips 20% of a "
                      "built-in data set's\nlabels and measures how many it finds. Each command's --help lists "
                      "its options, their defaults\nand the columns it writes.")
    sub = p.add_subparsers(dest="command", required=True)
    add_score_commands(sub)
    add_value_commands(sub)
    add_dynamics_command(add_experiment_commands(sub))
    add_report_command(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (0 ok, 2 bad input, 1 internal failure, 130 interrupted)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # a usage error (already printed as one line) or --help
        return int(exc.code or 0)
    args.command_line = shlex.join(["trainfree", *argv])  # recorded in run.json; the report shows it
    # Bars only for someone watching: a terminal, and no --quiet; without a terminal a log line every 30 s or so.
    args.progress = not args.quiet and sys.stderr.isatty()
    shown = warnings.formatwarning  # a warning is one line too, naming flags: "trainfree: warning: ..."
    warnings.formatwarning = _warning_line
    try:
        with showing(not args.quiet, log=not args.progress):
            args.func(args)
            report, t = None, time.perf_counter()
            if args.report:
                with step("writing report.html"):
                    report = draw_report(args)
            if getattr(args, "finished", None) is not None or report is not None:
                print(summary_table(args, report, time.perf_counter() - t))
    except TrainfreeError as exc:
        if args.debug:
            traceback.print_exc()
        print(f"trainfree: error: {cli_words(str(exc), option_strings(build_parser()))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        where = f" ({exc})" if str(exc) else ""
        print(f"trainfree: interrupted; re-run the same command to resume where a checkpoint allows{where}",
              file=sys.stderr)
        return 130
    except Exception as exc:  # a bug, not bad input: one line, and the traceback on request
        if args.debug:
            traceback.print_exc()
        print(f"trainfree: internal error: {type(exc).__name__}: {exc} (this is a bug in trainfree; re-run with "
              f"--debug for the traceback and report it)", file=sys.stderr)
        return 1
    finally:
        warnings.formatwarning = shown
    return 0


def _warning_line(message, *_, **__) -> str:
    return f"trainfree: warning: {cli_words(str(message), option_strings(build_parser()))}\n"


if __name__ == "__main__":
    sys.exit(main())
