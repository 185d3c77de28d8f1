"""Face verification in its own process (what the app uses): same results as in-process,
guidance and preview cross the pipe, cancel works, a dead worker is reported and replaced."""
from __future__ import annotations

import os
import random
import signal
import threading

import pytest

from devices.face import make_verifier
from devices.face.liveness import BlinkSettings
from devices.interfaces import DeviceUnavailable, FaceDecision, FaceVerifier, Liveness
from devices.registry import open_device

# The app's own challenge window (6 s), one blink: frames cross a pipe here, and a 3 s window
# could close before the emulated person's next blink (every 2-4 s) was sampled.
SHORT = BlinkSettings(blinks=(1,), delay_s=(0.3, 0.6))


@pytest.fixture(scope="module")
def worker():
    v = make_verifier(isolated=True, blink=SHORT, rng=random.Random(5))
    yield v
    v.close()


def test_matches_in_the_worker_with_guidance_and_preview(worker, card_photo, emulator_url):
    assert isinstance(worker, FaceVerifier)
    events = []
    cam = open_device(emulator_url(photo="obama_2.jpg", blink=1, seed=2))
    result = worker.verify(card_photo("obama_1"), cam, events.append, timeout=20)
    assert result.decision is FaceDecision.MATCH and result.liveness is Liveness.PASSED, result
    assert "face.blink" in [e.prompt_key for e in events]
    live = worker.preview()
    assert live is not None and live.frame_bgr.shape == (480, 640, 3) and live.box is not None
    worker.wipe()
    assert worker.preview() is None


def test_another_person_does_not_match(worker, card_photo, emulator_url):
    cam = open_device(emulator_url(photo="biden_2.jpg", blink=1))
    result = worker.verify(card_photo("obama_1"), cam, timeout=20)
    assert result.decision is not FaceDecision.MATCH
    worker.wipe()


def test_cancel_stops_the_attempt(worker, card_photo, emulator_url):
    cancel = threading.Event()
    cam = open_device(emulator_url(photo="leslie_2.jpg", static=1))
    threading.Timer(1.0, cancel.set).start()
    result = worker.verify(card_photo("leslie_1"), cam, timeout=60, cancel=cancel)
    assert result.decision is FaceDecision.UNDECIDED and result.reason_key == "face.cancelled"
    worker.wipe()


def test_camera_unplugged_mid_check_is_reported_and_the_worker_goes_on(worker, card_photo,
                                                                      emulator_url):
    cam = open_device(emulator_url(photo="obama_2.jpg", static=1))
    threading.Timer(1.0, cam.close).start()
    with pytest.raises(DeviceUnavailable):
        worker.verify(card_photo("obama_1"), cam, timeout=20)
    cam = open_device(emulator_url(photo="obama_2.jpg", blink=1, seed=2))
    assert worker.verify(card_photo("obama_1"), cam, timeout=20).decision is FaceDecision.MATCH
    worker.wipe()


def test_a_dead_worker_is_reported_then_replaced(card_photo, emulator_url):
    v = make_verifier(isolated=True, blink=SHORT, rng=random.Random(5))
    try:
        cam = open_device(emulator_url(photo="obama_2.jpg", static=1))   # runs until killed
        threading.Timer(1.0, os.kill, (v._proc.pid, signal.SIGKILL)).start()
        with pytest.raises(DeviceUnavailable) as err:
            v.verify(card_photo("obama_1"), cam, timeout=30)
        assert err.value.reason_key == "face.unavailable"
        cam = open_device(emulator_url(photo="obama_2.jpg", blink=1, seed=2))
        assert v.verify(card_photo("obama_1"), cam, timeout=20).decision is FaceDecision.MATCH
    finally:
        v.close()


APP_DIES_MID_CHECK = """
import os, sys, cv2
sys.path.insert(0, {repo!r})
from devices.assets import FACES_DIR
from devices.face import make_verifier
from devices.face.calibrate import card_photo_of

frame = cv2.resize(cv2.imread(str(FACES_DIR / "obama_2.jpg")), (640, 480))


class DyingApp:
    reads = 0

    def read(self):
        self.reads += 1
        if self.reads == 1:
            print(verifier.worker_pid, flush=True)
        if self.reads == 3:
            os._exit(3)             # the app is gone mid-check: no close(), no goodbye
        return frame

    def close(self):
        pass


if __name__ == "__main__":        # the worker is spawned: it imports this file as well
    verifier = make_verifier(isolated=True)
    verifier.verify(card_photo_of(cv2.imread(str(FACES_DIR / "obama_1.jpg"))), DyingApp(),
                    timeout=30)
"""


def test_when_the_app_dies_mid_check_the_worker_leaves_quietly(tmp_path):
    """The app killed or crashed while the worker waits for a frame: the worker sees its pipe
    closed, exits without a traceback in the log, and lingers nowhere."""
    import subprocess
    import sys
    import time
    from pathlib import Path
    repo = str(Path(__file__).resolve().parents[3])
    script = tmp_path / "app.py"
    script.write_text(APP_DIES_MID_CHECK.format(repo=repo))
    stderr = tmp_path / "stderr.txt"
    with open(stderr, "wb") as err:
        app = subprocess.run([sys.executable, str(script)], stdout=subprocess.PIPE, stderr=err,
                             timeout=90, cwd=tmp_path)
    assert app.returncode == 3, stderr.read_text()
    worker_pid = int(app.stdout.split()[0])
    deadline = time.monotonic() + 15
    while Path(f"/proc/{worker_pid}").exists() and time.monotonic() < deadline:
        status = Path(f"/proc/{worker_pid}/status").read_text(errors="replace")
        if "State:\tZ" in status:
            break                   # exited, waiting only for init to reap it
        time.sleep(0.1)
    assert not Path(f"/proc/{worker_pid}").exists() or "State:\tZ" in Path(
        f"/proc/{worker_pid}/status").read_text(errors="replace"), "the face worker lingers"
    # the worker shares the app's stderr: whatever it wrote on the way out is in there
    time.sleep(0.5)
    assert "Traceback" not in stderr.read_text(), stderr.read_text()
