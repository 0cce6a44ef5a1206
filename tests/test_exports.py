"""The top-level namespace: a sorted ``__all__`` of names that resolve, every score among them, imported lazily."""

import importlib
import inspect
import os
import subprocess
import sys

import pytest

import trainfree
import trainfree.result
import trainfree.scores

ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([os.path.abspath("src"), os.environ.get("PYTHONPATH", "")])}


def test_all_is_sorted_and_every_name_resolves_to_the_defining_objects():
    assert trainfree.__all__ == sorted(trainfree.__all__) and len(set(trainfree.__all__)) == len(trainfree.__all__)
    for name in trainfree.__all__:
        member = getattr(trainfree, name)
        assert member.__name__ == name and member.__module__.startswith("trainfree.")
        assert member is getattr(importlib.import_module(member.__module__), name)
    assert {n for n in dir(trainfree) if not n.startswith("_")} >= set(trainfree.__all__)


def test_every_public_score_and_result_type_is_exported():
    assert set(trainfree.scores.__all__) <= set(trainfree.__all__)
    scores = {n for n, f in inspect.getmembers(trainfree.scores, inspect.isfunction) if n.endswith("_score")}
    assert {"cg_score", "mislabel_score", "grand_score", "el2n_score", "forgetting_score", "cg_prime_score",
            "cg_features_score"} <= scores <= set(trainfree.__all__)
    results = {n for n in dir(trainfree.result) if isinstance(getattr(trainfree.result, n), type)
               and issubclass(getattr(trainfree.result, n), trainfree.result.Result)}
    assert {"Result", "ExampleResult", "PlayerResult"} <= results <= set(trainfree.__all__)
    assert issubclass(trainfree.CGResult, trainfree.ExampleResult)
    assert issubclass(trainfree.MislabelResult, trainfree.ExampleResult)


def test_unknown_names_raise_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'cg_scores'"):
        trainfree.cg_scores  # noqa: B018


def test_import_trainfree_is_lazy_and_names_import_on_first_use():
    script = ("import sys, trainfree\n"
              "print('torch' in sys.modules, 'trainfree.scores' in sys.modules)\n"
              "from trainfree import mislabel_score, TrainfreeError\n"
              "print('torch' in sys.modules, mislabel_score is trainfree.scores.mislabel_score, "
              "trainfree.data.load.__module__.startswith('trainfree.data'))\n")
    run = subprocess.run([sys.executable, "-c", script], env=ENV, capture_output=True, text=True, check=True)
    assert run.stdout.splitlines() == ["False False", "True True True"]
