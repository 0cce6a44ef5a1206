"""``trainfree report OUTDIR``: the self-contained HTML page of a run's output folder; and the page every
command writes when it is done (:func:`draw_report`)."""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

from .._errors import TrainfreeError
from ._common import add_output_flags


def add_report_command(sub) -> None:
    p = sub.add_parser(
        "report", help="write OUTDIR/report.html from a finished run's output folder",
        description="Turn a run's output folder into one self-contained report.html (plots and images inside, "
                    "no network access, opens from disk): the run and its settings, per-class score histograms, "
                    "the noise-detection curve, galleries of the highest- and lowest-scored examples, contributor "
                    "values, experiment curves, a filterable table of every flagged row and links to the data "
                    "files.\n\nThe galleries redraw the examples from the data the run read (run.json records their "
                    "absolute path); a report that could not draw galleries the existing report.html shows is "
                    "refused: point --data at the data where they are now, or pass --force.",
        epilog="example:\n  trainfree report out/demo\n  trainfree report out/demo --data ~/moved/table.csv\n\n"
               "Then open out/demo/report.html in a browser.")
    p.add_argument("outdir", help="the --out folder of a trainfree command")
    p.add_argument("--data", default=None, metavar="PATH",
                   help="where the run's data are now, if they moved (default: the path run.json records, then "
                        "--data as the run was given it)")
    p.add_argument("--out", dest="to", default=None, metavar="FOLDER",
                   help="write report.html into FOLDER instead of OUTDIR (e.g. when OUTDIR is read-only)")
    p.add_argument("--force", action="store_true",
                   help="replace a report.html even when it shows example galleries this report cannot draw")
    add_output_flags(p, report=False)
    p.set_defaults(func=report, quiet=False)


def report(args: argparse.Namespace) -> None:
    args.out, args.report = args.outdir, True  # main writes the page (draw_report) and prints where


def draw_report(args: argparse.Namespace) -> Path:
    """Write the report of ``args.out``; print each thing it could not draw as one warning line on stderr.

    After a command the page is always rewritten (it reports that run); ``trainfree report`` passes on
    ``--data``, ``--out`` and ``--force``.
    """
    from ..report.html import ReportError, ReportWarning, write_report

    own = args.command == "report"
    options = dict(data=args.data, to=args.to, force=args.force) if own else dict(force=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ReportWarning)
        try:
            path = write_report(args.out, **options)
        except ReportError as exc:
            raise TrainfreeError(exc.cli) from None
    for w in caught:
        if issubclass(w.category, ReportWarning):
            print(f"trainfree: warning: {w.message}", file=sys.stderr)
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return path
