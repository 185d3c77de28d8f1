"""Paths to the shared test photos for the camera tests."""
from __future__ import annotations

from pathlib import Path

import pytest

FACES = Path(__file__).resolve().parents[2] / ".." / "shared" / "testdata" / "faces"


@pytest.fixture(scope="session")
def faces_dir() -> Path:
    assert FACES.is_dir(), f"test photos missing at {FACES}"
    return FACES.resolve()
