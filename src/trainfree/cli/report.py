"""``trainfree report OUTDIR``: the self-contained HTML page of a run's output folder."""

from __future__ import annotations

import argparse

from ._common import add_output_flags


def add_report_command(sub) -> None:
    p = sub.add_parser(
        "report", help="write OUTDIR/report.html from a finished run's output folder",
        description="Turn a run's output folder into one self-contained report.html (plots and images inside, "
                    "no network access, opens from disk): the run and its settings, per-class score histograms, "
                    "the noise-detection curve, galleries of the highest- and lowest-scored examples, contributor "
                    "values, experiment curves, a sortable table and links to the data files.",
        epilog="example:\n  trainfree report out/demo\n\nThen open out/demo/report.html in a browser.")
    p.add_argument("outdir", help="the --out folder of a trainfree command")
    add_output_flags(p, report=False)
    p.set_defaults(func=report, quiet=False)


def report(args: argparse.Namespace) -> None:
    args.out, args.report = args.outdir, True  # main writes the page and prints where
