"""``trainfree score cg``: per-example scores of a data set."""

from __future__ import annotations

import argparse
import time

from ._common import add_common, finite_float, load_data, prepare_output, say, write_outputs


def add_score_commands(sub) -> None:
    score = sub.add_parser("score", help="per-example scores").add_subparsers(dest="score", required=True)
    cg = score.add_parser("cg", help="complexity-gap score (ICLR 2023)")
    add_common(cg, data="fmnist", noise_help="share of labels to flip on purpose (symmetric), to measure "
                                              "how well the score finds them, e.g. 0.2")
    cg.add_argument("--method", choices=["exact", "stochastic"], default="exact")
    cg.add_argument("--preprocess", choices=["center", "raw"], default="center")
    cg.add_argument("--ratio", type=finite_float, default=3.0, help="stochastic: others sampled per own-class example")
    cg.add_argument("--repeats", type=int, default=10, help="stochastic: subsamples averaged")
    cg.add_argument("--dtype", choices=["float64", "float32"], default="float64")
    cg.add_argument("--n-jobs", type=int, default=None, help="stochastic: parallel work units (-1: all cores)")
    cg.set_defaults(func=score_cg)


def score_cg(args: argparse.Namespace) -> None:
    from ..experiments import score_dataset
    from ..report import noise_report

    t0 = time.perf_counter()
    out = prepare_output(args, "score cg")
    data = load_data(args)
    res = score_dataset(data, noise=args.noise or 0.0, method=args.method, preprocess=args.preprocess,
                        ratio=args.ratio, n_repeats=args.repeats, device=args.device, dtype=args.dtype,
                        n_jobs=args.n_jobs, progress=not args.quiet, random_state=args.seed)
    say(args, noise_report(res))
    path, summary = write_outputs(out, "scores", res)
    print(f"Wrote {path} and {summary} ({time.perf_counter() - t0:.1f} s)")
