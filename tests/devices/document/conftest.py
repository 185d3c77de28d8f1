"""Shared helpers for the document-camera tests: cached emulator frames and a marker angle."""
from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np
import pytest

from devices.document.emulator import synth_frame


@lru_cache(maxsize=64)
def _frame_bytes(scenario: str, seed: int, overrides: tuple) -> bytes:
    frame = synth_frame(scenario, seed=seed, **dict(overrides))
    return cv2.imencode(".png", frame)[1].tobytes()


def emulated_frame(scenario: str, seed: int, **overrides) -> np.ndarray:
    """An emulator frame, cached across tests (rendering costs ~0.3 s)."""
    data = _frame_bytes(scenario, seed, tuple(sorted(overrides.items())))
    return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)


def decode(jpeg: bytes) -> np.ndarray:
    return cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)


def marker_angle(page: np.ndarray) -> float:
    """Angle (deg) of the thick black rule the emulator draws under the title.

    The rule is the widest dark connected component in the top fifth of the page; a line is
    fitted through its pixels. 0 = level; the sign follows image coordinates (y down).
    """
    h, w = page.shape[:2]
    top = cv2.cvtColor(page[: h // 5], cv2.COLOR_BGR2GRAY)
    ink = (top < 90).astype(np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
    if n < 2:
        raise AssertionError("no dark marker found")
    best = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_WIDTH]))
    if stats[best, cv2.CC_STAT_WIDTH] < 0.5 * w:
        raise AssertionError("the level marker was not found across the page")
    ys, xs = np.nonzero(labels == best)
    vx, vy, _, _ = cv2.fitLine(np.column_stack([xs, ys]).astype(np.float32),
                               cv2.DIST_L2, 0, 0.01, 0.01).ravel()
    if vx < 0:
        vx, vy = -vx, -vy
    return float(np.degrees(np.arctan2(vy, vx)))


# Test folders are imported in importlib mode (no sys.path entry), so helpers come as fixtures.
@pytest.fixture(scope="session")
def frames():
    """`frames(scenario, seed, **overrides)` -> a cached emulator frame."""
    return emulated_frame


@pytest.fixture(scope="session")
def level():
    """`level(page)` -> the angle of the emulator's title rule in a BGR page, in degrees."""
    return marker_angle


@pytest.fixture(scope="session")
def jpeg_decode():
    return decode
