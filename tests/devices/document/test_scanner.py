"""DocCameraScanner over the emulator, an image folder and a video clip; URLs and unplugging."""
from __future__ import annotations

import threading
import time

import cv2
import pytest

from devices.document.emulator import EmulatedDocCamera
from devices.document.scanner import DocCameraScanner
from devices.interfaces import ConfigurationError, DeviceUnavailable, DocumentScanner
from devices.registry import open_device


def test_scanner_over_the_emulator_url_gives_each_scenario_its_reason():
    scanner = open_device("doccam+emulator://pages?sequence=clean,blur,glare,rotated,cropped&seed=1",
                          expected_kind="doc_camera")
    assert isinstance(scanner, DocumentScanner)
    try:
        results = [scanner.capture_page() for _ in range(5)]
    finally:
        scanner.close()
    assert [r.reason_key for r in results] == [None, "doc.blurred", "doc.glare", None, "doc.not_whole"]
    assert [r.accepted for r in results] == [True, False, False, True, False]
    assert (results[0].width_px, results[0].height_px, results[0].dpi) == (1654, 2339, 200)


def test_scanner_waits_for_the_page_to_be_still():
    camera = EmulatedDocCamera(sequence=("clean",), seed=3, motion_frames=3, still_frames=4)
    scanner = DocCameraScanner(camera)
    page = scanner.capture_page()
    assert page.accepted
    # 3 moving frames, then 3 frames are needed to see two still pairs
    assert camera.frames_served == 6


def test_a_page_that_never_holds_still_is_not_captured():
    camera = EmulatedDocCamera(sequence=("clean", "rotated"), seed=2, motion_frames=3, still_frames=0)
    page = DocCameraScanner(camera, max_frames=12).capture_page()
    assert not page.accepted and page.reason_key == "doc.not_still"


def test_the_same_page_is_not_taken_twice(tmp_path, frames):
    cv2.imwrite(str(tmp_path / "page.png"), frames("clean", 0))
    scanner = open_device(f"doccam+images://{tmp_path}?repeat=3&max_frames=10")
    first, second = scanner.capture_page(), scanner.capture_page()
    assert first.accepted
    assert not second.accepted and second.reason_key == "doc.same_page"


def test_image_folder_pages_in_name_order(tmp_path, frames):
    for name, (scenario, seed) in {"a.png": ("glare", 0), "b.png": ("clean", 1),
                                   "c.jpg": ("nopage", 2)}.items():
        cv2.imwrite(str(tmp_path / name), frames(scenario, seed))
    scanner = open_device(f"doccam+images://{tmp_path}?repeat=3&loop=0")
    assert [scanner.capture_page().reason_key for _ in range(3)] == ["doc.glare", None, "doc.no_page"]
    with pytest.raises(DeviceUnavailable) as err:
        scanner.capture_page()
    assert err.value.reason_key == "doc.camera_unplugged"


def test_video_clip_source(tmp_path, frames):
    clip = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"MJPG"), 10, (1280, 960))
    if not writer.isOpened():
        pytest.skip("this OpenCV build cannot write MJPG AVI")
    for scenario, seed in (("small", 0), ("clean", 1)):
        for _ in range(4):
            writer.write(frames(scenario, seed))
    writer.release()
    scanner = open_device(f"doccam+file://{clip}")
    assert scanner.capture_page().reason_key == "doc.too_small"
    assert scanner.capture_page().accepted


def test_unplugged_emulator_raises_device_unavailable():
    scanner = open_device("doccam+emulator://pages?sequence=clean&unplug_after=3")
    with pytest.raises(DeviceUnavailable) as err:
        scanner.capture_page()
    assert err.value.reason_key == "doc.camera_unplugged"


def test_missing_v4l2_device_is_unplugged():
    with pytest.raises(DeviceUnavailable) as err:
        open_device("doccam+v4l2:///dev/video-not-here?width=1920&height=1080")
    assert err.value.reason_key == "doc.camera_unplugged"


@pytest.mark.parametrize("url,message", [
    ("doccam+emulator://pages?sequence=clean,teapot", "teapot"),
    ("doccam+emulator://pages?seed=one", "seed"),
    ("doccam+emulator://pages?dpi=72", "dpi"),
    ("doccam+images:///no/such/folder", "does not exist"),
    ("doccam+file:///no/such/clip.mp4", "does not exist"),
])
def test_bad_urls_are_configuration_errors(url, message):
    with pytest.raises(ConfigurationError, match=message):
        open_device(url)


def test_closed_scanner_reports_unplugged():
    scanner = open_device("doccam+emulator://pages?sequence=clean")
    scanner.close()
    with pytest.raises(DeviceUnavailable):
        scanner.capture_page()


def test_cli_frames_then_capture_from_the_folder(tmp_path):
    from click.testing import CliRunner

    from devices.document.cli import doc

    runner = CliRunner()
    frames_dir, out_dir = tmp_path / "frames", tmp_path / "out"
    res = runner.invoke(doc, ["frames", "--out", str(frames_dir), "--sequence", "glare,clean,clean"])
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in frames_dir.iterdir()) == ["00_glare.png", "01_clean.png",
                                                            "02_clean.png"]
    res = runner.invoke(doc, ["capture", f"doccam+images://{frames_dir}?loop=0", "--pages", "2",
                              "--out", str(out_dir), "--material", "licence"])
    assert res.exit_code == 0, res.output
    assert "rejected doc.glare" in res.output
    assert (out_dir / "licence.pdf").read_bytes().startswith(b"%PDF-")
    assert sorted(p.name for p in out_dir.glob("page*.jpg")) == ["page01.jpg", "page02.jpg"]
    res = runner.invoke(doc, ["frames", "--out", str(frames_dir), "--sequence", "teapot"])
    assert res.exit_code != 0 and "teapot" in res.output


def test_a_capture_stops_within_a_frame_once_cancelled():
    camera = EmulatedDocCamera(sequence=("clean",), seed=2, motion_frames=3, still_frames=0)
    cancel = threading.Event()
    scanner = DocCameraScanner(camera, timeout=60, max_frames=100_000)
    threading.Timer(0.3, cancel.set).start()
    started = time.monotonic()
    page = scanner.capture_page(cancel=cancel)
    assert not page.accepted and page.reason_key == "doc.cancelled"
    assert time.monotonic() - started < 3
    served = camera.frames_served
    assert scanner.capture_page(cancel=cancel).reason_key == "doc.cancelled"
    assert camera.frames_served == served           # already over: not one more frame
