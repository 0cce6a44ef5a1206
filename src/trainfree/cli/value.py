"""``trainfree value davinz``: contributor values at initialization."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from .._errors import TrainfreeError
from ._common import (
    MODELS,
    add_common,
    add_group,
    add_nu_options,
    describe,
    finite_float,
    load_data,
    nu_from_args,
    refuse_input_flags,
)
from ._outputs import finish, prepare_output, say, write_outputs


def bandwidth(text: str) -> str | float:
    """``median`` or a positive finite number."""
    if text == "median":
        return text
    value = finite_float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected 'median' or a positive number, got {text!r}")
    return value


def add_value_commands(sub) -> None:
    value = add_group(sub, "value", help="value data contributors",
                      example="trainfree value davinz --data digits --contributors 10 --split noisy --out out/davinz")
    dv = value.add_parser("davinz", help="DAVINZ: contributor values at initialization (ICML 2022)")
    add_common(dv, data="digits", noise_help="--split noisy: share of labels flipped for 30%% of the "
                                              "contributors (default 0.4)")
    dv.add_argument("--contributors", type=int, default=None,
                    help="simulated: split --data among this many (default 10)")
    dv.add_argument("--split", choices=["class", "random", "sizes", "noisy"], default=None,
                    help="simulated: how --data is split among the contributors (default random)")
    real = dv.add_argument_group("real contributors (instead of splitting --data)")
    real.add_argument("--contributor-data", nargs="+", default=None, metavar="PATH",
                      help="one file (.npz, .csv, .parquet) or image folder per contributor, named by its file name")
    real.add_argument("--contributor-column", default=None, metavar="COLUMN",
                      help="the column of the --data table that names each row's contributor")
    real.add_argument("--val-data", default=None, metavar="PATH", help="your validation set (required with these)")
    real.add_argument("--task", choices=["classification", "regression"], default=None,
                      help="default: regression when every file holds real-valued targets")
    real.add_argument("--allow-new-classes", action="store_true",
                      help="accept contributor labels that --val-data lacks, as classes of their own (refused by "
                           "default: they are most often another spelling of a class)")
    dv.add_argument("--semivalue", choices=["loo", "shapley", "banzhaf"], default="shapley",
                    help="how contributors share the utility: leave-one-out, Shapley or Banzhaf values")
    dv.add_argument("--max-exact", type=int, default=12, help="exact enumeration up to this many contributors")
    dv.add_argument("--samples", type=int, default=500, help="Monte Carlo permutations or coalitions above it")
    dv.add_argument("--checkpoint", default=None,
                    help="Monte Carlo checkpoint (.npz; default <out>/checkpoint.npz): re-run to resume")
    dv.add_argument("--model", choices=MODELS, default="mlp",
                    help="cnn: a small CNN; davinz_cnn / davinz_mlp: the official DAVINZ code's networks")
    add_nu_options(dv)
    dv.add_argument("--kappa", choices=["singletons", "leave_one_out"], default="singletons",
                    help="coalitions κ averages over: contributors alone (official --no-loo) or the leave-one-out "
                         "coalitions and the grand one (the official default)")
    dv.add_argument("--convention", choices=["trainfree", "official"], default="trainfree",
                    help="official: Linear/Conv2d gradients only, BatchNorm2d reset, absolute ridge 1e-4")
    dv.add_argument("--bandwidth", default="median", type=bandwidth,
                    help="MMD RBF bandwidth: median (heuristic) or a number (the paper: 5 on [0, 1] pixels)")
    dv.add_argument("--ntk-blocks", type=int, default=1, help="block-diagonal NTK approximation (1 = exact)")
    dv.add_argument("--ntk-permutations", type=int, default=1, help="random block partitions averaged")
    dv.add_argument("--val-fraction", type=finite_float, default=None,
                    help="simulated: share of --data held out as the validation set (default 0.2)")
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
    from ..data import load_file, standardize_as
    from ..experiments import load_contributors, value_contributors, value_datasets
    from ..report import values_report
    from ..valuation import NtkOptions

    t0 = time.perf_counter()
    real = args.contributor_data is not None or args.contributor_column is not None
    if real and args.val_data is None:
        raise TrainfreeError("Valuing real contributors (--contributor-data or --contributor-column) needs your "
                             "validation set: pass --val-data PATH.")
    if not real and (args.val_data is not None or args.task is not None or args.allow_new_classes):
        raise TrainfreeError("--val-data, --task and --allow-new-classes are for real contributors: add "
                             "--contributor-data PATH... (one file or folder each) or --contributor-column COLUMN (of the --data table).")
    simulated = {"--contributors": args.contributors, "--split": args.split, "--val-fraction": args.val_fraction,
                 "--noise": args.noise, **({"--n": args.n} if real else {})}
    ignored = [flag for flag, value in simulated.items() if value is not None]
    if real and ignored:
        raise TrainfreeError(f"{ignored[0]} is for simulated contributors (splitting --data); real contributors "
                             f"(--contributor-data or --contributor-column) are valued as given. Drop {ignored[0]}.")
    if args.noise is not None and args.split != "noisy":
        raise TrainfreeError("--noise sets the share of labels flipped by --split noisy; add --split noisy or drop "
                             "--noise.")
    args.contributors = 10 if args.contributors is None else args.contributors
    args.split, args.val_fraction = args.split or "random", 0.2 if args.val_fraction is None else args.val_fraction
    if args.contributor_data is not None and args.contributor_column is not None:
        raise TrainfreeError("Pass either --contributor-data (one file or folder per contributor) or "
                             "--contributor-column (one --data table with a contributor column), not both.")
    if real:
        refuse_input_flags(args, "value davinz with real contributors", "reads their files itself")
        for flag, path in [*(("--contributor-data", p) for p in args.contributor_data or ()),
                           ("--val-data", args.val_data)]:
            if not Path(path).exists():
                raise TrainfreeError(f"{flag}: no such file or folder: {path}. Pass an existing .npz, .csv or "
                                     f".parquet file or image folder.")
    out = prepare_output(args, "value davinz")
    options = dict(model=args.model, nu=nu_from_args(args), semivalue=args.semivalue, max_exact=args.max_exact,
                   n_samples=args.samples, ntk=NtkOptions(blocks=args.ntk_blocks, permutations=args.ntk_permutations),
                   device=args.device, kappa=args.kappa, convention=args.convention, bandwidth=args.bandwidth,
                   n_jobs=args.n_jobs, random_state=args.seed)
    if real:
        columns = dict(label_column=args.label_column, id_column=args.id_column,
                       ignore_columns=args.ignore_columns or ())
        parts = load_contributors(args.contributor_data or [args.data], group_column=args.contributor_column,
                                  **columns)
        val = load_file(args.val_data, standardize=False, **columns)
        if args.standardize and val.preprocessing:  # tables: one scale for all, the validation set's
            parts = {name: standardize_as(part, val) for name, part in parts.items()}
            val = standardize_as(val, val)
        say(args, f"Loaded {len(parts)} contributors ({', '.join(f'{k}: {len(d)}' for k, d in parts.items())} "
                  f"examples) and the validation set {val.name} ({len(val)}); model {args.model}")
        with step(f"valuing {len(parts)} contributors (DAVINZ, {args.semivalue})"):
            res = value_datasets(parts, val, task=args.task, allow_new_classes=args.allow_new_classes,
                                 checkpoint=_checkpoint(args, out, len(parts)), **options)
    else:
        data = load_data(args)
        say(args, f"Loaded {data.name}: {len(data)} examples, {len(data.classes)} classes; "
                  f"{args.contributors} contributors ({args.split}), model {args.model}")
        with step(f"valuing {args.contributors} contributors (DAVINZ, {args.semivalue})"):
            res = value_contributors(data, n_contributors=args.contributors, split=args.split,
                                     noise_rate=0.4 if args.noise is None else args.noise,
                                     val_fraction=args.val_fraction,
                                     checkpoint=_checkpoint(args, out, args.contributors), **options)
    say(args, values_report(res))
    s = res.settings
    say(args, f"ν: --nu {s['nu']} (--outputs {s['outputs']} --size-ridge {s['size_ridge']:g} --mmd-estimator "
              f"{s['mmd_estimator']}): {s['nu_description']}")
    finish(args, t0, res, *write_outputs(out, "values", res, fmt=args.format))


def _checkpoint(args: argparse.Namespace, out, n_contributors: int):
    """--checkpoint, or <out>/checkpoint.npz for Monte Carlo runs."""
    monte_carlo = args.semivalue != "loo" and n_contributors > args.max_exact
    return args.checkpoint or (out / "checkpoint.npz" if monte_carlo else None)
