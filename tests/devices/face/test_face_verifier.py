"""Live verification end to end with the camera emulator (real dlib, real clock)."""
from __future__ import annotations

import json
import random
import threading

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from devices.face import FaceAttempts, make_verifier
from devices.face.liveness import BlinkSettings
from devices.interfaces import DeviceError, FaceDecision, FaceVerifier, Liveness
from devices.registry import open_device

SHORT = BlinkSettings(window_s=3.0, blinks=(1,), delay_s=(0.3, 0.6))


def verifier(**kw):
    kw.setdefault("blink", SHORT)
    kw.setdefault("rng", random.Random(5))
    return make_verifier(**kw)


def test_implements_the_interface():
    assert isinstance(make_verifier(), FaceVerifier)


def test_blinking_stream_of_the_same_person_matches_and_passes_liveness(card_photo, emulator_url):
    v = verifier(max_attempts=3)
    events = []
    cam = open_device(emulator_url(photo="obama_2.jpg", blink=1, seed=2))
    result = v.verify(card_photo("obama_1"), cam, events.append, timeout=15)
    assert result.decision is FaceDecision.MATCH, result
    assert result.liveness is Liveness.PASSED
    assert result.distance < result.threshold and result.frames_used == v.n_frames
    assert "face.blink" in [e.prompt_key for e in events]
    assert cv2.imdecode(np.frombuffer(result.best_frame_jpeg, np.uint8), 1).shape == (480, 640, 3)
    assert v.attempts.attempts == 0


def test_still_photo_held_up_fails_the_challenge(card_photo, emulator_url):
    v = verifier(max_attempts=3)
    cam = open_device(emulator_url(photo="obama_2.jpg", static=1))
    result = v.verify(card_photo("obama_1"), cam, timeout=15)
    assert result.liveness is Liveness.FAILED
    assert result.reason_key == "face.liveness_failed"
    assert v.attempts.attempts == 1


def test_another_person_does_not_match(card_photo, emulator_url):
    v = verifier(liveness=False)
    cam = open_device(emulator_url(photo="biden_2.jpg", blink=0))
    result = v.verify(card_photo("obama_1"), cam, timeout=10)
    assert result.decision is FaceDecision.NO_MATCH and result.distance > result.threshold
    assert result.reason_key == "face.no_match" and result.liveness is Liveness.NOT_CHECKED


def test_two_people_trigger_multiple_faces_guidance(card_photo, emulator_url):
    v = verifier()
    events = []
    cam = open_device(emulator_url(faces=2))
    result = v.verify(card_photo("obama_1"), cam, events.append, timeout=2.0)
    assert "face.multiple_faces" in {e.prompt_key for e in events}
    assert result.decision is FaceDecision.UNDECIDED and result.frames_used == 0
    assert result.reason_key == "face.multiple_faces"


def test_empty_frame_gives_no_face(card_photo, emulator_url):
    v = verifier()
    events = []
    result = v.verify(card_photo("leslie_1"), open_device(emulator_url(faces=0)), events.append,
                      timeout=1.0)
    assert [e.prompt_key for e in events][:1] == ["face.no_face"]
    assert result.decision is FaceDecision.UNDECIDED and result.reason_key == "face.no_face"
    assert result.liveness is Liveness.NOT_CHECKED


def test_three_failed_attempts_offer_the_alternative(card_photo, emulator_url):
    v = verifier(max_attempts=3)
    reasons = []
    for _ in range(3):
        cam = open_device(emulator_url(faces=0))
        reasons.append(v.verify(card_photo("leslie_1"), cam, timeout=0.3).reason_key)
    assert reasons == ["face.no_face", "face.no_face", "face.offer_alternative"]
    assert v.attempts.exhausted and v.max_attempts == 3
    v.wipe()
    assert v.attempts.attempts == 0


def test_the_visit_not_the_verifier_limits_attempts(card_photo, emulator_url):
    """The kiosk's verifier has no limit of its own: the visit plan carries the site's
    `[face] max_attempts` (flows.engine), so a fourth failure is still just a failure."""
    v = verifier()
    reasons = [v.verify(card_photo("leslie_1"), open_device(emulator_url(faces=0)),
                        timeout=0.3).reason_key for _ in range(4)]
    assert reasons == ["face.no_face"] * 4 and v.max_attempts is None


def test_attempt_counter_counts_only_failures():
    from devices.interfaces import FaceResult
    a = FaceAttempts(2)
    ok = FaceResult(FaceDecision.MATCH, 0.4, 0.62, Liveness.PASSED)
    spoof = FaceResult(FaceDecision.MATCH, 0.4, 0.62, Liveness.FAILED)
    assert a.record(ok) is False and a.attempts == 0
    assert a.record(spoof) is False and a.record(spoof) is True
    with pytest.raises(ValueError):
        FaceAttempts(0)


def test_card_photo_without_usable_face_is_a_device_error(emulator_url):
    with pytest.raises(DeviceError) as err:
        verifier().verify(np.zeros((5, 5, 3), np.uint8), open_device(emulator_url(faces=0)),
                          timeout=1)
    assert err.value.reason_key == "face.no_card_photo"


def test_preview_while_verifying_and_a_cancel_is_not_an_attempt(card_photo, emulator_url):
    """The verifier as the session's face step drives it: `verify` on a worker thread, the
    preview read from another thread, the cancel event set from a third."""
    v = verifier(max_attempts=3)
    cam = open_device(emulator_url(photo="leslie_2.jpg", static=1))
    cancel, results = threading.Event(), []
    worker = threading.Thread(target=lambda: results.append(
        v.verify(card_photo("leslie_1"), cam, timeout=20, cancel=cancel)), daemon=True)
    worker.start()
    for _ in range(100):
        p = v.preview()
        if p is not None and p.box is not None:
            break
        threading.Event().wait(0.05)
    assert p.frame_bgr.shape == (480, 640, 3)
    top, right, bottom, left = p.box
    assert 0 <= left < right <= 640 and 0 <= top < bottom <= 480
    cancel.set()
    worker.join(5)
    result = results[0]
    assert result.reason_key == "face.cancelled"
    assert result.decision is FaceDecision.UNDECIDED
    assert v.attempts.attempts == 0          # a cancel is not a failed attempt
    v.wipe()
    assert v.preview() is None and v._card._encoding is None


def test_cli_still_image_json(faces_dir):
    from devices.face.cli import face
    out = CliRunner().invoke(face, ["verify", "--id-photo", str(faces_dir / "obama_1.jpg"),
                                    "--live", str(faces_dir / "obama_2.jpg"), "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert data["decision"] == "match" and data["liveness"] == "not_checked"
    assert data["distance"] < data["threshold"]


def test_cli_still_image_other_person_text(faces_dir):
    from devices.face.cli import face
    out = CliRunner().invoke(face, ["verify", "--id-photo", str(faces_dir / "leslie_1.jpg"),
                                    "--live", str(faces_dir / "harington_2.jpg"),
                                    "--threshold", "0.5"])
    assert out.exit_code == 0, out.output
    assert "decision: no_match" in out.output and "threshold: 0.500" in out.output
    assert "liveness: not_checked" in out.output


def test_cli_unreadable_live_image_is_a_clear_error(tmp_path, faces_dir):
    from devices.face.cli import face
    bad = tmp_path / "x.jpg"
    bad.write_bytes(b"not a jpeg")
    out = CliRunner().invoke(face, ["verify", "--id-photo", str(faces_dir / "obama_1.jpg"),
                                    "--live", str(bad), "--json"])
    assert out.exit_code != 0 and "cannot read" in out.output
