import numpy as np
import pytest


@pytest.fixture
def rng():
    """A fixed seed by default; the suite must not depend on a lucky draw."""
    return np.random.default_rng(0)
