"""OpenCV frame sources: image folder, video file, V4L2 absence, unplug and reopen."""
from __future__ import annotations

import shutil
import threading
import time

import cv2
import numpy as np
import pytest

from devices.frame_sources import LatestFrameSource
from devices.interfaces import ConfigurationError, DeviceUnavailable, FrameSource
from devices.registry import open_device


def write_images(folder, n=3):
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        img = np.full((48, 64, 3), 40 * (i + 1), np.uint8)
        cv2.imwrite(str(folder / f"f{i}.png"), img)


def wait_for(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def test_images_folder_loops_in_name_order(tmp_path):
    write_images(tmp_path / "cam")
    cam = open_device(f"camera+images://{tmp_path / 'cam'}?fps=50", expected_kind="camera")
    try:
        assert isinstance(cam, FrameSource)
        levels = [int(cam.read()[0, 0, 0]) for _ in range(7)]
        assert set(levels) <= {40, 80, 120} and len(set(levels)) >= 2
        assert levels != sorted(levels)   # it loops
    finally:
        cam.close()


def test_reader_thread_keeps_only_the_latest_frame(tmp_path):
    write_images(tmp_path / "cam", 2)
    cam = open_device(f"camera+images://{tmp_path / 'cam'}?fps=100")
    try:
        cam.read()
        time.sleep(0.3)            # ~30 frames arrive; the consumer was slow
        assert cam.read() is cam.latest()
        assert cam._thread.name.endswith("reader") and cam._thread is not threading.current_thread()
    finally:
        cam.close()


def test_video_file_is_delivered(video_clip):
    cam = open_device(f"camera+file://{video_clip}?fps=60")
    try:
        frames = [cam.read() for _ in range(5)]
        assert all(f.shape == (360, 640, 3) for f in frames)
        assert not np.array_equal(frames[0], frames[-1])
    finally:
        cam.close()


def test_video_file_backend_loops_at_the_end(video_clip):
    from devices.frame_sources import CaptureBackend
    backend = CaptureBackend(str(video_clip), cv2.CAP_ANY, loop=True)
    try:
        total = int(backend.cap.get(cv2.CAP_PROP_FRAME_COUNT))
        backend.cap.set(cv2.CAP_PROP_POS_FRAMES, total - 2)
        frames = [backend.read() for _ in range(6)]      # across the end of the clip
        assert all(f is not None and f.shape == (360, 640, 3) for f in frames)
        assert backend.cap.get(cv2.CAP_PROP_POS_FRAMES) < 10
    finally:
        backend.close()


def test_missing_v4l2_device_is_unavailable():
    with pytest.raises(DeviceUnavailable) as err:
        open_device("camera+v4l2:///dev/video-does-not-exist?width=640&height=480&fps=15")
    assert err.value.reason_key == "camera.unplugged"


def test_missing_file_and_folder_are_unavailable(tmp_path):
    for url in (f"camera+file://{tmp_path / 'none.mp4'}", f"camera+images://{tmp_path / 'no'}"):
        with pytest.raises(DeviceUnavailable):
            open_device(url)


@pytest.mark.parametrize("url", ["camera+images://", "camera+images:///x?fps=abc",
                                 "camera+v4l2:///dev/video0?width=-5"])
def test_bad_urls_are_configuration_errors(url):
    with pytest.raises(ConfigurationError):
        open_device(url)


def test_unplug_then_reopen(tmp_path):
    folder = tmp_path / "cam"
    write_images(folder)
    cam = open_device(f"camera+images://{folder}?fps=30")
    cam._backoff = (0.05, 0.2)
    try:
        assert cam.read().shape == (48, 64, 3)
        shutil.rmtree(folder)                       # unplugged
        assert wait_for(lambda: not cam.available)
        with pytest.raises(DeviceUnavailable) as err:
            cam.read()
        assert err.value.reason_key == "camera.unplugged"
        write_images(folder)                        # plugged back in
        assert wait_for(lambda: cam.available)
        assert cam.read().shape == (48, 64, 3) and cam.reopen_count == 1
    finally:
        cam.close()


def test_read_after_close_is_unavailable(tmp_path):
    write_images(tmp_path / "cam")
    cam = open_device(f"camera+images://{tmp_path / 'cam'}")
    cam.close()
    with pytest.raises(DeviceUnavailable):
        cam.read()


def test_source_that_never_delivers_times_out():
    release = threading.Event()

    class Stuck:
        fps = 15.0

        def read(self):
            release.wait(2)
            return np.zeros((2, 2, 3), np.uint8)

        def close(self):
            pass

    cam = LatestFrameSource(Stuck, read_timeout_s=0.2)
    try:
        with pytest.raises(DeviceUnavailable) as err:
            cam.read()
        assert err.value.reason_key == "camera.no_frame"
    finally:
        release.set()
        cam.close()


def test_latest_frame_carries_the_time_it_was_grabbed_not_handed_over():
    grabbed = {}

    class Counting:
        fps = 100.0
        n = 0

        def read(self):
            self.n += 1
            grabbed[self.n] = time.monotonic()
            return np.full((2, 2, 3), self.n % 256, np.uint8)

        def close(self):
            pass

    cam = LatestFrameSource(Counting)
    try:
        assert cam.last_frame_time is None
        cam.read()
        time.sleep(0.3)                    # a slow consumer: ~30 frames went by meanwhile
        n = int(cam.read()[0, 0, 0])
        handed = time.monotonic()
        # stamped right after its backend read returned, before the next grab began
        assert grabbed[n] <= cam.last_frame_time <= grabbed.get(n + 1, handed)
    finally:
        cam.close()


def test_sequential_source_records_when_its_backend_delivered():
    from devices.frame_sources import ImageFolderBackend, SequentialFrameSource
    ticks = iter([5.0, 7.5])
    backend = ImageFolderBackend([], loop=False)
    backend.read = lambda: np.zeros((2, 2, 3), np.uint8)
    src = SequentialFrameSource(backend, "doc camera", "ended", clock=lambda: next(ticks))
    assert src.last_frame_time is None
    src.read()
    assert src.last_frame_time == 5.0
    src.read()
    assert src.last_frame_time == 7.5
