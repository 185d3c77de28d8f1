"""The face camera's OpenCV URLs: a V4L2 camera, a looped video file or a looped folder of images.

    camera+v4l2:///dev/video0?width=640&height=480&fps=15
    camera+file:///path/clip.mp4[?fps=..]      looped, paced at the file's frame rate
    camera+images:///path/dir[?fps=15]         every image in the folder (sorted), looped

Each opens a `devices.frame_sources.LatestFrameSource`: a background reader thread keeps only
the latest frame, so a slow consumer (the face pipeline, the UI preview) never works on stale
frames and never blocks the capture. When a read fails (unplugged camera, folder or file gone)
the source turns unavailable: `read()` raises `DeviceUnavailable` with reason
`camera.unplugged`, and the reader thread reopens the capture with exponential backoff until
it works again, then frames flow as before.
"""
from __future__ import annotations

import logging
from pathlib import Path

import cv2

from devices.frame_sources import (CAMERA_UNPLUGGED, IMAGE_SUFFIXES, Backend, CaptureBackend,
                                   ImageFolderBackend, LatestFrameSource, device_target,
                                   image_files)
from devices.interfaces import ConfigurationError, DeviceUnavailable

log = logging.getLogger(__name__)


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


def _open_folder(folder: Path, fps: float) -> Backend:
    """The folder's images, looped; a folder gone or empty is an unplugged camera."""
    if not folder.is_dir():
        raise DeviceUnavailable("image folder missing", CAMERA_UNPLUGGED)
    files = image_files(folder, IMAGE_SUFFIXES)
    if not files:
        raise DeviceUnavailable("image folder has no images", CAMERA_UNPLUGGED)
    return ImageFolderBackend(files, fps)


def open_from_url(url) -> LatestFrameSource:
    """Registry factory for camera+v4l2, camera+file and camera+images URLs."""
    transport = url.transport
    path = url.rest
    if not path:
        raise ConfigurationError(f"{url.url!r} names no device, file or folder")
    fps = _int_opt(url, "fps", None)
    if transport == "v4l2":
        width, height = _int_opt(url, "width", 640), _int_opt(url, "height", 480)
        target = device_target(path, "camera device node missing", CAMERA_UNPLUGGED)

        def opener() -> Backend:
            return CaptureBackend(target, cv2.CAP_V4L2, loop=False, width=width,
                                  height=height, fps=fps or 15)
    elif transport == "file":
        file = Path(path)

        def opener() -> Backend:
            if not file.is_file():
                raise DeviceUnavailable("video file missing", CAMERA_UNPLUGGED)
            return CaptureBackend(str(file), cv2.CAP_ANY, loop=True, fps=fps)
    elif transport == "images":
        folder = Path(path)

        def opener() -> Backend:
            return _open_folder(folder, float(fps or 15))
    else:
        raise ConfigurationError(f"{url.url!r}: unknown camera transport {transport!r}")
    return LatestFrameSource(opener, name=f"camera+{transport}")
