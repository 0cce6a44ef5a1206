"""What every command shares: the parser class, the common flags and CLI wording (output folders: ._outputs)."""

from __future__ import annotations

import argparse
import math
import re
import sys
import warnings
from collections.abc import Collection
from typing import Any

from .._errors import TrainfreeError

from ._outputs import say

# API parameter → CLI flag, so that errors raised by the library name what a CLI user can type.
FLAGS = {"ratio": "--ratio", "n_repeats": "--repeats", "method": "--method", "preprocess": "--preprocess",
         "dtype": "--dtype", "device": "--device", "n_jobs": "--n-jobs", "random_state": "--seed", "n": "--n",
         "label_column": "--label-column", "noise": "--noise", "noise_rate": "--noise", "noise_mode": "--noise-mode",
         "max_permutations": "--samples", "n_samples": "--samples", "max_exact": "--max-exact",
         "n_contributors": "--contributors", "ntk_blocks": "--ntk-blocks", "ntk_permutations": "--ntk-permutations",
         "val_fraction": "--val-fraction", "checkpoint": "--checkpoint", "outputs": "--outputs", "model": "--model",
         "n_datasets": "--datasets", "epochs": "--epochs", "n_seeds": "--seeds",
         "direction": "--directions", "fractions": "--fractions", "n_runs": "--runs", "kappa": "--kappa",
         "convention": "--convention", "bandwidth": "--bandwidth", "chunk_size": "--chunk-size",
         "n_chunk_repeats": "--chunk-repeats", "rank": "--rank", "block_rows": "--block-rows", "task": "--task",
         "group_column": "--contributor-column", "width": "--width", "n_groups": "--groups",
         "kernel_rows": "--kernel-rows", "id_column": "--id-column", "ignore_columns": "--ignore-columns",
         "standardize": "--standardize", "allow_new_classes": "--allow-new-classes",
         "sizes": "--min-size/--max-size", "repeats": "--repeats", "sampling": "--sampling",
         "hard_cut": "--hard-cut", "n_strata": "--strata",
         "flag_share": "--flag-share", "min_confidence": "--min-confidence", "el2n_epochs": "--el2n-epochs"}

# Library choices the parser offers, spelled here so that --help imports no torch; tests/test_help.py checks
# they equal the library's (trainfree.training.models.KINDS, the coalition MMD's ESTIMATORS).
MODELS = ("auto", "mlp", "cnn", "davinz_cnn", "davinz_mlp", "resnet18_cifar")
AUTO_MODEL_HELP = "auto: the cnn for images with sides >= 16 px, else the mlp"
MMD_ESTIMATORS = ("biased", "unbiased", "thresholded")
NU_PRESETS, DEFAULT_NU = ("paper", "recommended"), "recommended"  # spelled here: --help imports no torch
PREPROCESS_HELP = ("rows before unit-norm scaling: raw as given, center minus the per-feature mean, mnist-shift "
                   "the official CG code's (x - 0.1307) / 0.3081")


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """``--help`` text: descriptions and epilogs as written, and every option's default.

    An option that takes a value and has a default other than None gets ``(default: X)`` unless its help
    already says ``default``; an ``--x/--no-x`` switch gets ``(default: on)`` or ``(default: off)``. Plain
    ``store_true`` flags are off unless given, so they get nothing.
    """

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if not action.option_strings or action.default in (None, argparse.SUPPRESS) or re.search(r"\bdefault\b",
                                                                                                   text):
            return text
        if isinstance(action, argparse.BooleanOptionalAction):
            return f"{text} (default: {'on' if action.default else 'off'})"
        return text if action.nargs == 0 else f"{text} (default: %(default)s)"


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line and exit code 2, like every other bad input, and ``--help``
    shows every default (:class:`HelpFormatter`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> None:  # type: ignore[override]
        print(f"trainfree: error: {message} (see: {self.prog} --help)", file=sys.stderr)
        sys.exit(2)


def add_group(sub, name: str, *, help: str, example: str):
    """A command that holds commands (``score``, ``value``, ``experiment``); returns its sub-parsers."""
    p = sub.add_parser(name, help=help, description=f"{help[0].upper()}{help[1:]}.",
                       epilog=f"example:\n  {example}\n\nEach command's --help lists its options, their defaults "
                              f"and the columns it writes.")
    return p.add_subparsers(dest=name, required=True)


def describe(p: argparse.ArgumentParser, example: str, outputs: str) -> None:
    """Give a command's --help an example and a description of the columns it writes."""
    p.epilog = (f"example:\n  {example}\n\noutput (in --out; report.html too unless --no-report):\n"
                + "\n".join(f"  {line}" for line in outputs.strip().splitlines()))


SCORE_COLUMNS = """scores.parquet, one row per example, in the data set's order:
  score           the score (higher = more likely mislabelled or atypical)
  stderr          its standard error over repeats or networks (NaN where the method has none)
  label           the label as given to the score (the flipped one where --noise flipped it)
  row_id          the row's identity in the source (file row, index, image path)
  original_label, flipped   with --noise: the label before flipping, and whether it was flipped
  (method-specific columns follow: e.g. CG's partial terms and flag_mislabel, the sign rule)
scores.parquet.json and summary.json: settings, seed, timings, noise-detection metrics"""


def cli_words(message: str, flags: Collection[str] = ()) -> str:
    """Rewrite a library message for the command line: ``the 'ratio' parameter`` → ``--ratio``.

    A parameter is named by its flag in :data:`FLAGS`, or else by the flag of the same name
    (``size_ridge`` → ``--size-ridge``) when ``flags``, the command line's flags, hold it.

    Examples
    --------
    >>> cli_words("The 'ratio' parameter must be positive. Use method='stochastic' or n=None.")
    '--ratio must be positive. Use --method stochastic or no --n.'
    >>> cli_words("The 'size_ridge' parameter must be in the range [0, inf).", flags={"--size-ridge"})
    '--size-ridge must be in the range [0, inf).'
    >>> cli_words("y has 1 class(es) but at least 2 are required. Pass n=60 or fewer.")
    'the label column has 1 class(es) but at least 2 are required. Pass --n 60 or fewer.'
    """
    def flag_of(name: str) -> str | None:
        same = "--" + name.replace("_", "-")
        return FLAGS.get(name) or (same if same in flags else None)

    message = re.sub(r"[Tt]he '(\w+)' parameter", lambda m: flag_of(m.group(1)) or m.group(0), message)
    # The library's bare X and y are, on the command line, the --data feature matrix and label column.
    message = re.sub(r"(?<![\w'.=-])(X|y)(?= (?:has|holds|contains|must|could|mixes) )",
                     lambda m: "the feature matrix" if m.group(1) == "X" else "the label column", message)
    message = re.sub(r"\bX_val\b", "the validation inputs", message)

    def flag(m: re.Match) -> str:
        name, value = flag_of(m.group(1)), m.group(2).strip("'")
        if name is None:
            return m.group(0)
        if value in ("None", "True"):  # an option left out, a switch given
            return f"no {name}" if value == "None" else name
        return f"{name} {value}"

    return re.sub(r"\b(\w+)=('[^']*'|[\w+-]+(?:\.[\w+-]+)*)", flag, message)


def option_strings(parser: argparse.ArgumentParser) -> set[str]:
    """Every flag of ``parser`` and of its sub-commands."""
    out = set()
    for action in parser._actions:
        out.update(action.option_strings)
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                out |= option_strings(sub)
    return out


def finite_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def add_nu_options(p: argparse.ArgumentParser) -> None:
    """DAVINZ's ν: a named preset (--nu) and the three options it sets, each overridable."""
    g = p.add_argument_group("which ν (DAVINZ)")
    g.add_argument("--nu", choices=NU_PRESETS, default=DEFAULT_NU,
                   help="recommended (default): --outputs mean --size-ridge 3e-4 --mmd-estimator thresholded, chosen "
                        "by the ground-truth study (it sees label noise and size); paper: "
                        "--outputs own --size-ridge 0 --mmd-estimator biased, the paper's ν")
    g.add_argument("--outputs", choices=["own", "all", "mean"], default=None,
                   help="override --nu: own: the NTK of the own-class output (the paper's); all: one NTK per class "
                        "output with one-hot residuals (sees label noise); mean: one kernel, the NTK averaged over "
                        "the class outputs, with every class's one-hot residual (sees label noise, 1/C the memory)")
    g.add_argument("--size-ridge", type=finite_float, default=None,
                   help="override --nu: ridge ρ·d·m_S on each coalition's NTK (d: mean diagonal of Θ₀); 0: none, "
                        "as in the paper. With a ridge each coalition is factorised on its own (slower)")
    g.add_argument("--mmd-estimator", choices=MMD_ESTIMATORS, default=None,
                   help="override --nu: biased: the paper's MMD; unbiased; thresholded: 0 unless the inputs' shift "
                        "is significant, so the MMD's sampling noise does not blur the NTK term")


def nu_from_args(args: argparse.Namespace):
    """The :class:`~trainfree.valuation.NuOptions` of the flags that :func:`add_nu_options` added."""
    from ..valuation.davinz_options import NuOptions

    return NuOptions(args.nu, outputs=args.outputs, size_ridge=args.size_ridge, mmd_estimator=args.mmd_estimator)


def add_common(p: argparse.ArgumentParser, *, data: str, noise_help: str | None) -> None:
    """The flags every command has: data, subsample, noise (unless ``noise_help`` is None), seed, device, output."""
    g = p.add_argument_group("common")
    g.add_argument("--data", default=data, help="fmnist, digits, mnist1d, or a path: .npz, .csv, .parquet, an "
                                                 "image folder with one sub-folder per class, or a folder written "
                                                 "by Hugging Face's Dataset.save_to_disk")
    g.add_argument("--label-column", default="label", help="label column of a .csv/.parquet file, or label field "
                                                           "of a save_to_disk folder")
    g.add_argument("--id-column", default=None, metavar="NAME",
                   help="tables only: a column of unique row ids, written as row_id and kept out of the features "
                        "(default: the row number)")
    g.add_argument("--ignore-columns", type=column_names, default=None, metavar="A,B",
                   help="tables only: comma-separated columns to drop before anything else (default: none)")
    g.add_argument("--standardize", action=argparse.BooleanOptionalAction, default=True,
                   help="tables only: scale each feature column to mean 0, standard deviation 1 (constant "
                        "columns become 0), so no column dominates by its units")
    g.add_argument("--image-size", type=int, nargs=2, metavar=("H", "W"), default=None,
                   help="image folder: resize every image to H x W pixels (default: the folder's most common size; "
                        "images of that size keep their pixels)")
    g.add_argument("--features-model", metavar="FILE", default=None,
                   help="score the embeddings of this local network file instead of the inputs: torch.export's "
                        ".pt2 (torch.export.save) or TorchScript .pt (torch.jit.save)")
    g.add_argument("--n", type=int, default=None, help="class-balanced random subsample of this many rows")
    if noise_help is not None:
        g.add_argument("--noise", type=finite_float, default=None, help=noise_help)
    g.add_argument("--seed", type=int, default=0, help="root seed; every random step draws from its own child")
    g.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    g.add_argument("--out", required=True, help="output folder (created; refused if it holds another run's results)")
    g.add_argument("--overwrite", action="store_true", help="replace the results of a different run in --out")
    g.add_argument("--quiet", action="store_true", help="print only the paths written")
    add_output_flags(g)


# Whether commands write report.html unless told (--report/--no-report); the test suite turns it off.
REPORT_DEFAULT = True


def add_output_flags(g, *, report: bool = True) -> None:
    """--report/--no-report, --format (commands that write results) and --debug, shared by every command."""
    if report:
        g.add_argument("--report", action=argparse.BooleanOptionalAction, default=REPORT_DEFAULT,
                       help="write <out>/report.html: one self-contained page with plots, example galleries and a "
                            "sortable table")
        g.add_argument("--format", choices=["parquet", "csv", "both"], default="parquet",
                       help="file format of the results: parquet, csv (for spreadsheets: no index column, UTF-8), "
                            "or both; each with its .json sidecar")
    g.add_argument("--debug", action="store_true", help="on an error, print the full traceback")


def load_data(args: argparse.Namespace):
    from .._progress import step
    from ..data import load

    with step(f"loading {args.data}"), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        data = load(args.data, n=args.n, label_column=args.label_column, id_column=args.id_column,
                    ignore_columns=args.ignore_columns or (), standardize=args.standardize, random_state=args.seed,
                    image_size=None if args.image_size is None else tuple(args.image_size))
    for w in caught:  # the loader's advice in flags: ignore_columns='city' -> --ignore-columns city
        warnings.warn(cli_words(str(w.message)), w.category, stacklevel=2)
    if args.features_model is not None:
        from ..data.torch_inputs import embed_with_file

        data = embed_with_file(data, args.features_model, device=args.device)
        say(args, f"features: {data.X.shape[1]} per row from --features-model {args.features_model}")
    return data


def column_names(text: str) -> list[str]:
    """``--ignore-columns a,b`` → ``["a", "b"]``."""
    names = [name.strip() for name in text.split(",")]
    if not all(names):
        raise argparse.ArgumentTypeError(f"expected comma-separated column names, got {text!r}")
    return names


def refuse_input_flags(args: argparse.Namespace, command: str, why: str = "splits --data itself") -> None:
    """--image-size and --features-model act on --data as :func:`load_data` loads it; ``command`` reads it otherwise."""
    for flag, value in (("--image-size", args.image_size), ("--features-model", args.features_model)):
        if value is not None:
            raise TrainfreeError(f"{flag} is not available for {command}, which {why}; resize or embed the data "
                                 f"first and pass the result as --data.")


def resolved_model(args: argparse.Namespace, image_shape: tuple[int, ...] | None, *, used: bool = True) -> str:
    """``--model`` for the loaded data: ``auto`` becomes cnn or mlp, said in one line (when ``used``) unless --quiet."""
    from ..training.models import MIN_CNN_SIDE, resolve_model

    model = resolve_model(args.model, image_shape)
    if args.model == "auto" and used:
        if image_shape is None or len(image_shape) != 3:
            why = "rows of flat features"
        else:
            why = f"images of {image_shape[1]}x{image_shape[2]} px"
            why += "" if model == "cnn" else f", under the cnn's {MIN_CNN_SIDE} px"
        say(args, f"model: {model} (--model auto: {why}; pass --model to choose)")
    return model
