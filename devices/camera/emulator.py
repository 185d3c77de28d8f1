"""A synthetic live face camera made from a still photo, for demos and tests.

    camera+emulator://face?photo=obama_1.jpg&blink=1&fps=15&width=640&height=480
        options: seed=N, static=1 (the still photo unchanged: a printed photo held up),
                 faces=0 (empty desk) | faces=2 (two people, two_people.jpg),
                 face_px=200 (face width in the frame; faces=2 shows the whole photo),
                 faces_dir=/path (else env KIOSK_TESTDATA_FACES, else the repository's
                 assets/faces: devices/assets.py),
                 pace=clock | pace=frames (below),
                 blink_every=2-4 (seconds between blinks, a range), blink_len=0.15-0.25 (seconds
                 a blink lasts, a range): e.g. blink_every=0.5-1&blink_len=0.3-0.45 for a soak

The stream looks alive: the photo drifts and jitters a few pixels, the lighting breathes,
there is sensor noise, and with blink=1 the person BLINKS — the eye landmarks are found once
with `face_recognition.face_landmarks`, and every `blink_every` s (random in the range) for
`blink_len` s the eyes are painted closed (eye region filled with the skin colour from under the
eye, a dark lid line drawn low), which makes the eye aspect ratio from dlib's landmarks drop
the way a real blink does.

Time. `pace=clock` (the default) paces frames at `fps` by the clock given to the camera
(`clock`/`sleep`: real time, or a `devices.clock.ScaledClock`, whose `sleep` is then used): a
read waits for the next frame's time, and the blinks and motion run on that clock.
`pace=frames` is a frame clock: the camera's time starts at the clock's reading when it is
opened and advances by exactly 1/fps per `read()`, which never sleeps; blinks and motion run on
that frame time. A face check then costs only the CPU of the frames it analyses, whatever the
wall time, and it is the same for the same seed (the soak, `benchmarks/soak.py`).

`SOAK_OPTIONS` are the options a soak adds to its camera URL: a frame clock at 8 fps, 320x240,
a person blinking every 0.5-1 s for 0.3-0.45 s. A face check then analyses ~21 frames (at most
~37) in ~0.75 s on a 2-CPU machine, against ~50 frames (up to 100) and ~1.4 s with the default
size and blinks on the frame clock, and 2-5 s of waiting on the real clock; the emulated person
passed the blink challenge for every one of 100 seeds.

Every `read()` sets `last_frame_time`: the camera's time the frame was rendered at (the
`FrameSource` capture time that the face verifier times liveness by).
"""
from __future__ import annotations

import hashlib
import logging
import random
import threading
import time
from collections import OrderedDict
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from devices.assets import faces_dir, read_face_photo
from devices.frame_sources import FrameLoop
from devices.interfaces import ConfigurationError, DeviceUnavailable

log = logging.getLogger(__name__)

TWO_PEOPLE_PHOTO = "two_people.jpg"
PACES = ("clock", "frames")
SOAK_OPTIONS = ("pace=frames&fps=8&blink_every=0.5-1&blink_len=0.3-0.45"
                "&width=320&height=240&face_px=100")


def _largest_face(rgb: np.ndarray) -> tuple[int, int, int, int] | None:
    """(top, right, bottom, left) of the largest HOG face, found on a copy at most 800 px."""
    import face_recognition
    scale = min(1.0, 800.0 / max(rgb.shape[:2]))
    small = cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    boxes = face_recognition.face_locations(small, 1)
    if not boxes:
        return None
    t, r, b, left = max(boxes, key=lambda x: (x[2] - x[0]) * (x[1] - x[3]))
    return tuple(int(round(v / scale)) for v in (t, r, b, left))   # type: ignore[return-value]


def _find_eyes(base: np.ndarray) -> list[np.ndarray]:
    import face_recognition
    rgb = cv2.cvtColor(base, cv2.COLOR_BGR2RGB)
    box = _largest_face(rgb)
    if box is None:
        return []
    marks = face_recognition.face_landmarks(rgb, [box])
    if not marks:
        return []
    return [np.array(marks[0]["left_eye"]), np.array(marks[0]["right_eye"])]


_PREPARED: OrderedDict[tuple, tuple[np.ndarray, list[np.ndarray]]] = OrderedDict()
_PREPARED_LOCK = threading.Lock()
PREPARED_KEPT = 8


def prepare(photo: np.ndarray, width: int, height: int, face_px: int | None,
            eyes: bool) -> tuple[np.ndarray, list[np.ndarray]]:
    """The still frame a stream moves around (the photo composed in WxH, its face `face_px`
    wide; None: the whole photo covers the frame) and, when `eyes`, the landmarks of its eyes.

    Finding the face and the eyes is a few tenths of a second of dlib; the results for the
    last `PREPARED_KEPT` photos and sizes are kept (a soak opens a camera for every visit).
    Callers must not modify the arrays returned."""
    key = (hashlib.sha1(photo.tobytes()).hexdigest(), photo.shape, width, height, face_px, eyes)
    with _PREPARED_LOCK:
        if key in _PREPARED:
            _PREPARED.move_to_end(key)
            return _PREPARED[key]
    box = _largest_face(cv2.cvtColor(photo, cv2.COLOR_BGR2RGB))
    base = compose_frame(photo, width, height, face_px or 1, box if face_px else None)
    found = (base, _find_eyes(base) if eyes and box is not None else [])
    with _PREPARED_LOCK:
        _PREPARED[key] = found
        while len(_PREPARED) > PREPARED_KEPT:
            _PREPARED.popitem(last=False)
    return found


def compose_frame(photo: np.ndarray, width: int, height: int, face_px: int,
                  box: tuple[int, int, int, int] | None) -> np.ndarray:
    """Scale the photo so its face is `face_px` wide and centre the face in a WxH frame."""
    if box is None:     # no face: cover the frame
        scale = max(width / photo.shape[1], height / photo.shape[0])
        cx, cy = photo.shape[1] / 2 * scale, photo.shape[0] / 2 * scale
    else:
        t, r, b, left = box
        scale = face_px / max(r - left, 1)
        cx, cy = (left + r) / 2 * scale, (t + b) / 2 * scale
    scaled = cv2.resize(photo, None, fx=scale, fy=scale,
                        interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)
    m = np.float32([[1, 0, width / 2 - cx], [0, 1, height * 0.45 - cy]])
    return cv2.warpAffine(scaled, m, (width, height), borderMode=cv2.BORDER_REPLICATE)


def close_eyes(frame: np.ndarray, eyes: list[np.ndarray]) -> np.ndarray:
    """The frame with both eyes painted shut: skin-coloured eye region plus a low lid line."""
    out = frame.astype(np.float32)
    for pts in eyes:
        pts = pts.astype(np.float32)
        c = pts.mean(0)
        w = float(pts[:, 0].max() - pts[:, 0].min())
        y0, y1 = int(c[1] + 0.5 * w), int(c[1] + 0.8 * w)
        x0, x1 = int(c[0] - 0.3 * w), int(c[0] + 0.3 * w)
        patch = frame[max(y0, 0):max(y1, 1), max(x0, 0):max(x1, 1)]
        skin = patch.reshape(-1, 3).mean(0) if patch.size else np.array([120.0, 140, 170])
        region = ((pts - c) * [1.3, 2.8] + c).astype(np.int32)
        mask = np.zeros(frame.shape[:2], np.uint8)
        cv2.fillPoly(mask, [region], 255)
        soft = cv2.GaussianBlur(mask, (0, 0), w * 0.08 + 1)[..., None] / 255.0
        out = out * (1 - soft) + skin * soft
        lid = np.array([pts[0], pts[5], pts[4], pts[3]])
        lid[1:3, 1] -= (lid[1:3, 1] - c[1]) * 0.5
        cv2.polylines(out, [lid.astype(np.int32)], False, (skin * 0.25).tolist(),
                      max(1, int(round(w * 0.1))), cv2.LINE_AA)
    return np.clip(out, 0, 255).astype(np.uint8)


class EmulatedCamera(FrameLoop):
    """`FrameSource` producing a live-like stream from a still photo (see module docstring)."""

    def __init__(self, photo: np.ndarray | None, width: int = 640, height: int = 480,
                 fps: float = 15.0, blink: bool = True, static: bool = False,
                 face_px: int = 200, seed: int | None = None,
                 blink_every_s: tuple[float, float] = (2.0, 4.0),
                 blink_len_s: tuple[float, float] = (0.15, 0.25),
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] | None = None, pace: str = "clock"):
        if pace not in PACES:
            raise ValueError(f"pace must be one of {PACES}")
        self.width, self.height, self.fps = width, height, fps
        self.static, self.pace = static, pace
        # a ScaledClock passed as `clock` brings its own sleep
        self._clock, self._sleep = clock, sleep or getattr(clock, "sleep", time.sleep)
        self.last_frame_time: float | None = None
        self._rng = random.Random(seed)
        self._nrng = np.random.default_rng(seed)
        self._lock = threading.Lock()
        self._closed = False
        self.eyes: list[np.ndarray] = []
        if photo is None:   # empty desk: a soft gradient wall
            ys = np.linspace(90, 150, height, dtype=np.float32)[:, None, None]
            xs = np.linspace(0.9, 1.1, width, dtype=np.float32)[None, :, None]
            self.base = np.clip(ys * xs * np.float32([1.0, 1.05, 1.1]), 0, 255).astype(np.uint8)
        else:
            self.base, self.eyes = prepare(photo, width, height, face_px, blink and not static)
        self.blink = bool(self.eyes)
        self._noise = [self._nrng.normal(0, 3.0, (height, width, 3)).astype(np.float32)
                       for _ in range(3)]
        self._t0 = clock()
        self._next_frame_at = self._t0
        self._frame_no = 0
        # the first blink after half to 5/8 of a gap: 1-2.5 s for the default 2-4 s
        self._blink_at = self._t0 + self._rng.uniform(0.5 * blink_every_s[0],
                                                      0.625 * blink_every_s[1])
        self._blink_len = self._rng.uniform(*blink_len_s)
        self._blink_every, self._blink_lens = blink_every_s, blink_len_s
        self.blinks_started = 0

    def eyes_closed_at(self, now: float) -> bool:
        """Advance the blink schedule to `now`; True while a blink is in progress."""
        while now >= self._blink_at + self._blink_len:
            self._blink_at += self._blink_len + self._rng.uniform(*self._blink_every)
            self._blink_len = self._rng.uniform(*self._blink_lens)
            self.blinks_started += 1
        return self._blink_at <= now

    def render(self, now: float) -> np.ndarray:
        """The frame at clock time `now` (seconds, same clock as the constructor's)."""
        if self.static:
            return self.base.copy()
        t = now - self._t0
        frame = self.base
        if self.blink and self.eyes_closed_at(now):
            frame = close_eyes(frame, self.eyes)
        dx = 4.0 * np.sin(t * 0.9) + self._rng.uniform(-0.7, 0.7)
        dy = 3.0 * np.sin(t * 0.7 + 1.0) + self._rng.uniform(-0.7, 0.7)
        angle = 1.2 * np.sin(t * 0.5)
        m = cv2.getRotationMatrix2D((self.width / 2, self.height / 2), angle, 1.0)
        m[:, 2] += (dx, dy)
        moved = cv2.warpAffine(frame, m, (self.width, self.height),
                               borderMode=cv2.BORDER_REPLICATE)
        gain = 1.0 + 0.08 * np.sin(t * 0.4)
        noisy = moved.astype(np.float32) * gain + (6.0 * np.sin(t * 0.25))
        noisy += self._noise[self._frame_no % len(self._noise)]
        return np.clip(noisy, 0, 255).astype(np.uint8)

    # -- FrameSource ------------------------------------------------------------------------
    def read(self) -> np.ndarray:
        with self._lock:
            if self._closed:
                raise DeviceUnavailable("emulated camera closed", "camera.unplugged")
            if self.pace == "frames":   # the frame clock: frame n is at t0 + n/fps
                now = self._t0 + self._frame_no / self.fps
            else:
                now = self._clock()
                wait = self._next_frame_at - now
                if wait > 0:
                    self._sleep(wait)
                    now = self._clock()
                self._next_frame_at = max(self._next_frame_at + 1.0 / self.fps, now)
            self._frame_no += 1
            frame = self.render(now)
            self.last_frame_time = now
            return frame

    def close(self) -> None:
        self._closed = True


def _flag(url, name: str, default: str = "0") -> bool:
    value = (url.opt(name, default) or "").lower()
    if value not in ("0", "1", "true", "false", "yes", "no"):
        raise ConfigurationError(f"{url.url!r}: option {name}={value!r} must be 0 or 1")
    return value in ("1", "true", "yes")


def _number(url, name: str, default: float) -> float:
    value = url.opt(name)
    if value in (None, ""):
        return default
    try:
        number = float(value)
    except ValueError:
        raise ConfigurationError(f"{url.url!r}: option {name}={value!r} is not a number") from None
    if number <= 0:
        raise ConfigurationError(f"{url.url!r}: option {name} must be positive")
    return number


def _seconds_range(url, name: str, default: tuple[float, float]) -> tuple[float, float]:
    """`A-B` (or one number) in seconds, 0 < A <= B."""
    value = url.opt(name)
    if value in (None, ""):
        return default
    parts = value.split("-")
    try:
        low, high = float(parts[0]), float(parts[-1])
    except ValueError:
        low = high = -1.0
    if len(parts) > 2 or not 0 < low <= high:
        raise ConfigurationError(f"{url.url!r}: option {name}={value!r} must be a range of "
                                 "seconds A-B with 0 < A <= B")
    return low, high


def open_from_url(url, clock: Callable[[], float] | None = None,
                  sleep: Callable[[float], None] | None = None) -> EmulatedCamera:
    """Registry factory for `camera+emulator://face?...`; `clock`/`sleep` (e.g. a soak's
    `ScaledClock` and its `sleep`) default to real time."""
    faces = url.opt("faces", "1")
    if faces not in ("0", "1", "2"):
        raise ConfigurationError(f"{url.url!r}: faces must be 0, 1 or 2")
    folder = faces_dir(url.opt("faces_dir"))
    photo = None
    if faces != "0":
        name = TWO_PEOPLE_PHOTO if faces == "2" else url.opt("photo")
        if not name:
            raise ConfigurationError(f"{url.url!r}: option photo=<file> is required")
        path = Path(name) if Path(name).is_absolute() else folder / name
        photo = read_face_photo(path)
    seed = url.opt("seed")
    pace = url.opt("pace", "clock")
    if pace not in PACES:
        raise ConfigurationError(f"{url.url!r}: option pace={pace!r} must be clock or frames")
    face_px = None if faces == "2" else int(_number(url, "face_px", 200))
    return EmulatedCamera(photo, width=int(_number(url, "width", 640)),
                          height=int(_number(url, "height", 480)),
                          fps=_number(url, "fps", 15), blink=_flag(url, "blink", "1"),
                          static=_flag(url, "static"), face_px=face_px,
                          seed=int(seed) if seed not in (None, "") else None, pace=pace,
                          blink_every_s=_seconds_range(url, "blink_every", (2.0, 4.0)),
                          blink_len_s=_seconds_range(url, "blink_len", (0.15, 0.25)),
                          clock=clock or time.monotonic, sleep=sleep)
