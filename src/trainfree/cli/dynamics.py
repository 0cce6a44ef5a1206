"""``trainfree experiment dynamics``: per-score-group loss, accuracy and kernel velocity during training."""

from __future__ import annotations

import argparse
import dataclasses
import time

import numpy as np

from .._errors import TrainfreeError
from ._common import AUTO_MODEL_HELP, add_common, describe
from ._outputs import finish, say, write_outputs
from .experiment import training_split

SCORES = ("cg", "el2n", "grand", "forgetting")


def add_dynamics_command(exp) -> None:
    """Register ``dynamics`` under the ``experiment`` sub-commands ``exp``."""
    dy = exp.add_parser("dynamics", help="loss, accuracy and NTK velocity of score groups while training "
                                         "(CG-score Fig. 4)")
    add_common(dy, data="fmnist", noise_help="share of training labels flipped before scoring (default 0)")
    dy.add_argument("--score", choices=SCORES, default="cg", help="the score that groups the rows")
    dy.add_argument("--groups", type=int, default=10, help="equal groups by score, group 0 = highest")
    dy.add_argument("--model", choices=["mlp", "cnn", "auto"], default="mlp",
                    help=f"network trained (the CG-score paper's Fig. 4: the mlp); {AUTO_MODEL_HELP}")
    dy.add_argument("--width", type=int, default=256, help="hidden width of the mlp")
    dy.add_argument("--epochs", type=int, default=5, help="epochs trained")
    dy.add_argument("--kernel-rows", type=int, default=50, help="rows per group in the NTK Gram (0: no velocity)")
    dy.add_argument("--test-size", type=int, default=None, help="fmnist: test images (default 1000)")
    describe(dy, "trainfree experiment dynamics --data fmnist --n 2000 --epochs 5 --out out/dynamics", """
dynamics.parquet, one row per (group, epoch 0..E):
  value, stderr   the group's mean training loss and its standard error
  group, epoch    group 0 holds the highest scores
  accuracy, n_rows, score_mean
  velocity        kernel distance between the group's NTK Gram after epochs t and t+1 (NaN at the end)""")
    dy.set_defaults(func=dynamics)


def report(res) -> str:
    """Per group: loss at every epoch, final accuracy and the kernel velocity after the first epoch."""
    E = int(res.settings["epochs"]) + 1
    loss, acc, vel = (res[c].reshape(-1, E) for c in ("value", "accuracy", "velocity"))
    head = f"loss at epoch 0..{E - 1}"
    lines = [f"{'group':<7}{'score mean':>11}  {head:<{7 * E}}{'acc':>7}{'v(0)':>9}{'v(1)':>9}"]
    for g in range(len(loss)):
        v = [f"{x:9.4f}" if np.isfinite(x) else f"{'-':>9}" for x in vel[g, :2]]  # E >= 2: two entries
        lines.append(f"{g:<7}{res['score_mean'][g * E]:>11.4g}  " + "".join(f"{x:7.3f}" for x in loss[g])
                     + f"{acc[g, -1]:7.3f}" + "".join(v))
    return "\n".join(lines)


def dynamics(args: argparse.Namespace) -> None:
    from .._progress import step
    from .._random import check_random_state, child
    from ..data import inject_label_noise
    from ..experiments import group_dynamics, score_dataset, score_groups

    t0 = time.perf_counter()
    noise = args.noise or 0.0
    if not 0 <= noise < 1:
        raise TrainfreeError(f"--noise is a share of labels in [0, 1), got {noise:g}; pass e.g. --noise 0.2.")
    if min(args.groups, args.epochs, args.width) < 1 or args.kernel_rows < 0:
        raise TrainfreeError("--groups, --epochs and --width must be at least 1 and --kernel-rows at least 0; pass "
                             "e.g. --groups 10 --epochs 5 --width 256 --kernel-rows 50.")
    # args.model: the score's networks (not cg's) and the training
    out, train, test = training_split(args, "experiment dynamics", n_fmnist=2000, test_size=1000)
    seed = check_random_state(args.seed)
    flipped = np.zeros(len(train), bool)
    if noise > 0:  # flip once, so the score and the training see the same labels
        y, flipped = inject_label_noise(train.y, noise, n_classes=len(train.classes),
                                        random_state=child(seed, "noise"))
        train = dataclasses.replace(train, y=y)
    options = {} if args.score == "cg" else {"model": args.model, "device": args.device}
    with step(f"scoring {len(train)} rows ({args.score})"):
        scores = score_dataset(train, score=args.score, random_state=child(seed, "score"), **options).scores
    res = group_dynamics(train, scores, test_set=test, n_groups=args.groups, model=args.model, width=args.width,
                         epochs=args.epochs, kernel_rows=args.kernel_rows, device=args.device,
                         random_state=child(seed, "dynamics"))
    res = res.replace(settings={"score": args.score, "noise_rate": noise},
                      metrics={"flipped_per_group": [int(flipped[g].sum()) for g in score_groups(scores, args.groups)]})
    say(args, report(res))
    finish(args, t0, res, *write_outputs(out, "dynamics", res, fmt=args.format))
