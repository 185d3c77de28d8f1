"""Frame sources for the document camera: a V4L2 device, a video file, a folder of images.

Each is a `devices.interfaces.FrameSource` (BGR uint8 frames). A device that stops delivering
frames raises DeviceUnavailable with reason `doc.camera_unplugged`; a file or folder that does
not exist is a ConfigurationError (the URL is wrong, nothing is unplugged).
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

from devices.interfaces import ConfigurationError, DeviceError, DeviceUnavailable

log = logging.getLogger(__name__)

UNPLUGGED = "doc.camera_unplugged"
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"}


class V4l2DocCamera:
    """A 高拍仪 as a UVC/V4L2 device through OpenCV, e.g. /dev/video2 at 1920x1080 MJPG."""

    def __init__(self, device: str, width: int = 1920, height: int = 1080,
                 fourcc: str | None = "MJPG", warmup_frames: int = 3):
        self.device = device
        target: str | int = int(device) if device.isdigit() else device
        if isinstance(target, str) and not Path(target).exists():
            raise DeviceUnavailable(f"document camera {device} not present", UNPLUGGED)
        self._cap = cv2.VideoCapture(target, cv2.CAP_V4L2)
        if not self._cap.isOpened():
            raise DeviceUnavailable(f"document camera {device} cannot be opened", UNPLUGGED)
        if fourcc:
            self._cap.set(cv2.CAP_PROP_FOURCC, cv2.VideoWriter_fourcc(*fourcc))
        self._cap.set(cv2.CAP_PROP_FRAME_WIDTH, width)
        self._cap.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
        for _ in range(warmup_frames):   # let auto exposure settle
            self._cap.read()
        log.info("doc_camera opened device=%s size=%dx%d", device,
                 int(self._cap.get(cv2.CAP_PROP_FRAME_WIDTH)),
                 int(self._cap.get(cv2.CAP_PROP_FRAME_HEIGHT)))

    def read(self) -> np.ndarray:
        if self._cap is None:
            raise DeviceUnavailable("document camera is closed", UNPLUGGED)
        ok, frame = self._cap.read()
        if not ok or frame is None:
            log.warning("doc_camera read_failed device=%s", self.device)
            raise DeviceUnavailable(f"document camera {self.device} stopped delivering frames",
                                    UNPLUGGED)
        return frame

    def frames(self) -> Iterator[np.ndarray]:
        while True:
            yield self.read()

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None


class VideoFileDocCamera:
    """A recorded clip played as a camera, looped by default."""

    def __init__(self, path: str, loop: bool = True):
        if not Path(path).is_file():
            raise ConfigurationError(f"document camera clip {path!r} does not exist")
        self.path, self.loop = path, loop
        self._cap = cv2.VideoCapture(path)
        if not self._cap.isOpened():
            raise ConfigurationError(f"document camera clip {path!r} cannot be decoded")

    def read(self) -> np.ndarray:
        if self._cap is None:
            raise DeviceUnavailable("document camera clip is closed", UNPLUGGED)
        ok, frame = self._cap.read()
        if not ok and self.loop:
            self._cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, frame = self._cap.read()
        if not ok or frame is None:
            raise DeviceUnavailable("document camera clip has no more frames", UNPLUGGED)
        return frame

    def frames(self) -> Iterator[np.ndarray]:
        while True:
            yield self.read()

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None


class ImageFolderDocCamera:
    """Images of a folder, in name order, each shown `repeat` times (so it reads as still)."""

    def __init__(self, folder: str, repeat: int = 3, loop: bool = True):
        root = Path(folder)
        if not root.is_dir():
            raise ConfigurationError(f"document image folder {folder!r} does not exist")
        self.files = sorted(p for p in root.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not self.files:
            raise ConfigurationError(f"document image folder {folder!r} holds no images")
        self.repeat, self.loop = max(1, repeat), loop
        self._index = 0
        self._closed = False

    def read(self) -> np.ndarray:
        if self._closed:
            raise DeviceUnavailable("document image folder is closed", UNPLUGGED)
        total = len(self.files) * self.repeat
        if self._index >= total and not self.loop:
            raise DeviceUnavailable("document image folder has no more images", UNPLUGGED)
        path = self.files[(self._index % total) // self.repeat]
        self._index += 1
        frame = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if frame is None:
            raise DeviceError(f"image {path.name} cannot be decoded")  # reason device.failed
        return frame

    def frames(self) -> Iterator[np.ndarray]:
        while True:
            yield self.read()

    def close(self) -> None:
        self._closed = True
