"""``trainfree experiment groundtruth|prune|clean|noise|correlate``: DAVINZ's ν against trained test accuracy; Data
Diet pruning; training after cleaning flagged labels; every score's label-noise detection side by side; rank
correlations between scores."""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from pathlib import Path

from .._defaults import HARD_CUT, N_STRATA
from .._errors import TrainfreeError
from ._common import (
    AUTO_MODEL_HELP,
    add_common,
    add_group,
    add_nu_options,
    nu_from_args,
    describe,
    load_data,
    refuse_input_flags,
    resolved_model,
)
from ._outputs import finish, prepare_output, save_result, say, write_outputs

CORRELATE_SCORES = ("cg", "el2n", "grand", "forgetting")


def add_experiment_commands(sub):
    """Register ``experiment`` and its sub-commands; returns them, for commands defined elsewhere."""
    exp = add_group(sub, "experiment", help="experiments that test a score against ground truth",
                    example="trainfree experiment noise --data digits --scores mislabel,cg,random --out out/noise")
    gt = exp.add_parser("groundtruth", help="DAVINZ ν at initialization vs the test accuracy after training")
    add_common(gt, data="fmnist", noise_help="largest share of flipped labels among the datasets (default 0.5)")
    gt.add_argument("--datasets", type=int, default=30, help="random datasets drawn from the pool (at least 3)")
    gt.add_argument("--min-size", type=int, default=100, help="smallest dataset size")
    gt.add_argument("--max-size", type=int, default=600, help="largest dataset size")
    gt.add_argument("--size-scale", choices=["linear", "log"], default="linear",
                    help="sizes drawn uniformly, or log-uniformly between --min-size and --max-size")
    gt.add_argument("--model", choices=["auto", "mlp", "cnn"], default="auto",
                    help=f"network of ν and of the training; {AUTO_MODEL_HELP}")
    add_nu_options(gt)
    gt.add_argument("--epochs", type=int, default=30, help="most epochs of each training (it stops earlier once the "
                    "training loss is below 1e-3)")
    gt.add_argument("--repeats", type=int, default=1,
                    help="trainings per dataset (batch orders); the ground truth is their mean test accuracy")
    gt.add_argument("--val-size", type=int, default=500, help="rows held out for the validation set")
    gt.add_argument("--test-size", type=int, default=None,
                    help="fmnist: test images (default 2000); other data hold out a third of their rows")
    describe(gt, "trainfree experiment groundtruth --data fmnist --datasets 30 --out out/gt", """
groundtruth.parquet, one row per random dataset:
  value        DAVINZ ν at initialisation; player: the dataset's name; size; noise_rate
  ntk_term, mmd_term   the terms of ν
  test_metric  test accuracy (negative MSE for regression) after training on the dataset (mean of --repeats)
  VP, IF, RV   the paper's baselines (validation performance, influence, robust volume)""")
    gt.set_defaults(func=groundtruth)
    pr = exp.add_parser("prune", help="prune by a score, retrain on a fixed step budget, test accuracy (Data Diet)")
    add_common(pr, data="fmnist", noise_help=None)
    pr.add_argument("--scores", default="cg,el2n,random",
                    help="comma-separated: cg, mislabel (the detector), el2n, grand, forgetting, input_norm, random")
    pr.add_argument("--fractions", default="0.1,0.3,0.5,0.7", help="comma-separated shares pruned, each in (0, 1)")
    pr.add_argument("--directions", default="keep_hard,keep_easy", help="keep_hard (drop low scores), keep_easy")
    pr.add_argument("--sampling", default="top", help="comma-separated: top (the plain cut by --directions), "
                                                      "ccs (coverage-centric selection, Zheng et al. 2023)")
    pr.add_argument("--hard-cut", type=float, default=HARD_CUT,
                    help="ccs: share β of the highest scores always removed, at most every --fractions value")
    pr.add_argument("--strata", type=int, default=N_STRATA, help="ccs: number of equal-width score strata")
    pr.add_argument("--class-balanced", action="store_true", help="prune the same share within each class")
    pr.add_argument("--model", choices=["auto", "mlp", "cnn"], default="auto",
                    help=f"network of the scores and of the training; {AUTO_MODEL_HELP}")
    pr.add_argument("--epochs", type=int, default=5, help="epochs of the full set: the step budget of every run")
    pr.add_argument("--runs", type=int, default=2, help="paired networks per pruned set")
    pr.add_argument("--seeds", type=int, default=3, help="networks averaged by the Data Diet scores")
    pr.add_argument("--test-size", type=int, default=None, help="fmnist: test images (default 2000)")
    pr.add_argument("--n-jobs", type=int, default=None, help="training runs in parallel (-1: all cores)")
    pr.add_argument("--checkpoint", default=None, help="folder of finished seeds and training runs (default "
                                                       "<out>/units); re-run the same command to resume")
    describe(pr, "trainfree experiment prune --data fmnist --n 3000 --scores cg,el2n,random --fractions 0.3,0.5 "
                 "--out out/prune", """
pruning.parquet, one row per (score, direction, share pruned):
  value, stderr   mean test accuracy after pruning, standard error over --runs
  player, score, direction (keep_hard, keep_easy; ccs for --sampling ccs; random), fraction_pruned,
  n_kept, epochs (the step budget's epochs on the kept rows)
correlations.parquet: Spearman correlation (value) of every pair of scores (score_a, score_b)""")
    pr.set_defaults(func=prune)
    cl = exp.add_parser("clean", help="flip labels, remove or relabel what a score flags, retrain: the test "
                                      "accuracy gained")
    add_common(cl, data="fmnist", noise_help=None)
    cl.add_argument("--noise-settings", default="symmetric:0.2,symmetric:0.4,pair:0.3",
                    help="comma-separated MODE:RATE label-noise settings (MODE: symmetric or pair; RATE in (0, 1))")
    cl.add_argument("--scores", default="mislabel,cg,el2n,cleanlab",
                    help="comma-separated: mislabel (the detector's flags), cg, el2n (their highest share), cleanlab "
                         "(skipped with a note when not installed), confident_learning (trainfree's confident "
                         "learning on the same cross-validated logistic regression as cleanlab)")
    cl.add_argument("--flag-share", type=float, default=None,
                    help="share flagged by cg and el2n (default: the detector's estimated noise rate)")
    cl.add_argument("--min-confidence", type=float, default=0.5,
                    help="least probability of the predicted class for a flagged row to be relabelled")
    cl.add_argument("--model", choices=["auto", "mlp", "cnn"], default="auto",
                    help=f"network of EL2N and of the training; {AUTO_MODEL_HELP}")
    cl.add_argument("--epochs", type=int, default=5, help="epochs of the whole set: the step budget of every run")
    cl.add_argument("--runs", type=int, default=2, help="paired networks per training set")
    cl.add_argument("--seeds", type=int, default=3, help="networks averaged by EL2N")
    cl.add_argument("--el2n-epochs", type=int, default=5, help="epochs trained before EL2N is read")
    cl.add_argument("--test-size", type=int, default=None, help="fmnist: test images (default 2000)")
    cl.add_argument("--n-jobs", type=int, default=None, help="training runs in parallel (-1: all cores)")
    cl.add_argument("--checkpoint", default=None, help="folder of finished scores and training runs (default "
                                                       "<out>/units); re-run the same command to resume")
    describe(cl, "trainfree experiment clean --data fmnist --n 3000 --scores mislabel,cg --runs 3 --out out/clean", """
cleaning.parquet, one row per (noise setting, score, variant):
  value, stderr   mean test accuracy, standard error over --runs
  player, noise_mode, noise_rate, score (none for the noisy and clean variants), variant (noisy, removed,
  relabelled, clean)
  gap_recovered   (accuracy - noisy) / (clean - noisy)
  precision, recall   of the flags against the flipped labels; n_flagged, n_removed, n_relabelled,
  relabel_precision (share of relabelled rows given their true class)""")
    cl.set_defaults(func=clean)
    nz = exp.add_parser("noise", help="every score side by side on the same flipped labels")
    add_common(nz, data="fmnist", noise_help="share of labels flipped (default 0.2)")
    nz.add_argument("--scores", default="cg,el2n,forgetting,input_norm,random",
                    help="comma-separated: mislabel, cg, cg-prime, cg-features, grand, el2n, forgetting, input_norm, "
                         "random")
    nz.add_argument("--model", choices=["auto", "mlp", "cnn"], default="auto",
                    help=f"network of the trained scores; {AUTO_MODEL_HELP}")
    nz.add_argument("--seeds", type=int, default=3, help="networks averaged by the Data Diet scores")
    describe(nz, "trainfree experiment noise --data fmnist --n 3000 --noise 0.2 --scores cg,el2n,random --out "
                 "out/noise", """
noise.parquet, one row per score:
  value        AUROC of the score for the flipped labels (0.5 = chance); player: the score
  found_at_F   share of the flipped labels among the top F of the rows by score
  seconds      time the score took""")
    nz.set_defaults(func=noise)
    co = exp.add_parser("correlate", help="Spearman correlation of every pair of scores and of each with ‖x‖ "
                                          "(CG-score Table 1)")
    add_common(co, data="fmnist", noise_help=None)  # --n: default 3000 for fmnist
    co.add_argument("--scores", default="cg,el2n,grand,forgetting",
                    help="comma-separated, at least one: cg, el2n, grand, forgetting (the input norm is always added)")
    co.add_argument("--model", choices=["auto", "mlp", "cnn"], default="auto",
                    help=f"network of the Data Diet scores; {AUTO_MODEL_HELP}")
    co.add_argument("--seeds", type=int, default=3, help="networks averaged by the Data Diet scores")
    co.add_argument("--el2n-epochs", type=int, default=3, help="epochs trained before EL2N")
    co.add_argument("--grand-epochs", type=int, default=0, help="epochs trained before GraNd (0: at initialisation)")
    co.add_argument("--forgetting-epochs", type=int, default=10, help="epochs over which forgetting events count")
    co.add_argument("--checkpoint", default=None, help="folder of the Data Diet scores' finished seeds (default "
                                                       "<out>/units); re-run the same command to resume")
    describe(co, "trainfree experiment correlate --data fmnist --n 2000 --scores cg,el2n,grand --out out/corr", """
correlations.parquet, one row per unordered pair of scores (input_norm = ‖x‖ among them):
  value        Spearman rank correlation; player: "a ~ b"; score_a, score_b""")
    co.set_defaults(func=correlate)
    return exp


def noise(args: argparse.Namespace) -> None:
    from ..experiments import compare_noise_detection
    from ..experiments.noise import BASELINES, SCORES, TRAINING_LENGTH
    from ..report import noise_comparison_report

    t0 = time.perf_counter()
    names = comma_list(args.scores, flag="--scores", choices=(*SCORES, *BASELINES))
    if args.noise is not None and not 0 < args.noise < 1:
        raise TrainfreeError(f"--noise is the share of labels flipped, strictly between 0 and 1 (some clean and "
                             f"some flipped rows to tell apart); got {args.noise:g}. Pass e.g. --noise 0.2.")
    out = prepare_output(args, "experiment noise")
    data = two_classes(load_data(args), args)
    args.model = resolved_model(args, data.image_shape, used=any(n in TRAINING_LENGTH for n in names))
    res = compare_noise_detection(data, names,
                                  noise_rate=0.2 if args.noise is None else args.noise, model=args.model,
                                  n_seeds=args.seeds, device=args.device, random_state=args.seed)
    say(args, noise_comparison_report(res))
    finish(args, t0, res, *write_outputs(out, "noise", res, fmt=args.format))


def correlate(args: argparse.Namespace) -> None:
    from .._progress import step
    from ..experiments.pruning import pruning_scores, score_correlations
    from ..report import correlation_report

    t0 = time.perf_counter()
    names = comma_list(args.scores, flag="--scores", choices=CORRELATE_SCORES, note=" (the input norm is always added)")
    if min(args.el2n_epochs, args.grand_epochs) < 0 or args.forgetting_epochs < 1:
        raise TrainfreeError("--el2n-epochs and --grand-epochs must be at least 0 and --forgetting-epochs at least 1; "
                             "pass e.g. --forgetting-epochs 10.")
    if args.n is None and args.data == "fmnist":
        args.n = 3000  # as `experiment prune`: the Data Diet scores train networks on every row
    out = prepare_output(args, "experiment correlate")
    data = two_classes(load_data(args), args)
    args.model = resolved_model(args, data.image_shape, used=names != ["cg"])
    with step(f"scoring {len(data)} rows ({', '.join(names)})"):
        scores = pruning_scores(data, names, model=args.model, n_seeds=args.seeds, el2n_epochs=args.el2n_epochs,
                                grand_epochs=args.grand_epochs, forgetting_epochs=args.forgetting_epochs,
                                device=args.device, random_state=args.seed,
                                checkpoint=Path(args.checkpoint) if args.checkpoint else out / "units")
    res = score_correlations(scores, data.X)
    say(args, correlation_report(res))
    finish(args, t0, res, *write_outputs(out, "correlations", res, fmt=args.format))


def groundtruth(args: argparse.Namespace) -> None:
    from ..experiments.groundtruth import GroundTruthTraining, davinz_groundtruth, groundtruth_splits
    from ..report import groundtruth_report

    t0 = time.perf_counter()
    refuse_input_flags(args, "experiment groundtruth")
    fmnist_only(args, "n", "test_size", split="used whole, 2/3 pool and 1/3 test")
    out = prepare_output(args, "experiment groundtruth")
    train, val, test = groundtruth_splits(args.data, pool=args.n or 12000, val_size=args.val_size,
                                          test_size=args.test_size or 2000, label_column=args.label_column,
                                          random_state=args.seed)
    two_classes(train, args)
    args.model = resolved_model(args, train.image_shape)
    top = 1 if train.task == "classification" else float("inf")  # regression: in the targets' standard deviations
    if args.noise is not None and not 0 <= args.noise <= top:
        raise TrainfreeError(f"--noise is the largest noise rate of a dataset, from 0{' to 1' if top == 1 else ''}; "
                             f"got {args.noise:g}. Pass e.g. --noise 0.5.")
    res = davinz_groundtruth(train, val, test, n_datasets=args.datasets, sizes=(args.min_size, args.max_size),
                             noise=(0.0, 0.5 if args.noise is None else args.noise), size_scale=args.size_scale,
                             model=args.model, nu=nu_from_args(args), device=args.device, random_state=args.seed,
                             training=GroundTruthTraining(epochs=args.epochs, repeats=args.repeats),
                             progress=args.progress)
    say(args, groundtruth_report(res))
    finish(args, t0, res, *write_outputs(out, "groundtruth", res, fmt=args.format))


def two_classes(data, args: argparse.Namespace):
    """``data``, refused when its labels hold fewer than two classes (a classification experiment needs them)."""
    if data.task == "classification" and len(data.classes) < 2:
        raise TrainfreeError(f"{data.name}: the label column {args.label_column!r} holds one class "
                             f"({', '.join(map(repr, data.classes))}); these experiments train classifiers and need "
                             f"at least two. Pass the column that holds the labels (--label-column) or data of more "
                             f"classes.")
    return data


def fmnist_only(args: argparse.Namespace, *names: str, split: str) -> None:
    """Refuse flags that only Fashion-MNIST (with its own test set) uses when ``--data`` is other data."""
    given = [n for n in names if getattr(args, n) is not None]
    if args.data != "fmnist" and given:
        flag = "--" + given[0].replace("_", "-")
        raise TrainfreeError(f"{flag} applies to --data fmnist only (drawn from its own training and test sets); "
                             f"other data are {split}. Drop {flag}, or subsample your file first.")


def training_split(args: argparse.Namespace, command: str, *, n_fmnist: int, test_size: int):
    """The output folder and the training and test sets of an experiment that trains networks on ``--data``.

    Fashion-MNIST draws ``--n`` (default ``n_fmnist``) training and ``--test-size`` (default ``test_size``) test
    images; other data are split 2/3 training, 1/3 test. Returns ``(out, train, test)``; ``args.model`` is resolved.
    """
    from ..experiments.pruning import pruning_splits

    refuse_input_flags(args, command)
    fmnist_only(args, "test_size", split="split 2/3 training, 1/3 test")
    out = prepare_output(args, command)
    n = args.n or (n_fmnist if args.data == "fmnist" else None)
    train, test = pruning_splits(args.data, n=n, test_size=args.test_size or test_size, label_column=args.label_column,
                                 random_state=args.seed)
    two_classes(train, args)
    args.model = resolved_model(args, train.image_shape)
    return out, train, test


def comma_list(text: str, *, flag: str, choices: Sequence[str], note: str = "") -> list[str]:
    """The names of a comma-separated ``flag``: at least one, each among ``choices``.

    Examples
    --------
    >>> comma_list(" cg, el2n,", flag="--scores", choices=("cg", "el2n", "grand"))
    ['cg', 'el2n']
    """
    names = [s.strip() for s in text.split(",") if s.strip()]
    unknown = [s for s in names if s not in choices] or ([] if names else ["(none)"])
    if unknown:
        raise TrainfreeError(f"{flag}: unknown name {unknown[0]!r}; choose from {','.join(choices)}{note}.")
    return names


def comma_floats(text: str, *, flag: str) -> tuple[float, ...]:
    """The numbers of a comma-separated ``flag``, e.g. ``--fractions 0.3,0.5``."""
    try:
        return tuple(float(v) for v in text.split(","))
    except ValueError:
        raise TrainfreeError(f"{flag} takes comma-separated numbers, got {text!r}; pass e.g. {flag} 0.3,0.5.") from None


def prune(args: argparse.Namespace) -> None:
    from .._progress import step
    from ..experiments.pruning import PRUNE_SCORES, pruning_curve, pruning_scores, score_correlations
    from ..report import pruning_report

    t0 = time.perf_counter()
    names = comma_list(args.scores, flag="--scores", choices=PRUNE_SCORES)
    fractions = comma_floats(args.fractions, flag="--fractions")
    bad = [f for f in fractions if not 0 < f < 1]
    if bad:
        raise TrainfreeError(f"--fractions must lie strictly between 0 and 1, got {bad[0]:g}; pass e.g. 0.3,0.5.")
    directions = tuple(comma_list(args.directions, flag="--directions", choices=("keep_hard", "keep_easy")))
    sampling = comma_list(args.sampling, flag="--sampling", choices=("top", "ccs"))
    out, train, test = training_split(args, "experiment prune", n_fmnist=3000, test_size=2000)
    checkpoint = Path(args.checkpoint) if args.checkpoint else out / "units"
    with step(f"scoring {len(train)} rows ({', '.join(n for n in names if n != 'random')})"):
        scores = pruning_scores(train, names, model=args.model, n_seeds=args.seeds, device=args.device,
                                random_state=args.seed, checkpoint=checkpoint)
    res = pruning_curve(train, test, scores, fractions=fractions, directions=directions, sampling=sampling,
                        hard_cut=args.hard_cut, n_strata=args.strata, class_balanced=args.class_balanced,
                        include_random="random" in names, model=args.model,
                        epochs=args.epochs, n_runs=args.runs, device=args.device, random_state=args.seed,
                        n_jobs=args.n_jobs, checkpoint=checkpoint / "pruning", progress=args.progress)
    say(args, pruning_report(res))
    paths = write_outputs(out, "pruning", res, fmt=args.format)
    if len(scores) >= 2:  # the CG-score paper's Table 1, for the report's heat map
        paths += save_result(score_correlations(scores), out, "correlations", fmt=args.format)
    finish(args, t0, res, *paths)


def noise_settings(text: str) -> list[tuple[str, float]]:
    """The ``MODE:RATE`` pairs of ``--noise-settings``.

    Examples
    --------
    >>> noise_settings("symmetric:0.2, pair:0.3")
    [('symmetric', 0.2), ('pair', 0.3)]
    """
    out = []
    for item in (t.strip() for t in text.split(",") if t.strip()):
        mode, _, rate = item.partition(":")
        try:
            value = float(rate)
        except ValueError:
            value = float("nan")
        if mode.strip() not in ("symmetric", "pair") or not 0 < value < 1:
            raise TrainfreeError(f"--noise-settings takes comma-separated MODE:RATE pairs (MODE symmetric or pair, "
                                 f"RATE strictly between 0 and 1), got {item!r}; pass e.g. --noise-settings "
                                 f"symmetric:0.2,pair:0.3.")
        out.append((mode.strip(), value))
    return out


def clean(args: argparse.Namespace) -> None:
    from ..experiments.cleaning import CLEAN_SCORES, cleaning_gain
    from ..report import cleaning_report

    t0 = time.perf_counter()
    names = comma_list(args.scores, flag="--scores", choices=CLEAN_SCORES)
    settings = noise_settings(args.noise_settings)
    out, train, test = training_split(args, "experiment clean", n_fmnist=3000, test_size=2000)
    res = cleaning_gain(train, test, noise_settings=settings, scores=names, flag_share=args.flag_share,
                        min_confidence=args.min_confidence, model=args.model, epochs=args.epochs, n_runs=args.runs,
                        n_seeds=args.seeds, el2n_epochs=args.el2n_epochs, device=args.device, random_state=args.seed,
                        n_jobs=args.n_jobs, checkpoint=Path(args.checkpoint) if args.checkpoint else out / "units",
                        progress=args.progress)
    say(args, cleaning_report(res))
    finish(args, t0, res, *write_outputs(out, "cleaning", res, fmt=args.format))
