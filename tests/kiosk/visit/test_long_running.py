"""What a session that runs for months must not keep: drivers that came and went, and a clock
that may run faster than real time for a soak (benchmarks/soak.py) without changing what the
session does."""
from devices.clock import ScaledClock
from kiosk.visit import intents as I
from kiosk.visit.scripted_applicant import ScriptedApplicant, drive
from tests.kit.session_kit import make_session, wait_until


def test_a_driven_visit_leaves_no_listener_behind(mini_catalog, tmp_path):
    """Every headless visit (kiosk simulate, the soak, the UI autopilot) subscribed a queue and
    never left: each later snapshot was put on every old queue, for ever (found by the soak)."""
    session, *_ = make_session(mini_catalog, tmp_path)
    try:
        before = len(session._listeners)
        for _ in range(3):
            pilot = drive(session, ScriptedApplicant({}), "NP-OLD-ALLOWANCE", timeout=20)
            assert pilot.outcome == "done", pilot.screens
            session.send(I.Next())          # leave the end screen
            wait_until(lambda: session.snapshot.screen == "attract")
        assert len(session._listeners) == before
    finally:
        session.stop()


def test_unsubscribing_twice_is_harmless(mini_catalog, tmp_path):
    session, *_ = make_session(mini_catalog, tmp_path)
    try:
        seen = []
        session.subscribe(seen.append)
        session.unsubscribe(seen.append)
        session.unsubscribe(seen.append)
        count = len(seen)
        session.send(I.StartVisit("NP-OLD-ALLOWANCE"))
        wait_until(lambda: session.snapshot.screen == "guide")
        assert len(seen) == count
    finally:
        session.stop()


def test_a_faster_clock_shrinks_the_idle_timeout_and_nothing_else(mini_catalog, tmp_path):
    """On a clock 100 times faster, a 90 s idle timeout ends an untouched visit in 0.9 s of
    real time, through the same warning and the same cancellation as in service."""
    session, *_ = make_session(mini_catalog, tmp_path, idle_s=90, idle_warning_s=20,
                               clock=ScaledClock(100))
    reasons = []
    session.subscribe(lambda s: reasons.append((s.screen, s.idle_countdown, s.reason_key)))
    try:
        session.send(I.StartVisit("NP-OLD-ALLOWANCE"))
        wait_until(lambda: session.snapshot.screen == "guide")
        wait_until(lambda: session.snapshot.reason_key == "idle.cancelled", timeout=5)
        assert any(countdown for _, countdown, _ in reasons), "no idle warning was shown"
        assert session.state is None
    finally:
        session.stop()


class _BrokenReader:
    """A reader whose driver fails in a way it does not know (not a DeviceError)."""

    def __init__(self):
        self.calls = 0

    def read_card(self, timeout):
        self.calls += 1
        raise OSError(5, "Input/output error")

    def card_present(self):
        raise OSError(5, "Input/output error")

    def close(self):
        pass


def test_an_unknown_reader_failure_ends_the_visit_instead_of_reading_for_ever(mini_catalog,
                                                                             tmp_path):
    """It used to become 'read again' at once: a million reads in a soak of 100 visits."""
    session, devices, _sink = make_session(mini_catalog, tmp_path)
    devices.id_card = _BrokenReader()
    try:
        session.send(I.StartVisit("NP-OLD-ALLOWANCE"))
        wait_until(lambda: session.snapshot.screen == "guide")
        session.send(I.Next())
        wait_until(lambda: session.snapshot.screen == "consent")
        session.send(I.Agree(True))
        wait_until(lambda: session.snapshot.screen == "refused")
        assert session.snapshot.reason_key == "visit.capability_missing"
        assert devices.id_card.calls == 1
    finally:
        session.stop()
