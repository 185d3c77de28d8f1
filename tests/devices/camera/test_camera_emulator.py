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


def test_last_frame_time_is_the_clock_time_the_frame_was_rendered_at(obama):
    clock = FakeClock()
    cam = EmulatedCamera(obama, fps=10, seed=1, clock=clock, sleep=clock.sleep)
    assert cam.last_frame_time is None
    cam.read()
    assert cam.last_frame_time == 1000.0
    clock.t += 0.5                           # a slow consumer: the next frame is late
    cam.read()
    assert cam.last_frame_time == 1000.5


def test_frame_pace_advances_one_frame_per_read_and_never_sleeps(obama):
    clock, slept = FakeClock(), []
    cam = EmulatedCamera(obama, fps=12.5, seed=1, clock=clock, sleep=slept.append,
                         pace="frames")
    cam.read()
    first = cam.last_frame_time
    assert first == 1000.0
    for n in range(1, 41):
        cam.read()
        assert cam.last_frame_time - first == pytest.approx(n / 12.5, abs=1e-9)
    assert slept == [] and clock.t == 1000.0        # the clock was never waited on


def test_frame_pace_blinks_on_frame_time_and_repeats_for_a_seed(obama):
    def frames(seed):
        cam = EmulatedCamera(obama, fps=10, seed=seed, clock=FakeClock(), pace="frames",
                             blink_every_s=(0.5, 1.0), blink_len_s=(0.3, 0.45))
        shot = [cam.read() for _ in range(40)]      # 4 s on the frame clock
        return shot, cam.blinks_started
    a, blinks = frames(7)
    b, _ = frames(7)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert 3 <= blinks <= 8                         # every 0.8-1.45 s, the first after 0.25-0.6 s


def test_a_scaled_clock_paces_the_stream(obama, faces_dir):
    import time
    from devices.clock import ScaledClock
    sc = ScaledClock(300)
    cams = [EmulatedCamera(obama, fps=15, seed=1, clock=sc.monotonic, sleep=sc.sleep),
            EmulatedCamera(obama, fps=15, seed=1, clock=sc),            # brings its own sleep
            open_device(f"camera+emulator://face?faces_dir={faces_dir}&photo=obama_2.jpg"
                        "&seed=1", clock=sc, sleep=sc.sleep)]
    started = time.monotonic()
    for cam in cams:
        times = []
        for _ in range(31):
            cam.read()
            times.append(cam.last_frame_time)
        assert all(b - a >= 1 / 15 - 1e-6 for a, b in zip(times, times[1:]))
        assert times[-1] - times[0] >= 2.0 - 1e-6    # 2 s of the clock's time
    assert time.monotonic() - started < 30           # 6 s of clock time, not 6 s of waiting


def test_pace_and_blink_options_from_urls(faces_dir):
    base = f"camera+emulator://face?faces_dir={faces_dir}&photo=leslie_1.jpg&seed=1"
    cam = open_device(base + "&pace=frames&blink_every=0.5-1&blink_len=0.3-0.45")
    assert cam.pace == "frames"
    assert cam._blink_every == (0.5, 1.0) and cam._blink_lens == (0.3, 0.45)
    default = open_device(base)
    assert default.pace == "clock"
    assert default._blink_every == (2.0, 4.0) and default._blink_lens == (0.15, 0.25)
    assert open_device(base + "&blink_every=3")._blink_every == (3.0, 3.0)


@pytest.mark.parametrize("option", ["pace=fast", "blink_every=soon", "blink_every=2-1",
                                    "blink_every=1-2-3", "blink_every=-1", "blink_len=0",
                                    "blink_len=0.2-"])
def test_bad_pace_and_blink_options_name_the_option(faces_dir, option):
    with pytest.raises(ConfigurationError) as err:
        open_device(f"camera+emulator://face?faces_dir={faces_dir}&photo=leslie_1.jpg&{option}")
    assert option.split("=")[0] in str(err.value)


def test_cameras_of_the_same_photo_and_size_share_the_face_and_eyes_found(obama):
    one = EmulatedCamera(obama, seed=1, clock=FakeClock())
    two = EmulatedCamera(obama, seed=2, clock=FakeClock())
    assert two.base is one.base and two.eyes is one.eyes          # found once, not per camera
    small = EmulatedCamera(obama, width=320, height=240, face_px=100, clock=FakeClock())
    still = EmulatedCamera(obama, static=True, clock=FakeClock())
    assert small.base.shape == (240, 320, 3) and len(small.eyes) == 2
    assert still.eyes == [] and np.array_equal(still.base, one.base)
