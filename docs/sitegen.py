"""What the documentation site generates from the code at build time (``docs/conf.py`` calls it).

The API reference: one page per public package listing every name of its ``__all__``, so the reference
follows every move and rename. The gallery's order. Importable without Sphinx (``tests/test_docs.py``).
"""

from __future__ import annotations

import importlib
import inspect
import shutil
from pathlib import Path

DOCS = Path(__file__).resolve().parent
EXAMPLES_DIR = DOCS.parent / "examples"
GALLERY_DIR = DOCS / "auto_examples"  # written by sphinx-gallery, ignored by git
API_DIR = DOCS / "api"  # written at build time, ignored by git

#: The public packages, in the order of the flow; the reference has one page per package listing every
#: name of its ``__all__``. A name re-exported from another package of this list (``trainfree.cg_score`` is
#: ``trainfree.scores.cg_score``) is documented once, in the deepest package, and linked from the others.
API_PACKAGES = ("trainfree", "trainfree.data", "trainfree.kernels", "trainfree.scores", "trainfree.valuation",
                "trainfree.semivalues", "trainfree.training", "trainfree.metrics", "trainfree.experiments",
                "trainfree.report")
#: The gallery in reading order: the tasks of the guides, in their order.
EXAMPLES = ["plot_clean_table.py", "plot_clean_images.py", "plot_clean_embeddings.py", "plot_value_contributors.py",
            "plot_clean_then_train.py", "plot_cg_prune.py", "plot_scale.py"]


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


def remove_stale_gallery() -> None:
    """Delete the gallery output when an example it holds was removed (sphinx-gallery keeps its page, and -W fails)."""
    if any(not (EXAMPLES_DIR / copy.name).exists() for copy in GALLERY_DIR.glob("plot_*.py")):
        shutil.rmtree(GALLERY_DIR)
