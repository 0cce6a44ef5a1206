"""The documentation site's sources: the API reference covers every public name, guides link executed examples.

Fast checks without Sphinx (``make docs`` builds the site with warnings as errors); the guides' code
blocks run as written in a slow test (``pytest -m slow tests/test_docs.py``).
"""

from __future__ import annotations

import importlib
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "docs"))
import sitegen  # noqa: E402

GUIDES = sorted(p for p in (ROOT / "docs" / "guides").glob("*.md") if p.name != "index.md")
EXAMPLE_REF = re.compile(r"sphx_glr_auto_examples_(\w+)\.py")
CODE_BLOCK = re.compile(r"^```(bash|python)\n(.*?)^```$", re.S | re.M)


def test_api_pages_list_every_public_name():
    pages = sitegen.api_pages()
    assert set(pages) == {"index", *sitegen.API_PACKAGES}
    for package in sitegen.API_PACKAGES:
        listed = set(re.findall(r"^   ~?([\w.]+)$", pages[package], re.M))
        module = importlib.import_module(package)
        for name in sitegen.public_names(package):
            home = sitegen.home_package(package, name)
            assert (name if home == package else f"{home}.{name}") in listed, (package, name)
            assert getattr(importlib.import_module(home), name) is getattr(module, name)
        assert f"   {package}\n" in pages["index"]


def test_public_names_are_the_package_all():
    assert sitegen.public_names("trainfree.scores") == importlib.import_module("trainfree.scores").__all__
    assert "mislabel_score" in sitegen.public_names("trainfree")


def test_a_reexport_is_documented_once_where_it_lives():
    assert sitegen.home_package("trainfree", "mislabel_score") == "trainfree.scores"
    assert sitegen.home_package("trainfree.scores", "mislabel_score") == "trainfree.scores"
    assert sitegen.home_package("trainfree", "TrainfreeError") == "trainfree"
    top = sitegen.api_pages()["trainfree"]
    assert "   ~trainfree.scores.mislabel_score\n" in top and "   mislabel_score\n" not in top


def test_the_gallery_order_lists_every_example():
    assert sorted(sitegen.EXAMPLES) == sorted(p.name for p in (ROOT / "examples").glob("plot_*.py"))


@pytest.mark.parametrize("guide", GUIDES, ids=lambda p: p.stem)
def test_every_guide_links_an_existing_example(guide):
    linked = EXAMPLE_REF.findall(guide.read_text())
    assert linked, f"{guide.name} links no gallery example"
    for name in linked:
        assert (ROOT / "examples" / f"{name}.py").exists(), (guide.name, name)


def test_every_guide_is_in_the_guides_index():
    index = (ROOT / "docs" / "guides" / "index.md").read_text()
    assert all(re.search(rf"^{g.stem}$", index, re.M) for g in GUIDES)


@pytest.mark.slow
@pytest.mark.parametrize("guide", GUIDES, ids=lambda p: p.stem)
def test_guide_runs_as_written(guide, tmp_path):
    """Each bash and python block of the guide, in order, in one fresh folder: what a reader would do."""
    env = {**os.environ, "MPLBACKEND": "Agg",
           "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}
    for language, code in CODE_BLOCK.findall(guide.read_text()):
        command = ["bash", "-euo", "pipefail", "-c", code] if language == "bash" else [sys.executable, "-c", code]
        run = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
        assert run.returncode == 0, f"{guide.name}:\n{code}\n{run.stderr[-3000:]}"
