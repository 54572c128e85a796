"""Fixtures shared by the test modules (helpers are in tests/helpers.py)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.helpers import synthetic_stereo


@pytest.fixture(scope="session")
def stereo() -> np.ndarray:
    return synthetic_stereo()
