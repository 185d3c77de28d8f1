"""OpenCV frame sources: a V4L2 camera, a looped video file or a looped folder of images.

    camera+v4l2:///dev/video0?width=640&height=480&fps=15
    camera+file:///path/clip.mp4[?fps=..]      looped, paced at the file's frame rate
    camera+images:///path/dir[?fps=15]         every image in the folder (sorted), looped

A background reader thread keeps only the latest frame, so a slow consumer (the face pipeline,
the UI preview) never works on stale frames and never blocks the capture. When a read fails
(unplugged camera, folder or file gone) the source turns unavailable: `read()` raises
`DeviceUnavailable` with reason `camera.unplugged`, and the reader thread reopens the capture
with exponential backoff until it works again, then frames flow as before.
"""
from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Callable, Iterator

import cv2
import numpy as np

from devices.interfaces import ConfigurationError, DeviceUnavailable

log = logging.getLogger(__name__)

UNPLUGGED = "camera.unplugged"
NO_FRAME = "camera.no_frame"
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")


class _Backend:
    """One opened capture; `read()` returns a BGR frame or None when the read failed."""

    fps: float = 15.0

    def read(self) -> np.ndarray | None:
        raise NotImplementedError

    def close(self) -> None:
        pass


class _CaptureBackend(_Backend):
    """cv2.VideoCapture on a device or a file; a file is rewound at its end (looped)."""

    def __init__(self, target: str | int, api: int, loop: bool, width: int | None = None,
                 height: int | None = None, fps: float | None = None):
        self.loop = loop
        self.cap = cv2.VideoCapture(target, api)
        if not self.cap.isOpened():
            self.cap.release()
            raise DeviceUnavailable(f"cannot open capture {type(target).__name__}", UNPLUGGED)
        if width:
            self.cap.set(cv2.CAP_PROP_FRAME_WIDTH, width)
        if height:
            self.cap.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
        if fps:
            self.cap.set(cv2.CAP_PROP_FPS, fps)
        reported = self.cap.get(cv2.CAP_PROP_FPS) or 0.0
        self.fps = float(fps or (reported if 1.0 <= reported <= 120.0 else 15.0))

    def read(self) -> np.ndarray | None:
        ok, frame = self.cap.read()
        if not ok and self.loop:
            self.cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, frame = self.cap.read()
        return frame if ok and frame is not None and frame.size else None

    def close(self) -> None:
        self.cap.release()


class _FolderBackend(_Backend):
    """Every image in a folder, in name order, looped; the folder is listed on open."""

    def __init__(self, folder: Path, fps: float):
        self.fps = fps
        if not folder.is_dir():
            raise DeviceUnavailable("image folder missing", UNPLUGGED)
        self.files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not self.files:
            raise DeviceUnavailable("image folder has no images", UNPLUGGED)
        self.index = 0

    def read(self) -> np.ndarray | None:
        path = self.files[self.index % len(self.files)]
        self.index += 1
        frame = cv2.imread(str(path), cv2.IMREAD_COLOR)
        return frame


class OpenCVFrameSource:
    """A `FrameSource` over an OpenCV capture with a background reader and automatic reopen.

    `opener` builds a fresh backend (raising DeviceUnavailable when it cannot); the source
    opens it once in the constructor (so a missing camera fails start-up visibly) and again,
    with backoff between `backoff_s[0]` and `backoff_s[1]`, whenever reads fail.
    """

    def __init__(self, opener: Callable[[], _Backend], name: str = "camera",
                 backoff_s: tuple[float, float] = (0.2, 5.0), read_timeout_s: float = 2.0,
                 clock: Callable[[], float] = time.monotonic):
        self._opener = opener
        self.name = name
        self._backoff = backoff_s
        self._read_timeout = read_timeout_s
        self._clock = clock
        self._cond = threading.Condition()
        self._frame: np.ndarray | None = None
        self._seq = 0
        self._last_returned = 0
        self._fault: str | None = None
        self._stop = threading.Event()
        self._backend: _Backend | None = opener()   # raises DeviceUnavailable if absent
        self.reopen_count = 0
        self._thread = threading.Thread(target=self._run, name=f"{name}-reader", daemon=True)
        self._thread.start()

    # -- FrameSource ------------------------------------------------------------------------
    @property
    def available(self) -> bool:
        return self._fault is None

    def read(self) -> np.ndarray:
        """The newest frame not returned before; waits up to the read timeout for one."""
        deadline = self._clock() + self._read_timeout
        with self._cond:
            while True:
                if self._stop.is_set():
                    raise DeviceUnavailable(f"{self.name} closed", UNPLUGGED)
                if self._fault is not None:
                    raise DeviceUnavailable(f"{self.name} unavailable", self._fault)
                if self._frame is not None and self._seq != self._last_returned:
                    self._last_returned = self._seq
                    return self._frame
                left = deadline - self._clock()
                if left <= 0:
                    raise DeviceUnavailable(f"{self.name} delivered no frame", NO_FRAME)
                self._cond.wait(min(left, 0.1))

    def latest(self) -> np.ndarray | None:
        """The newest frame without waiting (for a preview); None before the first one."""
        with self._cond:
            return self._frame

    def frames(self) -> Iterator[np.ndarray]:
        while True:
            yield self.read()

    def close(self) -> None:
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout=2.0)
        backend, self._backend = self._backend, None
        if backend is not None:
            backend.close()
        with self._cond:
            self._frame = None

    # -- reader thread ----------------------------------------------------------------------
    def _run(self) -> None:
        next_at = self._clock()
        while not self._stop.is_set():
            backend = self._backend
            if backend is None:
                self._reopen()
                next_at = self._clock()
                continue
            frame = backend.read()
            if frame is None:
                log.warning("camera read failed name=%s", self.name)
                self._set_fault(UNPLUGGED)
                self._backend = None
                backend.close()
                continue
            with self._cond:
                self._frame = frame
                self._seq += 1
                self._cond.notify_all()
            next_at += 1.0 / max(backend.fps, 0.5)
            delay = next_at - self._clock()
            if delay > 0:
                self._stop.wait(delay)
            else:
                next_at = self._clock()   # a slow device paces itself: do not catch up

    def _reopen(self) -> None:
        delay = self._backoff[0]
        while not self._stop.is_set():
            self._stop.wait(delay)
            if self._stop.is_set():
                return
            try:
                self._backend = self._opener()
            except DeviceUnavailable:
                delay = min(delay * 2, self._backoff[1])
                continue
            self.reopen_count += 1
            log.info("camera back name=%s reopen=%d", self.name, self.reopen_count)
            self._set_fault(None)
            return

    def _set_fault(self, fault: str | None) -> None:
        with self._cond:
            self._fault = fault
            self._cond.notify_all()


# ------------------------------------------------------------------------------------------
def _int_opt(url, name: str, default: int | None) -> int | None:
    value = url.opt(name)
    if value in (None, ""):
        return default
    try:
        number = int(float(value))
    except ValueError:
        raise ConfigurationError(f"{url.url!r}: option {name}={value!r} is not a number") from None
    if number <= 0:
        raise ConfigurationError(f"{url.url!r}: option {name} must be positive")
    return number


def open_from_url(url) -> OpenCVFrameSource:
    """Registry factory for camera+v4l2, camera+file and camera+images URLs."""
    transport = url.transport
    path = url.rest
    if not path:
        raise ConfigurationError(f"{url.url!r} names no device, file or folder")
    fps = _int_opt(url, "fps", None)
    if transport == "v4l2":
        width, height = _int_opt(url, "width", 640), _int_opt(url, "height", 480)
        target: str | int = int(path) if path.isdigit() else path
        if isinstance(target, str) and not Path(target).exists():
            raise DeviceUnavailable("camera device node missing", UNPLUGGED)

        def opener() -> _Backend:
            return _CaptureBackend(target, cv2.CAP_V4L2, loop=False, width=width,
                                   height=height, fps=fps or 15)
    elif transport == "file":
        file = Path(path)

        def opener() -> _Backend:
            if not file.is_file():
                raise DeviceUnavailable("video file missing", UNPLUGGED)
            return _CaptureBackend(str(file), cv2.CAP_ANY, loop=True, fps=fps)
    elif transport == "images":
        folder = Path(path)

        def opener() -> _Backend:
            return _FolderBackend(folder, float(fps or 15))
    else:
        raise ConfigurationError(f"{url.url!r}: unknown camera transport {transport!r}")
    return OpenCVFrameSource(opener, name=f"camera+{transport}")
