"""``trainfree experiment groundtruth``: DAVINZ's ν against trained test accuracy."""

from __future__ import annotations

import argparse
import time

from ._common import add_common, prepare_output, say, write_outputs


def add_experiment_commands(sub) -> None:
    exp = sub.add_parser("experiment", help="experiments that test a score").add_subparsers(dest="experiment",
                                                                                             required=True)
    gt = exp.add_parser("groundtruth", help="DAVINZ ν at initialization vs the test accuracy after training")
    add_common(gt, data="fmnist", noise_help="largest share of flipped labels among the datasets (default 0.5)")
    gt.add_argument("--datasets", type=int, default=30)
    gt.add_argument("--min-size", type=int, default=100)
    gt.add_argument("--max-size", type=int, default=600)
    gt.add_argument("--size-scale", choices=["linear", "log"], default="linear")
    gt.add_argument("--model", choices=["mlp", "cnn"], default="cnn")
    gt.add_argument("--outputs", choices=["own", "all"], default="own")
    gt.add_argument("--epochs", type=int, default=30)
    gt.add_argument("--val-size", type=int, default=500, help="rows held out for the validation set")
    gt.add_argument("--test-size", type=int, default=2000, help="rows held out for the test set")
    gt.set_defaults(func=groundtruth)


def groundtruth(args: argparse.Namespace) -> None:
    from ..experiments.groundtruth import davinz_groundtruth, groundtruth_splits
    from ..report import groundtruth_report

    t0 = time.perf_counter()
    out = prepare_output(args, "experiment groundtruth")
    train, val, test = groundtruth_splits(args.data, pool=args.n or 12000, val_size=args.val_size,
                                          test_size=args.test_size, random_state=args.seed)
    res = davinz_groundtruth(train, val, test, n_datasets=args.datasets, sizes=(args.min_size, args.max_size),
                             noise=(0.0, 0.5 if args.noise is None else args.noise), size_scale=args.size_scale,
                             model=args.model, outputs=args.outputs, epochs=args.epochs, device=args.device,
                             random_state=args.seed, progress=not args.quiet)
    say(args, groundtruth_report(res))
    path, summary = write_outputs(out, "groundtruth", res)
    print(f"Wrote {path} and {summary} ({time.perf_counter() - t0:.1f} s)")
