"""``trainfree score mislabel|cg|cg-prime|cg-features|grand|el2n|forgetting``: per-example scores of a data set."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from .._errors import TrainfreeError
from .._defaults import CHUNK_SIZE, N_CHUNK_REPEATS
from ._common import (
    AUTO_MODEL_HELP,
    PREPROCESS_HELP,
    SCORE_COLUMNS,
    add_common,
    add_group,
    describe,
    finite_float,
    load_data,
    refuse_input_flags,
    resolved_model,
)
from ._outputs import finish, prepare_output, record_data, say, write_outputs

MISLABEL_COLUMNS = """scores.parquet, one row per example, in the data set's order:
  score           log(mean P[label] of its class) − log P[label], P the leave-one-out probability (higher = more likely mislabelled)
  stderr          its standard error over chunkings (stochastic; NaN otherwise)
  margin          best other class's leave-one-out prediction minus the given class's
  self_confidence the leave-one-out probability of the given label
  predicted       the class the rest of the data predicts for the example
  flag_mislabel   among the estimated number of wrong labels (confident learning on P; needs no noise rate)
  flag_argmax     predicted differs from the given label
  label, row_id   the label as given (flipped where --noise flipped it); the row's identity in the source
  original_label, flipped   with --noise: the label before flipping, and whether it was flipped
scores.parquet.json and summary.json: settings (ridge chosen, its leave-one-out errors, temperature, noise_rate_estimate), seed,
timings, noise-detection metrics"""
NOISE_HELP = "share of labels to flip on purpose (symmetric), to measure how well the score finds them, e.g. 0.2"


def add_score_commands(sub) -> None:
    score = add_group(sub, "score", help="per-example scores: which rows are likely mislabelled or atypical",
                      example="trainfree score mislabel --data digits --noise 0.2 --out out/mislabel")
    ml = score.add_parser("mislabel", help="likely mislabelled examples: leave-one-out kernel predictions of every "
                          "class, no training")
    add_common(ml, data="fmnist", noise_help=NOISE_HELP)
    ml.add_argument("--noise-mode", choices=["symmetric", "pair"], default="symmetric",
                    help="where flipped labels go: any other class, or class c to c+1")
    ml.add_argument("--method", choices=["exact", "stochastic", "large", "lowrank", "auto"], default="exact",
                    help="large: for n past what fits in memory (CPU); lowrank: Nystrom factor, O(n r^2); "
                         "auto: exact up to 20000 rows, else lowrank; Parquet parts: lowrank or auto")
    ml.add_argument("--kernel", choices=["auto", "arccos", "conv"], default="auto",
                    help="arccos: H∞ of unit-norm rows; conv: H∞ of random-CNN features (images); auto: conv for images")
    ml.add_argument("--preprocess", choices=["raw", "center", "mnist-shift"], default="raw", help=PREPROCESS_HELP)
    ml.add_argument("--ridge", type=_ridge, default="auto", help="'auto' (least leave-one-out error) or a multiple "
                    "of the kernel's mean diagonal")
    ml.add_argument("--chunk-size", type=int, default=CHUNK_SIZE, help="stochastic, large: examples per chunk")
    ml.add_argument("--chunk-repeats", type=int, default=N_CHUNK_REPEATS,
                    help="stochastic, large: random chunk partitions averaged")
    ml.add_argument("--dtype", choices=["float64", "float32"], default=None,
                    help="default float32 when the ridge is at least 0.01 x the mean diagonal, else float64 "
                         "(large: float32 Gram storage)")
    ml.add_argument("--rank", type=int, default=None, help="lowrank: Nystrom landmarks (default: doubled from 100 "
                    "while a doubling lowers the leave-one-out log loss by 1%% or more, at most 1000)")
    ml.add_argument("--block-rows", type=_block_rows, default="auto", help="lowrank: rows per k-means block of the "
                    "exact local correction of the Nystrom kernel; 0: plain Nystrom; auto: 1000 when --rank is given "
                    "or the automatic rank reached 1000, else 0; 0 for Parquet parts")
    ml.add_argument("--n-jobs", type=int, default=None, help="stochastic, large: parallel work units (-1: all cores); "
                    "exact, lowrank and auto ignore it")
    ml.add_argument("--checkpoint", default=None, help="stochastic, large: folder of finished work units (default "
                    "<out>/units); re-run the same command to resume")
    ml.add_argument("--scheduler", default=None, metavar="ADDRESS", help="--data a folder of Parquet parts: the "
                    "address of a running dask.distributed scheduler that scores them (default: Dask's threaded "
                    "scheduler in this process)")
    describe(ml, "trainfree score mislabel --data fmnist --n 10000 --noise 0.2 --seed 0 --out out/mislabel",
             MISLABEL_COLUMNS)
    ml.set_defaults(func=score_examples, options=lambda a: dict(
        method=a.method, kernel=a.kernel, preprocess=a.preprocess, ridge=a.ridge,
        chunk_size=a.chunk_size, n_chunk_repeats=a.chunk_repeats, dtype=a.dtype, rank=a.rank, block_rows=a.block_rows,
        n_jobs=a.n_jobs, progress=a.progress, checkpoint=None if a.method in ("exact", "lowrank", "auto")
        else (a.checkpoint or str(Path(a.out) / "units"))))
    cg = score.add_parser("cg", help="complexity-gap score (ICLR 2023), no training")
    add_common(cg, data="fmnist", noise_help=NOISE_HELP)
    cg.add_argument("--method", choices=["exact", "stochastic", "large"], default="exact",
                    help="large: conjugate gradients + chunked diag(H⁻¹), for n past the exact method's memory")
    cg.add_argument("--preprocess", choices=["center", "raw", "mnist-shift"], default="center", help=PREPROCESS_HELP)
    cg.add_argument("--ratio", type=finite_float, default=3.0, help="stochastic: others sampled per own-class example")
    cg.add_argument("--repeats", type=int, default=10, help="stochastic: subsamples averaged")
    cg.add_argument("--chunk-size", type=int, default=CHUNK_SIZE, help="large: examples per chunk for diag(H⁻¹)")
    cg.add_argument("--chunk-repeats", type=int, default=N_CHUNK_REPEATS, help="large: random chunk partitions averaged")
    cg.add_argument("--rank", type=int, default=None, help="large: Nyström preconditioner rank (default max(1000, n/20))")
    cg.add_argument("--dtype", choices=["float64", "float32"], default=None,
                    help="exact/stochastic: precision (default float64); large: Gram storage (default float32)")
    cg.add_argument("--n-jobs", type=int, default=None, help="stochastic/large: parallel work units (-1: all cores); "
                    "exact ignores it")
    cg.add_argument("--checkpoint", default=None, help="stochastic/large: folder of finished work units (default "
                                                        "<out>/units); re-run the same command to resume")
    describe(cg, "trainfree score cg --data fmnist --n 10000 --noise 0.2 --seed 0 --out out/cg", SCORE_COLUMNS)
    cg.set_defaults(func=score_examples, options=lambda a: dict(
        method=a.method, preprocess=a.preprocess, ratio=a.ratio, n_repeats=a.repeats, chunk_size=a.chunk_size,
        n_chunk_repeats=a.chunk_repeats, rank=a.rank, dtype=a.dtype, n_jobs=a.n_jobs, progress=a.progress,
        checkpoint=None if a.method == "exact" else (a.checkpoint or str(Path(a.out) / "units"))))
    prime = score.add_parser("cg-prime", help="CG′: the CG-score with H instead of its inverse, no training")
    add_common(prime, data="fmnist", noise_help=NOISE_HELP)
    prime.add_argument("--preprocess", choices=["center", "raw", "mnist-shift"], default="center",
                       help=PREPROCESS_HELP)
    prime.add_argument("--dtype", choices=["float64", "float32"], default="float64",
                       help="precision of H and its solve")
    describe(prime, "trainfree score cg-prime --data fmnist --n 3000 --noise 0.2 --out out/cgp",
             SCORE_COLUMNS.replace("higher = more likely mislabelled or atypical", "CG′: mislabelled rows score LOW"))
    prime.set_defaults(func=score_examples, options=lambda a: dict(preprocess=a.preprocess, dtype=a.dtype))
    feat = score.add_parser("cg-features", help="CG-score of penultimate features after a few epochs (CG appendix H)")
    add_common(feat, data="fmnist", noise_help=NOISE_HELP)
    feat.add_argument("--model", choices=["auto", "cnn", "mlp"], default="auto", help=AUTO_MODEL_HELP)
    feat.add_argument("--seeds", type=int, default=1, help="networks averaged")
    feat.add_argument("--epochs", type=int, default=3, help="epochs trained before the features are read")
    feat.add_argument("--preprocess", choices=["center", "raw", "mnist-shift"], default="center",
                      help=PREPROCESS_HELP)
    describe(feat, "trainfree score cg-features --data digits --model mlp --epochs 2 --seeds 3 --noise 0.2 --out "
                   "out/cgf", SCORE_COLUMNS)
    feat.set_defaults(func=score_examples, options=lambda a: dict(
        model=a.model, n_seeds=a.seeds, epochs=a.epochs, preprocess=a.preprocess))
    for name, what, epochs in (("grand", "GraNd: per-example gradient norm (Data Diet, NeurIPS 2021)", 0),
                              ("el2n", "EL2N: error vector norm early in training (Data Diet)", 5),
                              ("forgetting", "forgetting events during training (Toneva et al.)", 20)):
        p = score.add_parser(name, help=what)
        add_common(p, data="fmnist", noise_help=NOISE_HELP)
        p.add_argument("--model", choices=["auto", "cnn", "mlp", "resnet18_cifar"], default="auto",
                       help=f"{AUTO_MODEL_HELP}; cnn and resnet18_cifar (for a GPU) need image data")
        p.add_argument("--seeds", type=int, default=10 if name != "forgetting" else 5, help="networks averaged")
        p.add_argument("--epochs", type=int, default=epochs,
                       help="epochs of training" if name == "forgetting" else "epochs trained before scoring")
        p.add_argument("--checkpoint", default=None, help="folder of finished seeds (default <out>/units); re-run "
                                                          "the same command to resume")
        describe(p, f"trainfree score {name} --data fmnist --n 2000 --noise 0.2 --out out/{name}",
                 SCORE_COLUMNS)
        p.set_defaults(func=score_examples, options=lambda a: dict(
            model=a.model, n_seeds=a.seeds, checkpoint=a.checkpoint or str(Path(a.out) / "units"), progress=a.progress,
            epochs=a.epochs))


def _ridge(text: str) -> float | str:
    return text if text == "auto" else finite_float(text)


def _block_rows(text: str) -> int | str:
    if text == "auto":
        return text
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected 'auto' or a whole number of rows, got {text!r}") from None


def score_examples(args: argparse.Namespace) -> None:
    from .._progress import step
    from ..experiments import score_dataset
    from ..report import noise_report

    t0 = time.perf_counter()
    out = prepare_output(args, f"score {args.score}")
    if args.score == "mislabel":
        from ..data.parquet_parts import is_parquet_parts

        if is_parquet_parts(args.data):
            return _score_parts(args, t0, out)
        if args.scheduler is not None:
            raise TrainfreeError(f"--scheduler runs the detector on a folder of Parquet parts; --data {args.data} is "
                                 f"not one (a folder holding *.parquet files and no sub-folders). Drop --scheduler.")
    data = load_data(args)
    record_data(out, data)
    mode = {"noise_mode": args.noise_mode} if hasattr(args, "noise_mode") else {}
    if hasattr(args, "model"):
        args.model = resolved_model(args, data.image_shape)
    with step(f"scoring {len(data)} rows ({args.score})"):
        res = score_dataset(data, score=args.score, noise_rate=args.noise or 0.0, device=args.device,
                            random_state=args.seed, **mode, **args.options(args))
    say(args, noise_report(res))
    finish(args, t0, res, *write_outputs(out, "scores", res, fmt=args.format))


def _score_parts(args: argparse.Namespace, t0: float, out: Path) -> None:
    """``--data`` a folder of Parquet parts: the low-rank detector on Dask (the report draws no examples of parts)."""
    from .._progress import step
    from ..data import read_parquet_parts
    from ..experiments import score_parquet_parts
    from ..report import noise_report

    refuse_input_flags(args, "a folder of Parquet parts", why="reads it as a Dask array")
    if args.n is not None:
        raise TrainfreeError("--n is not available for a folder of Parquet parts, which is scored whole; drop --n "
                             "or write a subsample as parts.")
    parts = read_parquet_parts(args.data, label_column=args.label_column, id_column=args.id_column,
                               ignore_columns=args.ignore_columns or (), standardize=args.standardize)
    say(args, f"{parts.name}: {len(parts)} rows in {len(parts.parts)} Parquet parts, scored on Dask")
    with step(f"scoring {len(parts)} rows (mislabel, on Dask)"):
        res = score_parquet_parts(parts, scheduler=args.scheduler, noise_rate=args.noise or 0.0,
                                  noise_mode=args.noise_mode, random_state=args.seed, device=args.device,
                                  **args.options(args))
    say(args, noise_report(res))
    finish(args, t0, res, *write_outputs(out, "scores", res, fmt=args.format))
