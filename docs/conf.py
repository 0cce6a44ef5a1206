"""Sphinx configuration of the trainfree documentation site (``make docs``; warnings are errors).

Sphinx + numpydoc + sphinx-gallery, the scikit-learn stack: the docstrings are numpydoc already, and
sphinx-gallery executes ``examples/*.py`` at build time and embeds their figures. Pages are MyST Markdown.
"""

from __future__ import annotations

import importlib
import inspect
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
os.environ.setdefault("MPLBACKEND", "Agg")

project = "trainfree"
author = "the trainfree developers"
copyright = "2026, the trainfree developers"
from sphinx_gallery.sorting import FunctionSortKey  # noqa: E402

from trainfree import __version__ as release  # noqa: E402

version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.intersphinx",
    "numpydoc",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "auto_examples/*.ipynb", "auto_examples/*.py", "auto_examples/*.zip",
                    "auto_examples/*.json", "auto_examples/*.md5", "auto_examples/*.codeobj.json"]
myst_enable_extensions = ["colon_fence", "dollarmath", "deflist"]
myst_heading_anchors = 3

# -- API reference, generated from every public package's ``__all__`` -----------------------------
#: The public packages, in the order of the flow; the reference has one page per package listing every
#: name of its ``__all__``. A name re-exported from another package of this list (``trainfree.cg_score`` is
#: ``trainfree.scores.cg_score``) is documented once, in the deepest package, and linked from the others.
API_PACKAGES = ("trainfree", "trainfree.data", "trainfree.kernels", "trainfree.scores", "trainfree.valuation",
                "trainfree.semivalues", "trainfree.training", "trainfree.metrics", "trainfree.experiments",
                "trainfree.report")
API_DIR = Path(__file__).resolve().parent / "api"  # written at build time, ignored by git


def public_names(package: str) -> list[str]:
    """The public names of ``package``: its ``__all__``, or, lacking one, the functions and classes defined in it."""
    module = importlib.import_module(package)
    if hasattr(module, "__all__"):
        return list(module.__all__)
    return sorted(name for name, obj in vars(module).items()
                  if not name.startswith("_") and (inspect.isfunction(obj) or inspect.isclass(obj))
                  and getattr(obj, "__module__", "").startswith(package))


def home_package(package: str, name: str, packages=API_PACKAGES) -> str:
    """The package whose page documents ``package.name``: the deepest one of ``packages`` exporting that object."""
    obj = getattr(importlib.import_module(package), name)
    homes = [p for p in packages if name in public_names(p)
             and getattr(importlib.import_module(p), name) is obj]
    return max(homes, key=lambda p: (p.count("."), p == package))


def api_pages(packages=API_PACKAGES) -> dict[str, str]:
    """reStructuredText of each package's reference page (file stem -> text) and of their index (``index``).

    Names a package documents get ``autosummary`` stubs (one page each); names re-exported from a deeper
    package are listed with a link to that package's entry.
    """
    pages = {"index": "API reference\n=============\n\nEvery public name of every package, generated from its "
                      "docstring.\n\n.. toctree::\n   :maxdepth: 1\n\n" + "".join(f"   {p}\n" for p in packages)}
    for package in packages:
        text = [f"``{package}``", "=" * (len(package) + 4), "", f".. automodule:: {package}", "   :no-members:",
                "   :no-index:", "", f".. currentmodule:: {package}", ""]
        own, linked = [], []
        for name in public_names(package):
            home = home_package(package, name, packages)
            (own if home == package else linked).append(name if home == package else f"~{home}.{name}")
        if own:
            text += [".. autosummary::", "   :toctree: generated", "   :nosignatures:", "", *(f"   {n}" for n in own), ""]
        if linked:
            text += ["Also importable from here, documented where they live:", "", ".. currentmodule:: None", "",
                     ".. autosummary::", "   :nosignatures:", "", *(f"   {n}" for n in linked), ""]
        pages[package] = "\n".join(text)
    return pages


def write_api_pages() -> None:
    """Write :func:`api_pages` into ``docs/api`` (ignored by git), rewriting only the files that changed.

    Pages and autosummary stubs of names no longer public are deleted, so a rename leaves no orphan page.
    """
    pages = api_pages()
    stubs = {f"{p}.{n}.rst" for p in API_PACKAGES for n in public_names(p) if home_package(p, n) == p}
    (API_DIR / "generated").mkdir(parents=True, exist_ok=True)
    for stale in [*(f for f in API_DIR.glob("*.rst") if f.stem not in pages),
                  *(f for f in (API_DIR / "generated").glob("*.rst") if f.name not in stubs)]:
        stale.unlink()
    for stem, text in pages.items():
        path = API_DIR / f"{stem}.rst"
        if not path.exists() or path.read_text() != text:
            path.write_text(text)


def remove_stale_examples() -> None:
    """Delete what sphinx-gallery made of examples that no longer exist (it keeps it, and -W then fails)."""
    gallery = Path(__file__).resolve().parent / "auto_examples"
    for path in gallery.rglob("*plot_*"):
        stem = "plot_" + path.name.split("plot_", 1)[1].split(".")[0]
        if path.is_file() and not any((ROOT / "examples" / f"{s}.py").exists() for s in _prefixes(stem)):
            path.unlink()


def _prefixes(stem: str) -> list[str]:
    """``plot_a_b_001`` may be the image of ``plot_a_b`` or ``plot_a``: every candidate example stem."""
    parts = stem.split("_")
    return ["_".join(parts[:k]) for k in range(2, len(parts) + 1)]


if "tags" in globals():  # run by Sphinx (which passes ``tags``), not imported by tests/test_docs.py
    write_api_pages()
    remove_stale_examples()


autosummary_generate = True
templates_path = ["_templates"]
autodoc_default_options = {"members": True, "inherited-members": False}
autodoc_typehints = "none"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False

intersphinx_mapping = {}

#: The gallery in reading order: the tasks of the guides, in their order.
EXAMPLES = ["plot_clean_table.py", "plot_clean_images.py", "plot_clean_embeddings.py", "plot_value_contributors.py",
            "plot_cg_prune.py"]
sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "download_all_examples": False,
    "remove_config_comments": True,
    "within_subsection_order": FunctionSortKey(EXAMPLES.index, "EXAMPLES.index"),
    "write_computation_times": False,  # no sg_execution_times.rst written into the source tree
}

html_theme = "pydata_sphinx_theme"
html_title = "trainfree"
html_static_path = []
html_theme_options = {"navigation_depth": 2, "show_toc_level": 2}
