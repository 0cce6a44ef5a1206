"""``trainfree value davinz``: contributor values at initialization."""

from __future__ import annotations

import argparse
import time

from ..training.models import KINDS
from ._common import add_common, describe, finish, finite_float, load_data, prepare_output, say, write_outputs


def bandwidth(text: str) -> str | float:
    """``median`` or a positive finite number."""
    if text == "median":
        return text
    value = finite_float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected 'median' or a positive number, got {text!r}")
    return value


def add_value_commands(sub) -> None:
    value = sub.add_parser("value", help="value data contributors").add_subparsers(dest="value", required=True)
    dv = value.add_parser("davinz", help="DAVINZ: contributor values at initialization (ICML 2022)")
    add_common(dv, data="digits", noise_help="--split noisy: share of labels flipped for 30%% of the "
                                              "contributors (default 0.4)")
    dv.add_argument("--contributors", type=int, default=10)
    dv.add_argument("--split", choices=["class", "random", "sizes", "noisy"], default="random")
    dv.add_argument("--semivalue", choices=["loo", "shapley", "banzhaf"], default="shapley")
    dv.add_argument("--max-exact", type=int, default=12, help="exact enumeration up to this many contributors")
    dv.add_argument("--samples", type=int, default=500, help="Monte Carlo permutations or coalitions above it")
    dv.add_argument("--checkpoint", default=None,
                    help="Monte Carlo checkpoint (.npz; default <out>/checkpoint.npz): re-run to resume")
    dv.add_argument("--model", choices=list(KINDS), default="mlp",
                    help="cnn: a small CNN; davinz_cnn / davinz_mlp: the official DAVINZ code's networks")
    dv.add_argument("--outputs", choices=["all", "own"], default="all",
                    help="all (default): NTK of every class output, an extension that sees label noise; "
                         "own: the paper's ν, the own-class output only")
    dv.add_argument("--kappa", choices=["singletons", "leave_one_out"], default="singletons",
                    help="coalitions κ averages over: contributors alone (official --no-loo) or the leave-one-out "
                         "coalitions and the grand one (the official default)")
    dv.add_argument("--convention", choices=["trainfree", "official"], default="trainfree",
                    help="official: Linear/Conv2d gradients only, BatchNorm2d reset, absolute ridge 1e-4")
    dv.add_argument("--bandwidth", default="median", type=bandwidth,
                    help="MMD RBF bandwidth: median (heuristic) or a number (the paper: 5 on [0, 1] pixels)")
    dv.add_argument("--ntk-blocks", type=int, default=1, help="block-diagonal NTK approximation (1 = exact)")
    dv.add_argument("--ntk-permutations", type=int, default=1, help="random block partitions averaged")
    dv.add_argument("--val-fraction", type=finite_float, default=0.2)
    dv.add_argument("--n-jobs", type=int, default=None, help="parallel utility evaluations (-1: all cores)")
    describe(dv, "trainfree value davinz --data digits --contributors 10 --split noisy --out out/davinz", """
values.parquet, one row per contributor:
  value        its semivalue of the DAVINZ utility (low = the contributor hurts the model)
  stderr       Monte Carlo standard error (NaN for exact semivalues)
  player       the contributor's name; size: its number of examples
  ntk_term, mmd_term   the two terms of DAVINZ for the contributor alone
  noise_rate   share of its labels flipped by --split noisy (0 otherwise)""")
    dv.set_defaults(func=value_davinz)


def value_davinz(args: argparse.Namespace) -> None:
    from .._progress import step
    from ..experiments import value_contributors
    from ..report import values_report

    t0 = time.perf_counter()
    out = prepare_output(args, "value davinz")
    data = load_data(args)
    monte_carlo = args.semivalue != "loo" and args.contributors > args.max_exact
    checkpoint = args.checkpoint or (out / "checkpoint.npz" if monte_carlo else None)
    say(args, f"Loaded {data.name}: {len(data)} examples, {len(data.classes)} classes; "
              f"{args.contributors} contributors ({args.split}), model {args.model}")
    with step(f"valuing {args.contributors} contributors (DAVINZ, {args.semivalue})"):
        res = value_contributors(data, n_contributors=args.contributors, split=args.split,
                                 noise_rate=0.4 if args.noise is None else args.noise, val_fraction=args.val_fraction,
                                 model=args.model, semivalue=args.semivalue, max_exact=args.max_exact,
                                 n_samples=args.samples, checkpoint=checkpoint, outputs=args.outputs,
                                 ntk_blocks=args.ntk_blocks, ntk_permutations=args.ntk_permutations, device=args.device,
                                 kappa=args.kappa, convention=args.convention, bandwidth=args.bandwidth,
                                 n_jobs=args.n_jobs, random_state=args.seed)
    say(args, values_report(res))
    say(args, f"ν computed with --outputs {args.outputs}: {res.settings['nu']}"
              + ("; the CLI default, because finding bad contributors is what it is for" if args.outputs == "all" else ""))
    finish(args, t0, res, *write_outputs(out, "values", res))
