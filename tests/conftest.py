import numpy as np
import pytest


@pytest.fixture
def rng():
    """A fixed seed by default; the suite must not depend on a lucky draw."""
    return np.random.default_rng(0)


@pytest.fixture(autouse=True)
def _no_html_report_unless_asked(monkeypatch):
    """CLI runs in tests write report.html only when a test passes --report: drawing plots costs seconds."""
    from trainfree.cli import _common

    monkeypatch.setattr(_common, "REPORT_DEFAULT", False)
