"""Frame sources over OpenCV: a V4L2 device, a video file or a folder of images, for both cameras.

Every source here is a `devices.interfaces.FrameSource` (BGR uint8 frames). They read through
two backends, `CaptureBackend` (cv2.VideoCapture on a device or a file; a file can be looped)
and `ImageFolderBackend` (a folder's images in name order), and serve them in one of two ways:

  LatestFrameSource      the face camera (`devices/camera/capture.py`): a background reader
                         thread keeps only the newest frame, paced at the source's fps, so a
                         slow consumer (the face pipeline, the UI preview) never works on stale
                         frames; a failed read makes it unavailable (`camera.unplugged`) and
                         the reader reopens the backend with exponential backoff.
  SequentialFrameSource  the document camera (`devices/document/scanner.py`): every frame in
                         order, read on the caller's thread; a failed read, or the end of a clip
                         or folder that does not loop, raises DeviceUnavailable
                         (`doc.camera_unplugged`).

Both record `last_frame_time` on every `read()`: when the backend grabbed the frame returned,
in seconds on the source's clock (time.monotonic unless given), not when it was handed over,
so a consumer that analyses frames late still knows when each was captured.

The emulators (`devices/camera/emulator.py`, `devices/document/emulator.py`) are frame sources
too; they share `FrameLoop` for `frames()`.
"""
from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Callable, Iterable, Iterator

import cv2
import numpy as np

from devices.interfaces import DeviceError, DeviceUnavailable

log = logging.getLogger(__name__)

CAMERA_UNPLUGGED = "camera.unplugged"
NO_FRAME = "camera.no_frame"
DOC_UNPLUGGED = "doc.camera_unplugged"
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")     # the face camera's folders
DOCUMENT_IMAGE_SUFFIXES = IMAGE_SUFFIXES + (".tif", ".tiff")     # and scanned pages


class FrameLoop:
    """`frames()` of a FrameSource: `read()` for ever (until it raises)."""

    def read(self) -> np.ndarray:
        raise NotImplementedError

    def frames(self) -> Iterator[np.ndarray]:
        while True:
            yield self.read()


def device_target(device: str, message: str, reason: str) -> str | int:
    """A V4L2 device as OpenCV opens it: an index ("0") or a node path. A node that does not
    exist is an unplugged camera: DeviceUnavailable(message, reason)."""
    target: str | int = int(device) if device.isdigit() else device
    if isinstance(target, str) and not Path(target).exists():
        raise DeviceUnavailable(message, reason)
    return target


def image_files(folder: Path, suffixes: Iterable[str]) -> list[Path]:
    """The images of an existing folder, in name order."""
    suffixes = tuple(suffixes)
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in suffixes)


# -- backends ----------------------------------------------------------------------------------
class Backend:
    """One opened capture; `read()` returns a BGR frame or None when the read failed."""

    fps: float = 15.0

    def read(self) -> np.ndarray | None:
        raise NotImplementedError

    def close(self) -> None:
        pass


class CaptureBackend(Backend):
    """cv2.VideoCapture on a device or a file; with `loop` a file is rewound at its end.

    A capture OpenCV cannot open raises DeviceUnavailable(`unopened` or a generic message,
    `reason`). `fourcc`, `width`, `height` and `fps` are asked of the device when given."""

    def __init__(self, target: str | int, api: int = cv2.CAP_ANY, loop: bool = False,
                 width: int | None = None, height: int | None = None, fps: float | None = None,
                 fourcc: str | None = None, *, reason: str = CAMERA_UNPLUGGED,
                 unopened: str | None = None):
        self.loop = loop
        self.cap = cv2.VideoCapture(target, api)
        if not self.cap.isOpened():
            self.cap.release()
            raise DeviceUnavailable(unopened or f"cannot open capture {type(target).__name__}",
                                    reason)
        if fourcc:
            self.cap.set(cv2.CAP_PROP_FOURCC, cv2.VideoWriter_fourcc(*fourcc))
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


class ImageFolderBackend(Backend):
    """Images (listed once, by the caller) in order, each `repeat` times; looped or not.

    After the last image of a folder that does not loop, `read()` returns None. An image that
    cannot be decoded reads as None too, or with `decode_errors` raises DeviceError."""

    def __init__(self, files: list[Path], fps: float = 15.0, repeat: int = 1, loop: bool = True,
                 decode_errors: bool = False):
        self.files, self.fps = files, fps
        self.repeat, self.loop = max(1, repeat), loop
        self.decode_errors = decode_errors
        self.index = 0

    def read(self) -> np.ndarray | None:
        total = len(self.files) * self.repeat
        if self.index >= total and not self.loop:
            return None
        path = self.files[(self.index % total) // self.repeat]
        self.index += 1
        frame = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if frame is None and self.decode_errors:
            raise DeviceError(f"image {path.name} cannot be decoded")  # reason device.failed
        return frame


# -- the document camera's way: every frame, on the caller's thread ----------------------------
class SequentialFrameSource(FrameLoop):
    """A FrameSource reading its backend on each `read()`: DeviceUnavailable(`reason`) once a
    read fails (`"<name> <ended>"`) or after `close()`."""

    def __init__(self, backend: Backend, name: str, ended: str, reason: str = DOC_UNPLUGGED,
                 clock: Callable[[], float] = time.monotonic):
        self._backend: Backend | None = backend
        self.name, self.ended, self.reason = name, ended, reason
        self._clock = clock
        self.last_frame_time: float | None = None

    def read(self) -> np.ndarray:
        if self._backend is None:
            raise DeviceUnavailable(f"{self.name} is closed", self.reason)
        frame = self._backend.read()
        if frame is None:
            log.warning("frame source read_failed name=%s", self.name)
            raise DeviceUnavailable(f"{self.name} {self.ended}", self.reason)
        self.last_frame_time = self._clock()
        return frame

    def close(self) -> None:
        backend, self._backend = self._backend, None
        if backend is not None:
            backend.close()


# -- the face camera's way: the newest frame, from a reader thread that reopens ----------------
class LatestFrameSource(FrameLoop):
    """A `FrameSource` over a backend with a background reader and automatic reopen.

    `opener` builds a fresh backend (raising DeviceUnavailable when it cannot); the source
    opens it once in the constructor (so a missing camera fails start-up visibly) and again,
    with backoff between `backoff_s[0]` and `backoff_s[1]`, whenever reads fail.
    """

    def __init__(self, opener: Callable[[], Backend], name: str = "camera",
                 backoff_s: tuple[float, float] = (0.2, 5.0), read_timeout_s: float = 2.0,
                 clock: Callable[[], float] = time.monotonic):
        self._opener = opener
        self.name = name
        self._backoff = backoff_s
        self._read_timeout = read_timeout_s
        self._clock = clock
        self._cond = threading.Condition()
        self._frame: np.ndarray | None = None
        self._frame_time = 0.0         # when the reader grabbed `_frame`
        self.last_frame_time: float | None = None    # ... the one `read()` returned last
        self._seq = 0
        self._last_returned = 0
        self._fault: str | None = None
        self._stop = threading.Event()
        self._backend: Backend | None = opener()   # raises DeviceUnavailable if absent
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
                    raise DeviceUnavailable(f"{self.name} closed", CAMERA_UNPLUGGED)
                if self._fault is not None:
                    raise DeviceUnavailable(f"{self.name} unavailable", self._fault)
                if self._frame is not None and self._seq != self._last_returned:
                    self._last_returned = self._seq
                    self.last_frame_time = self._frame_time
                    return self._frame
                left = deadline - self._clock()
                if left <= 0:
                    raise DeviceUnavailable(f"{self.name} delivered no frame", NO_FRAME)
                self._cond.wait(min(left, 0.1))

    def latest(self) -> np.ndarray | None:
        """The newest frame without waiting (for a preview); None before the first one."""
        with self._cond:
            return self._frame

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
            grabbed = self._clock()
            if frame is None:
                log.warning("camera read failed name=%s", self.name)
                self._set_fault(CAMERA_UNPLUGGED)
                self._backend = None
                backend.close()
                continue
            with self._cond:
                self._frame, self._frame_time = frame, grabbed
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


__all__ = ["Backend", "CAMERA_UNPLUGGED", "CaptureBackend", "DOCUMENT_IMAGE_SUFFIXES",
           "DOC_UNPLUGGED", "FrameLoop", "IMAGE_SUFFIXES", "ImageFolderBackend",
           "LatestFrameSource", "NO_FRAME", "SequentialFrameSource", "device_target",
           "image_files"]
