"""Whole visits through the session actor with fake devices: snapshots, idle, wipe, isolation."""
import datetime as dt
import json
import threading
import time

import pytest

from kiosk.visit import intents as I
from kiosk.visit.scripted_applicant import ScriptedApplicant, drive
from tests.kit.cards import make_card
from tests.kit.session_kit import make_session, manifests, wait_until as _wait
from tests.kit.fakes import FakePrinter, FakeScanner, FakeVerifier


def test_whole_visit_writes_packet_and_receipt(mini_catalog, tmp_path):
    session, devices, sink = make_session(mini_catalog, tmp_path)
    try:
        pilot = drive(session, ScriptedApplicant({"form": {"mobile": "13912345678"}, "evaluation": 4}),
                      "NP-OLD-ALLOWANCE", timeout=20)
    finally:
        session.stop()
    assert pilot.outcome == "done", pilot.screens
    assert pilot.screens[:2] == ["guide", "consent"] and "materials" in pilot.screens
    packets = manifests(tmp_path / "s")
    app = [p for p in packets if p["kind"] == "application"][0]
    assert app["applicant"]["name"] == "王秀英" and app["form"]["mobile"] == "13912345678"
    assert app["face"]["decision"] == "match" and app["materials"][0]["status"] == "received"
    assert app["case_number"].startswith("T-TEST-S-")
    receipt = devices.printer.receipts[0]
    assert receipt.case_number == app["case_number"] and receipt.applicant_masked == "王*英"
    assert "*" in receipt.id_number_masked and receipt.id_number_masked[-4:] == app["applicant"]["id_number"][-4:]
    evaluation = [p for p in packets if p["kind"] == "evaluation"]
    assert evaluation[0]["case_number"] == app["case_number"]
    assert evaluation[0]["evaluation"]["level"] == 4 and "applicant" not in evaluation[0]


def test_refused_when_a_needed_device_is_missing(mini_catalog, tmp_path):
    session, devices, sink = make_session(mini_catalog, tmp_path)
    session.devices.printer = None
    try:
        pilot = drive(session, ScriptedApplicant(), "NP-OLD-ALLOWANCE", timeout=10)
    finally:
        session.stop()
    assert pilot.outcome == "refused" and pilot.reason_key == "visit.capability_missing"
    assert ("NP-OLD-ALLOWANCE", "device.printer") in session.closed_matters()


def test_too_young_is_refused_and_wiped(mini_catalog, tmp_path):
    session, devices, sink = make_session(mini_catalog, tmp_path, card=make_card(birth=dt.date(1990, 5, 5)))
    try:
        pilot = drive(session, ScriptedApplicant(), "NP-OLD-ALLOWANCE", timeout=10)
        assert pilot.reason_key == "eligibility.too_young"
        deadline = time.monotonic() + 5
        while session.snapshot.screen != "attract" and time.monotonic() < deadline:
            devices.id_card.present = False
            time.sleep(0.05)
        assert session.snapshot.screen == "attract" and session.state is None
        assert devices.face.wiped >= 1
        assert not list((tmp_path / "s").glob("*/manifest.json"))
    finally:
        session.stop()


@pytest.mark.parametrize("card,reason", [
    (make_card(birth=dt.date(1940, 1, 1), valid_until=dt.date(2020, 1, 1)),
     "eligibility.card_expired"),
    (make_card(birth=dt.date(1990, 5, 5)), "eligibility.too_young"),
])
def test_a_card_that_cannot_use_the_matter_never_opens_the_face_camera(mini_catalog, tmp_path,
                                                                       card, reason):
    session, devices, sink = make_session(mini_catalog, tmp_path, card=card)
    try:
        pilot = drive(session, ScriptedApplicant(), "NP-OLD-ALLOWANCE", timeout=10)
    finally:
        session.stop()
    assert pilot.outcome == "refused" and pilot.reason_key == reason
    assert "face" not in pilot.screens and pilot.screens[-1] == "refused"
    assert devices.face.calls == 0 and devices.camera.reads == 0


def test_the_configured_face_attempt_limit_offers_staff_check(mini_catalog, tmp_path):
    """[face] max_attempts = 2: after two failed attempts the visit offers staff check; the
    packet records two attempts, declined."""
    from kiosk.config import load_config
    from kiosk.app.terminal import session_settings
    config = load_config(overrides={"state_dir": str(tmp_path / "state"),
                                    "face": {"max_attempts": 2}})
    settings = session_settings(config)
    session, devices, sink = make_session(mini_catalog, tmp_path, verifier=FakeVerifier(["no_match"]),
                                          max_face_attempts=settings.max_face_attempts)
    reasons = []
    try:
        pilot = drive(session, ScriptedApplicant(), "NP-OLD-ALLOWANCE", timeout=20,
                      on_snapshot=lambda s: s.screen == "face" and reasons.append(
                          (s.face_attempts, s.reason_key)))
    finally:
        session.stop()
    assert pilot.outcome == "done", pilot.screens
    assert (1, "face.no_match") in reasons and (2, "face.offer_alternative") in reasons
    assert devices.face.calls == 2
    app = [p for p in manifests(tmp_path / "s") if p["kind"] == "application"][0]
    assert app["face"]["declined"] is True and app["face"]["attempts"] == 2


def test_forgotten_card_is_called_out_before_attract(mini_catalog, tmp_path):
    session, devices, sink = make_session(mini_catalog, tmp_path)
    seen = []
    try:
        drive(session, ScriptedApplicant(), "NP-OLD-ALLOWANCE", timeout=20, on_snapshot=seen.append)
        time.sleep(0.6)   # longer than the end screen: the card is still on the reader
        assert "visit.forgotten_card" in session.snapshot.alerts and session.snapshot.screen == "done"
        devices.id_card.present = False
        time.sleep(0.4)
        assert session.snapshot.screen == "attract" and session.snapshot.alerts == ()
    finally:
        session.stop()


def test_idle_warning_then_cancel_and_wipe(mini_catalog, tmp_path):
    clock = [1000.0]
    session, devices, sink = make_session(mini_catalog, tmp_path, idle_s=60, idle_warning_s=20,
                                          clock=lambda: clock[0])
    snaps = []
    session.subscribe(snaps.append)
    try:
        session.send(I.StartVisit("NP-OLD-ALLOWANCE"))
        _wait(lambda: session.snapshot.screen == "guide")
        clock[0] += 45
        _wait(lambda: session.snapshot.idle_countdown == 15)
        session.send(I.MoreTime())
        _wait(lambda: session.snapshot.idle_countdown is None)
        clock[0] += 61
        _wait(lambda: session.snapshot.reason_key == "idle.cancelled")
        assert session.state is None
    finally:
        session.stop()


def test_elder_mode_doubles_the_idle_timeout(mini_catalog, tmp_path):
    clock = [0.0]
    session, *_ = make_session(mini_catalog, tmp_path, idle_s=60, idle_warning_s=20,
                               clock=lambda: clock[0])
    try:
        session.send(I.SetElderMode(True))
        session.send(I.StartVisit("NP-OLD-ALLOWANCE"))
        _wait(lambda: session.snapshot.screen == "guide" and session.snapshot.elder)
        clock[0] += 90
        time.sleep(0.2)
        assert session.snapshot.screen == "guide"
        clock[0] += 31
        _wait(lambda: session.snapshot.reason_key == "idle.cancelled")
    finally:
        session.stop()


def test_paper_out_during_print_still_accepts(mini_catalog, tmp_path):
    session, devices, sink = make_session(mini_catalog, tmp_path, printer=FakePrinter(fail=True))
    try:
        pilot = drive(session, ScriptedApplicant(), "NP-OLD-ALLOWANCE", timeout=20)
    finally:
        session.stop()
    assert pilot.outcome == "done" and pilot.case_number
    assert session.snapshot.receipt_printed is False or session.snapshot.screen == "attract"


def test_face_fails_three_times_then_staff_check(mini_catalog, tmp_path):
    session, devices, sink = make_session(mini_catalog, tmp_path,
                                          verifier=FakeVerifier(["no_match"]))
    try:
        pilot = drive(session, ScriptedApplicant(), "NP-OLD-ALLOWANCE", timeout=20)
    finally:
        session.stop()
    app = [p for p in manifests(tmp_path / "s") if p["kind"] == "application"][0]
    assert pilot.outcome == "done"
    assert app["face"]["declined"] is True and app["face"]["attempts"] == 3


def test_rejected_page_is_retaken(mini_catalog, tmp_path):
    session, devices, sink = make_session(mini_catalog, tmp_path,
                                          scanner=FakeScanner(rejects=["doc.blurred", "doc.glare"]))
    reasons = []
    try:
        drive(session, ScriptedApplicant(), "NP-OLD-ALLOWANCE", timeout=20,
              on_snapshot=lambda s: reasons.append(s.reason_key))
    finally:
        session.stop()
    assert "doc.blurred" in reasons and "doc.glare" in reasons


def test_visits_back_to_back_and_side_by_side_do_not_leak(mini_catalog, tmp_path):
    people = [make_card(name="李建国", birth=dt.date(1930, 2, 2), seq="011"),
              make_card(name="赵淑芬", birth=dt.date(1935, 3, 3), seq="022"),
              make_card(name="孙大伟", birth=dt.date(1941, 4, 4), seq="031")]
    s1, d1, _ = make_session(mini_catalog, tmp_path, name="a")
    s2, d2, _ = make_session(mini_catalog, tmp_path, name="b", card=people[2])
    try:
        def back_to_back():
            for card in people[:2]:
                d1.id_card.card = card
                drive(s1, ScriptedApplicant(), "NP-OLD-ALLOWANCE", timeout=20)
                d1.id_card.present = False
                _wait(lambda: s1.snapshot.screen == "attract")
        t = threading.Thread(target=back_to_back)
        t.start()
        drive(s2, ScriptedApplicant(), "NP-OLD-ALLOWANCE", timeout=20)
        t.join(40)
    finally:
        s1.stop(), s2.stop()
    apps_a = [p for p in manifests(tmp_path / "a") if p["kind"] == "application"]
    apps_b = [p for p in manifests(tmp_path / "b") if p["kind"] == "application"]
    assert sorted(p["applicant"]["name"] for p in apps_a) == ["李建国", "赵淑芬"]
    assert [p["applicant"]["name"] for p in apps_b] == ["孙大伟"]
    for p in apps_a + apps_b:
        blob = json.dumps(p, ensure_ascii=False)
        others = [c for c in people if c.name != p["applicant"]["name"]]
        assert not any(c.name in blob or c.id_number in blob for c in others)
    receipts = d1.printer.receipts
    assert [r.applicant_masked for r in receipts] == ["李*国", "赵*芬"]
    assert len({r.case_number for r in receipts + d2.printer.receipts}) == 3


class WaitingVerifier(FakeVerifier):
    """A verification that runs until it is cancelled (a citizen who will not look up)."""

    def __init__(self):
        super().__init__()
        self.cancelled = threading.Event()

    def verify(self, card_photo_bgr, camera, on_event=None, timeout=30.0, cancel=None):
        from devices.interfaces import FaceDecision, FaceResult, Liveness
        if cancel is not None and cancel.wait(timeout):
            self.cancelled.set()
        return FaceResult(FaceDecision.UNDECIDED, None, 0.5, Liveness.NOT_CHECKED,
                          reason_key="face.cancelled")


def test_declining_the_face_check_while_the_camera_runs(mini_catalog, tmp_path):
    """Opting out of face verification is the applicant's right at any moment: the running
    check stops, its late result is dropped, and the visit goes on to a receipt."""
    verifier = WaitingVerifier()
    session, devices, sink = make_session(mini_catalog, tmp_path, verifier=verifier)
    try:
        started = time.monotonic()
        pilot = drive(session, ScriptedApplicant({"face": "decline", "form": {"mobile": "13912345678"}}),
                      "NP-OLD-ALLOWANCE", timeout=20)
        took = time.monotonic() - started
    finally:
        session.stop()
    assert pilot.outcome == "done", pilot.screens
    assert verifier.cancelled.is_set()
    assert took < 15, "the visit waited for the face check's own 30 s timeout"
    app = [m for m in manifests(tmp_path / "s") if m["kind"] == "application"][0]
    assert app["face"]["declined"] is True and app["face"]["decision"] != "match"
    assert devices.printer.receipts[0].case_number == app["case_number"]
