"""`DocCameraScanner`: the `DocumentScanner` the session calls to capture one material page.

It reads frames from a FrameSource (a V4L2 高拍仪, a clip, a folder of images: the
`devices.frame_sources` ones, read in order on the caller's thread; or the emulator),
waits until the applicant has put a NEW page down and let go (consecutive frames nearly equal,
and different from the scene last captured), then runs the page pipeline on that still frame.

    scanner = open_device("doccam+emulator://pages?sequence=clean,blur,clean&seed=1")
    page = scanner.capture_page()      # CapturedPage(accepted=..., reason_key=...)

URLs (registry scheme -> `open_from_url`):
    doccam+v4l2:///dev/video2?width=1920&height=1080[&fourcc=MJPG]
    doccam+file:///path/clip.mp4[?loop=0]
    doccam+images:///path/dir[?repeat=3&loop=0]
    doccam+emulator://pages?sequence=clean,blur,clean&seed=1[&width=1280&height=960
                                &motion=2&still=4&unplug_after=N&sheet=/path/receipt.png]
  and for all: dpi=200, blur_threshold=120, timeout=20 (s), max_frames=300.
"""
from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from devices.document.pipeline import PipelineConfig, process_frame, reject
from devices.frame_sources import (DOC_UNPLUGGED, DOCUMENT_IMAGE_SUFFIXES, CaptureBackend,
                                   ImageFolderBackend, SequentialFrameSource, device_target,
                                   image_files)
from devices.interfaces import CapturedPage, ConfigurationError, DeviceUnavailable, FrameSource
from devices.registry import DeviceUrl

log = logging.getLogger(__name__)


def motion_thumb(frame: np.ndarray) -> np.ndarray:
    """A small blurred gray copy for comparing frames (noise averages out)."""
    small = cv2.resize(frame, (160, 120), interpolation=cv2.INTER_AREA)
    return cv2.GaussianBlur(cv2.cvtColor(small, cv2.COLOR_BGR2GRAY), (3, 3), 0).astype(np.float32)


def frame_difference(a: np.ndarray, b: np.ndarray) -> float:
    """Mean absolute difference of two motion thumbnails, in gray levels."""
    return float(np.mean(np.abs(a - b)))


class DocCameraScanner:
    """Captures pages from a document camera: wait for a new still page, then judge it.

    `still_diff`: consecutive thumbnails closer than this are 'still'; `still_pairs` such pairs
    in a row mean the hand has left. `change_diff`: a still scene closer than this to the one
    captured last is the same page, not a new one. The wait ends after `timeout` seconds or
    `max_frames` frames: with an unchanged page after an accepted one -> `doc.same_page`;
    with a still page otherwise -> that page is judged again; never still -> `doc.not_still`.
    """

    def __init__(self, source: FrameSource, config: PipelineConfig = PipelineConfig(), *,
                 still_diff: float = 2.0, still_pairs: int = 2, change_diff: float = 6.0,
                 timeout: float = 20.0, max_frames: int = 300,
                 clock: Callable[[], float] = time.monotonic):
        self.source = source
        self.config = config
        self.still_diff, self.still_pairs, self.change_diff = still_diff, still_pairs, change_diff
        self.timeout, self.max_frames = timeout, max_frames
        self._clock = clock
        self._last_scene: np.ndarray | None = None
        self._last_accepted = False
        self._read_lock = threading.Lock()
        self._capturing = threading.Event()
        self._latest: np.ndarray | None = None

    def _read(self) -> np.ndarray:
        with self._read_lock:
            self._latest = self.source.read()
            return self._latest

    def preview(self) -> np.ndarray | None:
        """A frame for the live preview on screen (the page the citizen is placing). Safe to call
        from another thread while a capture runs: then it is the frame the capture looked at."""
        if self._capturing.is_set() or not self._read_lock.acquire(blocking=False):
            return self._latest
        try:
            self._latest = self.source.read()
            return self._latest
        finally:
            self._read_lock.release()

    def wait_for_still(self, cancel: threading.Event | None = None
                       ) -> tuple[np.ndarray | None, bool]:
        """(still frame, is_new_page); (None, False) if nothing held still in time, or at once
        (within a frame) when `cancel` is set.

        DeviceUnavailable from the source (camera unplugged) propagates to the caller.
        """
        deadline = self._clock() + self.timeout
        prev: np.ndarray | None = None
        run = 0
        last_still: np.ndarray | None = None
        for _ in range(self.max_frames):
            if cancel is not None and cancel.is_set():
                return None, False
            frame = self._read()
            thumb = motion_thumb(frame)
            run = run + 1 if prev is not None and frame_difference(prev, thumb) < self.still_diff else 0
            prev = thumb
            if run >= self.still_pairs:
                last_still = frame
                if self._last_scene is None or frame_difference(thumb, self._last_scene) >= self.change_diff:
                    return frame, True
            if self._clock() > deadline:
                break
        return last_still, False

    def capture_page(self, cancel: threading.Event | None = None) -> CapturedPage:
        """The next new page, judged; `doc.cancelled` within a frame once `cancel` is set (the
        visit ended: the camera stops looking at the desk and the device worker is free)."""
        self._capturing.set()
        try:
            frame, is_new = self.wait_for_still(cancel)
        finally:
            self._capturing.clear()
        if cancel is not None and cancel.is_set():
            log.info("doc_capture result=cancelled")
            return reject("doc.cancelled")
        if frame is None:
            log.info("doc_capture result=not_still")
            return reject("doc.not_still")
        if not is_new and self._last_accepted:
            log.info("doc_capture result=same_page")
            return reject("doc.same_page")
        self._last_scene = motion_thumb(frame)
        page = process_frame(frame, self.config)
        self._last_accepted = page.accepted
        log.info("doc_capture accepted=%s reason=%s", page.accepted, page.reason_key)
        return page

    def read_code(self, cancel: threading.Event | None = None,
                  timeout: float | None = None) -> str | None:
        """The text of a QR code held under the camera (a receipt's progress link), read from
        live frames until one decodes; None after `timeout` seconds (default: the capture
        timeout) or when `cancel` is set. The text is not logged: it names a case."""
        deadline = self._clock() + (self.timeout if timeout is None else timeout)
        self._capturing.set()
        try:
            while not (cancel is not None and cancel.is_set()) and self._clock() < deadline:
                text = decode_qr(self._read())
                if text:
                    log.info("doc_code read chars=%d", len(text))
                    return text
        finally:
            self._capturing.clear()
        log.info("doc_code none")
        return None

    def close(self) -> None:
        self.source.close()


_QR = threading.local()      # cv2's detector is not thread-safe; one per thread, made once


def decode_qr(frame: np.ndarray) -> str | None:
    """The text of the first QR code in a camera frame, or None. Tries the frame as it is and
    at half size (a small code on a big frame decodes more reliably scaled) with OpenCV's
    classic detector, then with its ArUco-based one: the classic one misses about one of our
    own receipts in a hundred however it is scaled (found by benchmarks/soak.py, which reads
    back every receipt; tests/data/receipts/ keeps one)."""
    gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY) if frame.ndim == 3 else frame
    half = cv2.resize(gray, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
    for detector, image in ((_detector("classic"), gray), (_detector("classic"), half),
                            (_detector("aruco"), gray)):
        if detector is None:
            continue
        try:
            text, points, _ = detector.detectAndDecode(image)
        except cv2.error:
            continue
        if text:
            return text
    return None


def _detector(kind: str):
    """This thread's QR detector of `kind` (made once; None when this OpenCV lacks it)."""
    detector = getattr(_QR, kind, False)
    if detector is False:
        if kind == "classic":
            detector = cv2.QRCodeDetector()
        else:
            make = getattr(cv2, "QRCodeDetectorAruco", None)
            detector = make() if make is not None else None
        setattr(_QR, kind, detector)
    return detector


# --------------------------------------------------------------------------------------------
def _int(url: DeviceUrl, name: str, default: int | None) -> int | None:
    raw = url.opt(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigurationError(f"{url.url!r}: option {name}={raw!r} must be a whole number") from None


def _float(url: DeviceUrl, name: str, default: float) -> float:
    raw = url.opt(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise ConfigurationError(f"{url.url!r}: option {name}={raw!r} must be a number") from None


def open_source(url: DeviceUrl) -> FrameSource:
    """The frame source a doccam+... URL names (without the scanner around it)."""
    transport = url.transport
    if transport == "v4l2":
        return _open_v4l2(url.rest or "/dev/video0", width=_int(url, "width", 1920),
                          height=_int(url, "height", 1080),
                          fourcc=url.opt("fourcc", "MJPG") or None)
    if transport == "file":
        return _open_clip(url.rest, loop=_int(url, "loop", 1) != 0)
    if transport == "images":
        return _open_folder(url.rest, repeat=_int(url, "repeat", 3), loop=_int(url, "loop", 1) != 0)
    if transport == "emulator":
        from devices.document.emulator import EmulatedDocCamera
        names = tuple(s.strip() for s in (url.opt("sequence") or "clean").split(",") if s.strip())
        try:
            return EmulatedDocCamera(
                sequence=names, seed=_int(url, "seed", 0),
                frame_size=(_int(url, "width", 1280), _int(url, "height", 960)),
                motion_frames=_int(url, "motion", 2), still_frames=_int(url, "still", 4),
                unplug_after=_int(url, "unplug_after", None),
                sheet=Path(url.opt("sheet")) if url.opt("sheet") else None)
        except ValueError as exc:
            raise ConfigurationError(f"{url.url!r}: {exc}") from None
    raise ConfigurationError(f"{url.url!r}: no document camera transport {transport!r}")


def _open_v4l2(device: str, width: int, height: int, fourcc: str | None,
               warmup_frames: int = 3) -> FrameSource:
    """A 高拍仪 as a UVC/V4L2 device through OpenCV, e.g. /dev/video2 at 1920x1080 MJPG."""
    target = device_target(device, f"document camera {device} not present", DOC_UNPLUGGED)
    backend = CaptureBackend(target, cv2.CAP_V4L2, width=width, height=height, fourcc=fourcc,
                             reason=DOC_UNPLUGGED,
                             unopened=f"document camera {device} cannot be opened")
    for _ in range(warmup_frames):   # let auto exposure settle
        backend.cap.read()
    log.info("doc_camera opened device=%s size=%dx%d", device,
             int(backend.cap.get(cv2.CAP_PROP_FRAME_WIDTH)),
             int(backend.cap.get(cv2.CAP_PROP_FRAME_HEIGHT)))
    return SequentialFrameSource(backend, "document camera", f"{device} stopped delivering frames")


def _open_clip(path: str, loop: bool) -> FrameSource:
    """A recorded clip played as a camera; a clip that is missing or undecodable is a wrong URL."""
    if not Path(path).is_file():
        raise ConfigurationError(f"document camera clip {path!r} does not exist")
    try:
        backend = CaptureBackend(path, loop=loop, reason=DOC_UNPLUGGED)
    except DeviceUnavailable:
        raise ConfigurationError(f"document camera clip {path!r} cannot be decoded") from None
    return SequentialFrameSource(backend, "document camera clip", "has no more frames")


def _open_folder(folder: str, repeat: int, loop: bool) -> FrameSource:
    """Images of a folder, in name order, each shown `repeat` times (so it reads as still)."""
    root = Path(folder)
    if not root.is_dir():
        raise ConfigurationError(f"document image folder {folder!r} does not exist")
    files = image_files(root, DOCUMENT_IMAGE_SUFFIXES)
    if not files:
        raise ConfigurationError(f"document image folder {folder!r} holds no images")
    backend = ImageFolderBackend(files, repeat=repeat, loop=loop, decode_errors=True)
    return SequentialFrameSource(backend, "document image folder", "has no more images")


def open_from_url(url: DeviceUrl) -> DocCameraScanner:
    """Registry factory for doccam+v4l2/file/images/emulator URLs."""
    dpi = _int(url, "dpi", 200)
    if dpi < 100 or dpi > 600:
        raise ConfigurationError(f"{url.url!r}: dpi={dpi} is outside 100..600 (archival: 200 or 300)")
    config = PipelineConfig(dpi=dpi, blur_threshold=_float(url, "blur_threshold", 120.0))
    return DocCameraScanner(open_source(url), config, timeout=_float(url, "timeout", 20.0),
                            max_frames=_int(url, "max_frames", 300))
