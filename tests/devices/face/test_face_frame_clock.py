"""Face checks on an emulated camera with a frame clock (`pace=frames`), as the soak runs them:
frames are timed by their capture time, so the result depends on the frames, not on how fast
they were analysed, and it is the same for the same seeds; the face worker gets them too."""
from __future__ import annotations

import random

import pytest

from devices.camera.emulator import SOAK_OPTIONS
from devices.clock import ScaledClock
from devices.face import make_verifier
from devices.face.verifier import FrameTimes, capture_time
from devices.interfaces import FaceDecision, Liveness
from devices.registry import open_device

FAST = SOAK_OPTIONS          # 8 fps on the frame clock, 320x240, blinking every 0.5-1 s


class JumpingClock:
    """A verifier's clock on a very slow machine: 2 s pass between any two readings."""

    def __init__(self):
        self.t = 0.0

    def __call__(self):
        self.t += 2.0
        return self.t


class WithoutCaptureTimes:
    """The same frames from a camera that does not say when they were captured."""

    def __init__(self, camera):
        self._camera = camera

    def read(self):
        return self._camera.read()


def check(card_photo, emulator_url, opts, seed=3, person="leslie", verifier=None):
    """One face check of `person` on a fresh camera; (result, frames the camera rendered)."""
    camera = open_device(emulator_url(photo=f"{person}_2.jpg", seed=seed) + "&" + opts)
    verifier = verifier or make_verifier(rng=random.Random(seed))
    return verifier.verify(card_photo(f"{person}_1"), camera, timeout=60), camera._frame_no


def twice(card_photo, emulator_url, opts, seed=3):
    """The same check twice with the same seeds, on one verifier: the card photo is encoded
    once (dlib jitters the card's encoding at random), the challenge's random draws repeat."""
    rng = random.Random()
    verifier = make_verifier(rng=rng)
    runs = []
    for _ in range(2):
        rng.seed(seed)
        runs.append(check(card_photo, emulator_url, opts, seed, verifier=verifier))
    return runs


def test_frame_clock_check_matches_and_passes_liveness_the_same_way_for_a_seed(card_photo,
                                                                              emulator_url):
    (first, frames), again = twice(card_photo, emulator_url, FAST)
    assert first.decision is FaceDecision.MATCH and first.liveness is Liveness.PASSED, first
    assert first.distance < first.threshold
    assert again == (first, frames)


def test_default_blink_schedule_passes_on_the_frame_clock(card_photo, emulator_url):
    result, frames = check(card_photo, emulator_url, "pace=frames", person="obama", seed=2)
    assert result.decision is FaceDecision.MATCH and result.liveness is Liveness.PASSED, result
    assert frames < 15 * 15                  # well inside the challenge on the frame clock


def test_still_photo_fails_liveness_on_the_frame_clock_the_same_way_for_a_seed(card_photo,
                                                                              emulator_url):
    (result, frames), again = twice(card_photo, emulator_url, FAST + "&static=1")
    assert result.liveness is Liveness.FAILED and result.reason_key == "face.liveness_failed"
    assert again == (result, frames)
    # the window (6 s, 9 s for two blinks) closed on the frame clock, not on the wall clock
    assert 6.0 * 8 <= frames <= (1.5 + 9.0) * 8


def test_a_slow_consumer_still_times_the_blink_by_capture_time(card_photo, emulator_url):
    """2 s of the verifier's clock pass per frame: timed on arrival, the blink challenge's
    window closes after a few frames; timed by capture, the blink is seen as it happened."""
    url = emulator_url(photo="leslie_2.jpg", seed=3) + "&" + FAST
    by_capture = make_verifier(clock=JumpingClock(), rng=random.Random(3))
    result = by_capture.verify(card_photo("leslie_1"), open_device(url), timeout=10_000)
    assert result.decision is FaceDecision.MATCH and result.liveness is Liveness.PASSED, result
    on_arrival = make_verifier(clock=JumpingClock(), rng=random.Random(3))
    late = on_arrival.verify(card_photo("leslie_1"), WithoutCaptureTimes(open_device(url)),
                             timeout=10_000)
    assert late.liveness is Liveness.FAILED


def test_a_run_keeps_the_time_base_of_its_first_frame():
    class Camera:
        last_frame_time = 10.0
    clock = iter([500.0, 501.0]).__next__
    times, camera = FrameTimes(clock), Camera()
    assert times.of(camera) == 10.0
    camera.last_frame_time = None            # a source that stops saying: time holds
    assert times.of(camera) == 10.0
    camera.last_frame_time = 9.0             # never backwards
    assert times.of(camera) == 10.0
    camera.last_frame_time = 10.5
    assert times.of(camera) == 10.5
    on_clock = FrameTimes(clock)
    assert on_clock.of(object()) == 500.0 and on_clock.capture is False
    camera.last_frame_time = 3.0             # capture times appearing later are not used
    assert on_clock.of(camera) == 501.0


def test_the_worker_times_frames_by_their_capture_time(card_photo, emulator_url):
    """The face worker's clock runs 50 times faster than real time, so each frame it analyses
    takes seconds of its time: it passes only because capture times cross the pipe."""
    worker = make_verifier(isolated=True, clock=ScaledClock(50), rng=random.Random(3))
    try:
        camera = open_device(emulator_url(photo="leslie_2.jpg", seed=3) + "&" + FAST)
        result = worker.verify(card_photo("leslie_1"), camera, timeout=50 * 60)
        assert result.decision is FaceDecision.MATCH, result
        assert result.liveness is Liveness.PASSED, result
        assert worker.preview() is not None and worker.preview().frame_bgr.shape == (240, 320, 3)
    finally:
        worker.close()


def test_a_camera_behind_the_device_supervisor_passes_its_capture_times_on(card_photo,
                                                                            emulator_url):
    """The kiosk hands the verifier the supervisor's proxy: it passes the camera's capture time
    on (a number, never the proxy's stand-in method), so the check runs on the frame clock."""
    from devices.supervisor import DeviceSupervisor
    url = emulator_url(photo="leslie_2.jpg", seed=3) + "&" + FAST
    supervisor = DeviceSupervisor("camera", url, open_device)
    try:
        assert supervisor.open_now()
        camera = supervisor.proxy
        camera.read()
        first = capture_time(camera)
        camera.read()
        assert first is not None and capture_time(camera) == pytest.approx(first + 1 / 8)
        result = make_verifier(rng=random.Random(3)).verify(card_photo("leslie_1"), camera,
                                                            timeout=60)
        assert result.decision is FaceDecision.MATCH and result.liveness is Liveness.PASSED
    finally:
        supervisor.close()
