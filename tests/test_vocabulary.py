"""One vocabulary: a shared parameter name means one thing and has one default, in the library and the CLI.

The page docs/vocabulary.md is the table these tests hold the code to. A default that differs on
purpose is listed in DELIBERATE with its reason; an entry there that no longer differs fails too,
so the list cannot go stale.
"""

import inspect

import pytest

from trainfree._defaults import CHUNK_SIZE, HARD_CUT, N_CHUNK_REPEATS, N_STRATA
from trainfree.cli import build_parser
from trainfree.cli._common import FLAGS
from trainfree.data import (
    domain_shift,
    embed,
    from_huggingface,
    from_torch,
    from_frame,
    inject_label_noise,
    load,
    load_digits_dataset,
    load_file,
    load_fashion_mnist,
    load_mnist1d,
    make_ising,
    split_contributors,
)
from trainfree.experiments import (
    cleaning_gain,
    compare_noise_detection,
    error_barrier,
    group_dynamics,
    pruning_curve,
    score_dataset,
    window_curve,
)
from trainfree.experiments.noise import SCORES, score_options
from trainfree.experiments.pruning import pruning_scores, pruning_splits
from trainfree.kernels import median_bandwidth, random_conv_features
from trainfree.scores import (
    cg_features_score,
    cg_prime_score,
    cg_score,
    el2n_score,
    forgetting_score,
    grand_score,
    mislabel_score,
)
from trainfree.training import make_model, train
from trainfree.valuation.baselines import ValidationPerformance

SCORE_FUNCTIONS = [cg_score, mislabel_score, cg_prime_score, cg_features_score, grand_score, el2n_score,
                   forgetting_score]
WORKFLOWS = [score_dataset, compare_noise_detection, cleaning_gain, pruning_curve, pruning_scores, pruning_splits,
             window_curve, group_dynamics, error_barrier, score_options]
HELPERS = [train, make_model, random_conv_features, median_bandwidth, ValidationPerformance, load, load_fashion_mnist,
           load_digits_dataset, load_mnist1d, make_ising, inject_label_noise, split_contributors, domain_shift,
           embed, from_torch, from_huggingface, load_file, from_frame]
FUNCTIONS = SCORE_FUNCTIONS + WORKFLOWS + HELPERS

# The one default of each shared name (docs/vocabulary.md).
CANONICAL = {
    "random_state": None,  # fresh entropy, recorded in the result
    "device": "cpu",
    "n_jobs": None,
    "checkpoint": None,
    "progress": False,
    "max_memory_bytes": None,  # 80% of what is available
    "chunk_size": CHUNK_SIZE,
    "n_chunk_repeats": N_CHUNK_REPEATS,
    "preprocess": "center",
    "lr": 1e-3,
    "batch_size": 128,  # training mini-batch
    "model": "auto",  # the CNN for images with sides >= 16 px, else the MLP
    "n_seeds": 3,
    "n_runs": 2,
    "width": 256,
    "dtype": None,  # the method's own choice, said in its docstring
    "noise_mode": "symmetric",
    "label_column": "label",  # tables; from_frame has no default: a DataFrame's label column must be named
    "id_column": None,  # the row number (or a table's own index)
    "ignore_columns": (),
    "standardize": True,  # tables only
    "sampling": "top",  # the plain cut; "ccs" is coverage-centric selection
    "hard_cut": HARD_CUT,
    "n_strata": N_STRATA,
}

# (function, parameter): why its default differs from CANONICAL. Keep each reason in docs/vocabulary.md too.
DELIBERATE = {
    ("mislabel_score", "preprocess"): "raw rows detect flipped labels slightly better than centred ones",
    ("cg_prime_score", "dtype"): "one precision only: no method whose memory would choose float32",
    ("cg_features_score", "dtype"): "the exact CG-score of the features, float64 as cg_score's exact method",
    ("grand_score", "dtype"): "per-example gradients of a float32 network",
    ("grand_score", "n_seeds"): "the Data Diet paper averages 10 initialisations",
    ("el2n_score", "n_seeds"): "the Data Diet paper averages 10 initialisations",
    ("forgetting_score", "n_seeds"): "each seed trains the full epochs: 5 keeps the cost of 10 GraNd seeds",
    ("cg_features_score", "n_seeds"): "one trained network, as the CG-score paper's appendix H",
    ("group_dynamics", "model"): "the CG-score paper's Fig. 4 trains an MLP on flat inputs",
    ("error_barrier", "model"): "linear mode connectivity on the same MLP as group_dynamics",
    ("error_barrier", "n_runs"): "each run trains a parent and two children: one by default",
    ("train", "epochs"): "an upper bound; the loss tolerance usually stops training first",
    ("random_conv_features", "batch_size"): "images per forward pass of a fixed network: memory only, no effect "
                                            "on the features; 256 keeps a batch in cache",
    ("ValidationPerformance", "epochs"): "an upper bound for DAVINZ's validation-performance baseline",
    ("embed", "batch_size"): "rows per forward pass of the user's network: memory only, no effect on the features",
    ("from_torch", "batch_size"): "rows per forward pass of the user's network: memory only",
    ("from_huggingface", "batch_size"): "rows per forward pass of the user's network: memory only",
}

# Names that must not come back (old name -> the name that replaced it).
RETIRED = {"epoch": "epochs", "noise": "noise_rate", "rate": "noise_rate", "mode": "noise_mode"}
# Functions where a retired name still means something else on purpose: none today.
RETIRED_OK: set[tuple[str, str]] = set()


def _defaults(fn):
    return {name: p.default for name, p in inspect.signature(fn).parameters.items()
            if p.default is not inspect.Parameter.empty}


def test_shared_names_have_one_default_or_a_stated_reason():
    drift, used = [], set()
    for fn in FUNCTIONS:
        for name, default in _defaults(fn).items():
            if name not in CANONICAL or default == CANONICAL[name]:
                continue
            if (fn.__name__, name) in DELIBERATE:
                used.add((fn.__name__, name))
            else:
                drift.append(f"{fn.__name__}({name}={default!r}), canonical {CANONICAL[name]!r}")
    assert not drift, "defaults drifted from docs/vocabulary.md: " + "; ".join(drift)
    stale = {k for k in DELIBERATE if k[1] in CANONICAL} - used
    assert not stale, f"DELIBERATE lists differences that no longer exist: {sorted(stale)}"


def test_the_stated_epochs_differences_are_real():
    # epochs has no canonical default (each workflow trains as long as its method needs); the reasons above
    # name the two that are upper bounds rather than budgets, so check those two are still what they say.
    assert _defaults(train)["epochs"] == 100 and _defaults(train)["tol"] > 0
    assert _defaults(ValidationPerformance)["epochs"] == 50


def test_retired_names_are_gone():
    found = [f"{fn.__name__}({name})" for fn in FUNCTIONS for name in inspect.signature(fn).parameters
             if name in RETIRED and (fn.__name__, name) not in RETIRED_OK]
    assert not found, f"retired parameter names in use: {found} (see RETIRED for the new ones)"


def test_repeats_mean_subsamples_and_chunk_repeats_mean_partitions():
    # n_repeats: independent stochastic subsamples (only cg_score has them); n_chunk_repeats: random partitions
    # into chunks (cg_score's and mislabel_score's chunked methods).
    with_repeats = [fn.__name__ for fn in SCORE_FUNCTIONS if "n_repeats" in inspect.signature(fn).parameters]
    with_chunks = [fn.__name__ for fn in SCORE_FUNCTIONS if "n_chunk_repeats" in inspect.signature(fn).parameters]
    assert with_repeats == ["cg_score"]
    assert with_chunks == ["cg_score", "mislabel_score"]
    assert all("chunk_size" in inspect.signature(fn).parameters for fn in (cg_score, mislabel_score))


@pytest.mark.parametrize("fn", SCORE_FUNCTIONS, ids=lambda f: f.__name__)
def test_every_score_takes_X_y_then_keyword_only_options(fn):
    params = list(inspect.signature(fn).parameters.values())
    assert [p.name for p in params[:2]] == ["X", "y"]
    assert all(p.kind is p.POSITIONAL_OR_KEYWORD and p.default is p.empty for p in params[:2])
    late = [p.name for p in params[2:] if p.kind is not p.KEYWORD_ONLY]
    assert not late, f"{fn.__name__}: options {late} are not keyword-only"


# Positional parameters with a default that are data, not options (what is scored or compared).
POSITIONAL_DATA = {("compare_noise_detection", "names"), ("window_curve", "names"), ("error_barrier", "subset_indices")}


@pytest.mark.parametrize("fn", WORKFLOWS + HELPERS, ids=lambda f: f.__name__)
def test_every_option_of_the_workflows_and_helpers_is_keyword_only(fn):
    loose = [p.name for p in inspect.signature(fn).parameters.values()
             if p.kind is p.POSITIONAL_OR_KEYWORD and p.default is not p.empty
             and (fn.__name__, p.name) not in POSITIONAL_DATA]
    assert not loose, f"{fn.__name__}: options {loose} can be passed by position; make them keyword-only"


def _sub_parsers(command):
    root = build_parser()
    sub = next(a for a in root._subparsers._group_actions[0].choices[command]._actions
               if getattr(a, "choices", None) and isinstance(a.choices, dict))
    return sub.choices


# CLI flags whose default differs from the library's on purpose.
CLI_DELIBERATE = {
    "--seed",  # the CLI runs are reproducible by default (0), the library draws fresh entropy (None)
    "--noise",  # the CLI flips nothing unless told; the score functions have no noise parameter
    "--checkpoint",  # None on both sides, but the CLI then uses <out>/units
}


COMMANDS = [(("score", name), fn) for name, fn in sorted(SCORES.items())] + [
    (("experiment", "dynamics"), group_dynamics), (("experiment", "prune"), pruning_curve),
    (("experiment", "clean"), cleaning_gain)]


@pytest.mark.parametrize("command, fn", COMMANDS, ids=lambda c: " ".join(c) if isinstance(c, tuple) else "")
def test_commands_default_to_the_library_defaults(command, fn):
    parser = _sub_parsers(command[0])[command[1]]
    library = _defaults(fn)
    by_flag: dict[str, list[str]] = {}
    for param, flag in FLAGS.items():
        by_flag.setdefault(flag, []).append(param)
    compared = []
    for action in parser._actions:
        for option in action.option_strings:
            if option in CLI_DELIBERATE:
                continue
            for param in by_flag.get(option, []):
                if param in library:
                    cli = action.default
                    if isinstance(cli, str) and isinstance(library[param], tuple):  # a comma-separated list
                        cli = tuple(type(library[param][0])(v) for v in cli.split(","))
                    assert cli == library[param], (
                        f"{' '.join(command)} {option} defaults to {action.default!r}, {fn.__name__}({param}) "
                        f"to {library[param]!r}")
                    compared.append(option)
    assert "--device" in compared  # the map reached the parser: this test can fail
    if command == ("experiment", "prune"):
        assert {"--fractions", "--sampling", "--hard-cut", "--strata", "--runs"} <= set(compared)
