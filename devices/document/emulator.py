"""Synthetic document-camera frames: a rendered material page lying on a desk.

The page is a realistic government form (`material_page.py`: Chinese title in Noto Sans CJK,
paragraphs, a table, a red round stamp and a thick black rule under the title that tests use
as a level marker), placed in perspective on a wood-grain desk in a 1280x960 (or any size) frame, with sensor noise
and uneven light. Scenarios add the faults the quality gates must catch:

  clean     the page flat, in frame, sharp          (accepted)
  rotated   the page turned 12-25 degrees on the desk (accepted, comes out upright)
  crooked   the text printed crooked on the paper   (accepted, residual deskew fixes it)
  blur      out of focus                             -> doc.blurred
  glare     a bright elliptical reflection           -> doc.glare
  cropped   part of the page outside the frame       -> doc.not_whole
  dark      lamp off                                 -> doc.too_dark
  small     the page far away / tiny                 -> doc.too_small
  nopage    an empty desk                            -> doc.no_page

Everything is deterministic given the seed. `EmulatedDocCamera` is a FrameSource that plays a
scenario sequence: for each scenario a few frames of the page sliding into place, then still
frames (only sensor noise changes), as a real hand placing a page would produce.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

from devices.document.material_page import render_page
from devices.frame_sources import FrameLoop
from devices.interfaces import DeviceUnavailable

log = logging.getLogger(__name__)

SCENARIOS = ("clean", "rotated", "crooked", "blur", "glare", "cropped", "dark", "small", "nopage")
EXPECTED_REASON = {"clean": None, "rotated": None, "crooked": None, "blur": "doc.blurred",
                   "glare": "doc.glare", "cropped": "doc.not_whole", "dark": "doc.too_dark",
                   "small": "doc.too_small", "nopage": "doc.no_page"}


@dataclass(frozen=True)
class SceneParams:
    """How one frame is staged. Angles in degrees; fractions of the frame size."""

    scenario: str = "clean"
    frame_size: tuple[int, int] = (1280, 960)   # width, height
    page_height_frac: float = 0.82              # page height / frame height
    rotation_deg: float = 0.0                   # the page turned on the desk
    content_skew_deg: float = 0.0               # the print crooked on the paper
    center_offset: tuple[float, float] = (0.0, 0.0)
    keystone: float = 0.02                      # corner jitter, fraction of page height
    blur_sigma: float = 0.0
    glare: bool = False
    darkness: float = 1.0                       # light multiplier
    landscape: bool = False
    show_page: bool = True
    noise_sigma: float = 2.5


def scene_for(scenario: str, seed: int, frame_size: tuple[int, int] = (1280, 960)) -> SceneParams:
    """The staged parameters of one scenario, drawn deterministically from `seed`."""
    if scenario not in SCENARIOS:
        raise ValueError(f"unknown document scenario {scenario!r}; known: {', '.join(SCENARIOS)}")
    rng = np.random.default_rng([seed, SCENARIOS.index(scenario)])
    sign = 1 if rng.random() < 0.5 else -1
    base = SceneParams(scenario=scenario, frame_size=frame_size,
                       page_height_frac=float(rng.uniform(0.74, 0.86)),
                       rotation_deg=float(rng.uniform(-4, 4)),
                       center_offset=(float(rng.uniform(-0.04, 0.04)), float(rng.uniform(-0.02, 0.02))),
                       keystone=float(rng.uniform(0.0, 0.03)))
    if scenario == "rotated":
        return replace(base, rotation_deg=sign * float(rng.uniform(12, 25)),
                       page_height_frac=base.page_height_frac * 0.85)
    if scenario == "crooked":
        return replace(base, content_skew_deg=sign * float(rng.uniform(2.0, 4.0)))
    if scenario == "blur":
        return replace(base, blur_sigma=float(rng.uniform(3.5, 5.0)))
    if scenario == "glare":
        return replace(base, glare=True)
    if scenario == "cropped":  # 12-30 % of the page beyond a side (or the top/bottom) edge
        fw, fh = frame_size
        ph = base.page_height_frac * fh
        out = float(rng.uniform(0.12, 0.3))
        if rng.random() < 0.6:
            dx = (fw / 2 + ph / math.sqrt(2) * (out - 0.5)) / fw
            return replace(base, center_offset=(sign * dx, base.center_offset[1]))
        dy = (fh / 2 + ph * (out - 0.5)) / fh
        return replace(base, center_offset=(base.center_offset[0], sign * dy))
    if scenario == "dark":
        return replace(base, darkness=float(rng.uniform(0.1, 0.2)))
    if scenario == "small":
        return replace(base, page_height_frac=float(rng.uniform(0.25, 0.33)))
    if scenario == "nopage":
        return replace(base, show_page=False)
    return base


# --------------------------------------------------------------------------------------------
# The desk and the frame
@lru_cache(maxsize=8)
def _desk_cached(seed: int, width: int, height: int) -> bytes:
    rng = np.random.default_rng([seed, 11])
    x = np.linspace(0, 1, width, dtype=np.float32)[None, :]
    yy = np.linspace(0, 1, height, dtype=np.float32)[:, None]
    wobble = np.sin(yy * rng.uniform(3, 6) * math.pi + x * 2.0) * 0.04
    grain = np.sin((x + wobble) * rng.uniform(70, 110) * math.pi) * 0.5 + 0.5
    fine = cv2.GaussianBlur(rng.normal(0, 1, (height, width)).astype(np.float32), (0, 0), 1.5,
                            sigmaY=8.0)
    tone = 0.75 + 0.15 * grain + 0.08 * fine
    base = np.array([45, 85, 135], np.float32) * rng.uniform(0.85, 1.1)  # BGR brown
    desk = np.clip(tone[..., None] * base[None, None, :], 0, 255).astype(np.uint8)
    return desk.tobytes()


def desk_background(seed: int, frame_size: tuple[int, int]) -> np.ndarray:
    w, h = frame_size
    return np.frombuffer(_desk_cached(seed, w, h), np.uint8).reshape(h, w, 3).copy()


def page_corners(params: SceneParams, page_shape: tuple[int, int],
                 rng: np.random.Generator) -> np.ndarray:
    """Where the page's four corners (TL, TR, BR, BL) land in the frame, float32 4x2."""
    fw, fh = params.frame_size
    ph, pw = page_shape
    scale = params.page_height_frac * fh / max(ph, pw if params.landscape else ph)
    hw, hh = pw * scale / 2, ph * scale / 2
    cx = fw / 2 + params.center_offset[0] * fw
    cy = fh / 2 + params.center_offset[1] * fh
    a = math.radians(params.rotation_deg)
    rot = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
    local = np.array([[-hw, -hh], [hw, -hh], [hw, hh], [-hw, hh]])
    jitter = rng.uniform(-1, 1, (4, 2)) * params.keystone * 2 * hh
    return (local @ rot.T + jitter + [cx, cy]).astype(np.float32)


def compose_frame(params: SceneParams, seed: int) -> tuple[np.ndarray, np.ndarray | None]:
    """A noiseless staged frame and the page corners in it (None for an empty desk)."""
    rng = np.random.default_rng([seed, 13, SCENARIOS.index(params.scenario)])
    fw, fh = params.frame_size
    frame = desk_background(seed % 5, params.frame_size).astype(np.float32)  # a few desks
    corners = None
    if params.show_page:
        page = render_page(seed, params.content_skew_deg, params.landscape)
        ph, pw = page.shape[:2]
        corners = page_corners(params, (ph, pw), rng)
        src = np.float32([[0, 0], [pw - 1, 0], [pw - 1, ph - 1], [0, ph - 1]])
        m = cv2.getPerspectiveTransform(src, corners)
        warped = cv2.warpPerspective(page, m, (fw, fh), flags=cv2.INTER_AREA)
        mask = cv2.warpPerspective(np.full((ph, pw), 255, np.uint8), m, (fw, fh),
                                   flags=cv2.INTER_LINEAR).astype(np.float32)[..., None] / 255
        # a soft contact shadow under the page
        shadow = cv2.GaussianBlur(mask[..., 0], (0, 0), 6)[..., None]
        frame *= 1 - 0.35 * shadow
        frame = frame * (1 - mask) + warped.astype(np.float32) * mask
    # uneven lamp light: brighter in the middle
    lx = ((np.arange(fw, dtype=np.float32) - fw * 0.45) / fw) ** 2
    ly = ((np.arange(fh, dtype=np.float32) - fh * 0.4) / fh) ** 2
    light = 1.0 - 0.24 * (ly[:, None] + lx[None, :])
    frame *= light[..., None] * params.darkness
    if params.glare and corners is not None:
        yy, xx = np.mgrid[0:fh, 0:fw].astype(np.float32)
        c = corners.mean(axis=0) + rng.uniform(-0.12, 0.12, 2) * [fw * 0.3, fh * 0.3]
        axes = (fw * rng.uniform(0.07, 0.1), fh * rng.uniform(0.06, 0.09))
        ang = math.radians(rng.uniform(0, 180))
        dx, dy = xx - c[0], yy - c[1]
        u = (dx * math.cos(ang) + dy * math.sin(ang)) / axes[0]
        v = (-dx * math.sin(ang) + dy * math.cos(ang)) / axes[1]
        hot = np.exp(-(u * u + v * v) ** 1.5)
        frame = frame + hot[..., None] * 180.0
    if params.blur_sigma:
        frame = cv2.GaussianBlur(frame, (0, 0), params.blur_sigma)
    return np.clip(frame, 0, 255).astype(np.uint8), corners


def sheet_on_desk(image: np.ndarray, seed: int, frame_size: tuple[int, int]) -> np.ndarray:
    """`image` (a receipt, a letter) lying flat and upright in the middle of the desk, as large
    as fits in 85% of the frame, under the same uneven lamp light as the pages."""
    fw, fh = frame_size
    frame = desk_background(seed % 5, frame_size).astype(np.float32)
    scale = min(fw * 0.85 / image.shape[1], fh * 0.85 / image.shape[0])
    sheet = cv2.resize(image, None, fx=scale, fy=scale,
                       interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    sh, sw = sheet.shape[:2]
    y, x = (fh - sh) // 2, (fw - sw) // 2
    frame[y:y + sh, x:x + sw] = sheet
    lx = ((np.arange(fw, dtype=np.float32) - fw * 0.45) / fw) ** 2
    ly = ((np.arange(fh, dtype=np.float32) - fh * 0.4) / fh) ** 2
    frame *= (1.0 - 0.24 * (ly[:, None] + lx[None, :]))[..., None]
    return np.clip(frame, 0, 255).astype(np.uint8)


@lru_cache(maxsize=4)
def _noise_bank(sigma: float, shape: tuple[int, ...]) -> np.ndarray:
    """One Gaussian noise field 32 px larger than a frame; frames take shifted crops of it."""
    h, w, c = shape
    return np.random.default_rng(23).normal(0, sigma, (h + 32, w + 32, c)).astype(np.int16)


def add_sensor_noise(frame: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Frame plus sensor noise; a different random crop of the noise bank for every call."""
    h, w = frame.shape[:2]
    bank = _noise_bank(float(sigma), (h, w, frame.shape[2] if frame.ndim == 3 else 1))
    dy, dx = (int(v) for v in rng.integers(0, 32, 2))
    noise = bank[dy:dy + h, dx:dx + w].reshape(frame.shape)
    return np.clip(frame.astype(np.int16) + noise, 0, 255).astype(np.uint8)


def synth_frame(scenario: str, seed: int = 0, frame_size: tuple[int, int] = (1280, 960),
                **overrides) -> np.ndarray:
    """One still frame of `scenario` (noise included), e.g. `synth_frame("glare", seed=3)`."""
    params = replace(scene_for(scenario, seed, frame_size), **overrides)
    frame, _ = compose_frame(params, seed)
    return add_sensor_noise(frame, params.noise_sigma, np.random.default_rng([seed, 17]))


# --------------------------------------------------------------------------------------------
# The camera
@dataclass
class EmulatedDocCamera(FrameLoop):
    """A FrameSource playing scenarios: each `motion_frames` moving, then `still_frames` still.

    After the last scenario the sequence repeats with the seed advanced (so frames differ).
    `unplug_after` frames (if set) makes `read` raise DeviceUnavailable("doc.camera_unplugged").
    """

    sequence: tuple[str, ...] = ("clean",)
    seed: int = 0
    frame_size: tuple[int, int] = (1280, 960)
    motion_frames: int = 2
    still_frames: int = 4
    unplug_after: int | None = None
    sheet: Path | None = None       # while this image file exists, it lies on the desk instead
    frames_served: int = field(default=0, init=False)
    _sheet_frame: tuple | None = field(default=None, init=False, repr=False)
    _closed: bool = field(default=False, init=False)
    _plan: Iterator[np.ndarray] | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        for name in self.sequence:
            scene_for(name, 0)  # validates the names now, not at the first read
        if not self.sequence:
            raise ValueError("an emulated document camera needs at least one scenario")

    def _frames_forever(self) -> Iterator[np.ndarray]:
        rnd = 0
        while True:
            for i, name in enumerate(self.sequence):
                seed = self.seed + 1000 * rnd + i
                params = scene_for(name, seed, self.frame_size)
                still, _ = compose_frame(params, seed)
                noise_rng = np.random.default_rng([seed, 19])
                for k in range(self.motion_frames):  # sliding in from the bottom
                    shift = int(self.frame_size[1] * 0.08 * (self.motion_frames - k))
                    moving = np.roll(still, shift, axis=0)
                    yield add_sensor_noise(moving, params.noise_sigma, noise_rng)
                for _ in range(self.still_frames):
                    yield add_sensor_noise(still, params.noise_sigma, noise_rng)
            rnd += 1

    def read(self) -> np.ndarray:
        if self._closed:
            raise DeviceUnavailable("emulated document camera is closed", "doc.camera_unplugged")
        if self.unplug_after is not None and self.frames_served >= self.unplug_after:
            raise DeviceUnavailable("emulated document camera unplugged", "doc.camera_unplugged")
        if self._plan is None:
            self._plan = self._frames_forever()
        self.frames_served += 1
        sheet = self._sheet_still()
        if sheet is not None:
            rng = np.random.default_rng([self.seed, self.frames_served])
            return add_sensor_noise(sheet, 2.0, rng)
        return next(self._plan)

    def _sheet_still(self) -> np.ndarray | None:
        """The sheet (a printed receipt, say) lying flat on the desk, if someone put one there:
        the demo and tests place a file, as a hand would place paper."""
        if self.sheet is None:
            return None
        try:
            stamp = self.sheet.stat().st_mtime_ns
        except OSError:
            return None
        if self._sheet_frame is None or self._sheet_frame[0] != stamp:
            image = cv2.imread(str(self.sheet), cv2.IMREAD_COLOR)
            if image is None:
                return None
            self._sheet_frame = (stamp, sheet_on_desk(image, self.seed, self.frame_size))
        return self._sheet_frame[1]

    def close(self) -> None:
        self._closed = True
