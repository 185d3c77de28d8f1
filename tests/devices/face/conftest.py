"""Shared, session-cached face data: dlib is slow on two cores, so encode each photo once."""
from __future__ import annotations

from pathlib import Path

import cv2
import pytest

from devices.assets import FACES_DIR

PEOPLE = ("obama", "biden", "harington", "leslie")


@pytest.fixture(scope="session")
def faces_dir() -> Path:
    assert FACES_DIR.is_dir(), f"test photos missing at {FACES_DIR}"
    return FACES_DIR


@pytest.fixture(scope="session")
def photo(faces_dir):
    cache = {}

    def load(name: str):
        if name not in cache:
            cache[name] = cv2.imread(str(faces_dir / f"{name}.jpg"))
            assert cache[name] is not None, name
        return cache[name]
    return load


@pytest.fixture(scope="session")
def card_photo(photo):
    """Card-sized (102x126) crops around the face, as a card reader would deliver them."""
    from devices.face.calibrate import card_photo_of
    cache = {}

    def card(name: str):
        if name not in cache:
            cache[name] = card_photo_of(photo(name))
            assert cache[name].shape == (126, 102, 3)
        return cache[name]
    return card


@pytest.fixture(scope="session")
def calibration(faces_dir):
    from devices.face.calibrate import calibration_pairs
    return calibration_pairs(faces_dir)


@pytest.fixture
def emulator_url(faces_dir):
    def url(**opts) -> str:
        query = "&".join(f"{k}={v}" for k, v in opts.items())
        return f"camera+emulator://face?faces_dir={faces_dir}&{query}"
    return url
