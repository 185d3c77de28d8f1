"""The face camera emulator: live-like motion, clock-timed blinks that dlib sees, scenarios."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from devices.camera.emulator import EmulatedCamera, close_eyes
from devices.interfaces import ConfigurationError, FrameSource
from devices.registry import open_device


class FakeClock:
    def __init__(self):
        self.t = 1000.0

    def __call__(self):
        return self.t

    def sleep(self, dt):
        self.t += dt


@pytest.fixture(scope="module")
def obama(faces_dir):
    return cv2.imread(str(faces_dir / "obama_2.jpg"))


def test_stream_is_640x480_alive_and_paced_by_the_clock(obama):
    clock = FakeClock()
    cam = EmulatedCamera(obama, fps=15, seed=1, clock=clock, sleep=clock.sleep)
    assert isinstance(cam, FrameSource)
    a, b = cam.read(), cam.read()
    assert a.shape == (480, 640, 3) and a.dtype == np.uint8
    assert clock.t == pytest.approx(1000.0 + 1 / 15)
    assert np.abs(a.astype(int) - b.astype(int)).mean() > 1.0   # motion, noise, light


def test_static_streams_the_still_photo_unchanged(obama):
    clock = FakeClock()
    cam = EmulatedCamera(obama, static=True, clock=clock, sleep=clock.sleep)
    assert np.array_equal(cam.read(), cam.read())


def test_blinks_are_timed_by_the_clock(obama):
    cam = EmulatedCamera(obama, seed=3, clock=FakeClock())
    t0 = cam._t0
    samples = [cam.eyes_closed_at(t0 + i / 1000) for i in range(20000)]   # 20 s at 1 ms
    starts = [i for i in range(1, len(samples)) if samples[i] and not samples[i - 1]]
    lengths = []
    for s in starts:
        e = s
        while e < len(samples) and samples[e]:
            e += 1
        lengths.append(e - s)
    gaps = np.diff(starts) / 1000
    assert 5 <= len(starts) <= 10
    assert all(150 <= n <= 251 for n in lengths)
    assert all(2.1 <= g <= 4.3 for g in gaps)


def test_painted_blink_drops_the_dlib_eye_aspect_ratio(obama):
    import face_recognition
    from devices.face.liveness import landmarks_ear
    cam = EmulatedCamera(obama, seed=1, clock=FakeClock())
    assert cam.blink and len(cam.eyes) == 2
    rgb_open = cam.base[:, :, ::-1].copy()
    rgb_shut = close_eyes(cam.base, cam.eyes)[:, :, ::-1].copy()
    box = face_recognition.face_locations(rgb_open, 0)[0]
    ear_open = landmarks_ear(face_recognition.face_landmarks(rgb_open, [box])[0])
    ear_shut = landmarks_ear(face_recognition.face_landmarks(rgb_shut, [box])[0])
    assert ear_shut < 0.25 and ear_shut < 0.75 * ear_open


def test_scenarios_from_urls(faces_dir):
    base = f"camera+emulator://face?faces_dir={faces_dir}"
    empty = open_device(base + "&faces=0&seed=1")
    assert empty.read().shape == (480, 640, 3) and not empty.eyes
    two = open_device(base + "&faces=2&static=1")
    assert two.read().shape == (480, 640, 3)
    small = open_device(base + "&photo=leslie_1.jpg&width=320&height=240&blink=0&fps=30")
    assert small.read().shape == (240, 320, 3) and not small.blink


def test_photo_resolved_from_environment(faces_dir, monkeypatch):
    monkeypatch.setenv("KIOSK_TESTDATA_FACES", str(faces_dir))
    assert open_device("camera+emulator://face?photo=biden_1.jpg&static=1").read().shape[:2] == \
        (480, 640)


@pytest.mark.parametrize("query", ["photo=nobody.jpg", "", "photo=obama_1.jpg&fps=0",
                                   "photo=obama_1.jpg&faces=3", "photo=obama_1.jpg&blink=maybe"])
def test_bad_emulator_urls_are_configuration_errors(faces_dir, query):
    with pytest.raises(ConfigurationError):
        open_device(f"camera+emulator://face?faces_dir={faces_dir}&{query}")
