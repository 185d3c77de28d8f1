"""Paths to the face photos (assets/faces) and the test-only video clip (tests/data/faces)."""
from __future__ import annotations

from pathlib import Path

import pytest

from devices.assets import FACES_DIR

CLIP = Path(__file__).resolve().parents[2] / "data" / "faces" / "hamilton_clip.mp4"


@pytest.fixture(scope="session")
def faces_dir() -> Path:
    assert FACES_DIR.is_dir(), f"test photos missing at {FACES_DIR}"
    return FACES_DIR


@pytest.fixture(scope="session")
def video_clip() -> Path:
    """9 s, 640x360, dim stage lighting, several faces (see tests/data/faces/README.md)."""
    assert CLIP.is_file(), f"test clip missing at {CLIP}"
    return CLIP
