"""Sphinx configuration of the trainfree documentation site (``make docs``; warnings are errors).

Sphinx + numpydoc + sphinx-gallery, the scikit-learn stack: the docstrings are numpydoc already, and
sphinx-gallery executes ``examples/*.py`` at build time and embeds their figures. Pages are MyST Markdown.
The API reference pages are generated from the packages' ``__all__`` (``sitegen.py``).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(Path(__file__).resolve().parent)]
os.environ.setdefault("MPLBACKEND", "Agg")

from sitegen import EXAMPLES, remove_stale_gallery, write_api_pages  # noqa: E402
from sphinx_gallery.sorting import FunctionSortKey  # noqa: E402

from trainfree import __version__ as release  # noqa: E402

project = "trainfree"
author = "the trainfree developers"
copyright = "2026, the trainfree developers"
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

write_api_pages()  # docs/api/*.rst from every public package's __all__; autosummary writes the stubs
remove_stale_gallery()
autosummary_generate = True
templates_path = ["_templates"]
autodoc_default_options = {"members": True, "inherited-members": False}
autodoc_typehints = "none"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False

intersphinx_mapping = {}

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
