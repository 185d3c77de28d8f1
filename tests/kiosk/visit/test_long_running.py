"""What a session that runs for months must not keep: drivers that came and went, and a clock
that may run faster than real time for a soak (benchmarks/soak.py) without changing what the
session does."""
import threading
import time

from devices.clock import ScaledClock
from devices.id_card.emulator import EmulatorServer
from devices.id_card.scenario import load_scenario
from devices.registry import open_device
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


def _to_the_card_reader(session, then="id_card"):
    """Start a visit and agree to the terms: the card read starts; `then`: the screen it leads
    to."""
    session.send(I.StartVisit("NP-OLD-ALLOWANCE"))
    wait_until(lambda: session.snapshot.screen == "guide")
    session.send(I.Next())
    wait_until(lambda: session.snapshot.screen == "consent")
    session.send(I.Agree(True))
    wait_until(lambda: session.snapshot.screen == then)


class _BrokenReader:
    """A reader whose driver fails in a way it does not know (not a DeviceError)."""

    def __init__(self):
        self.calls = 0

    def read_card(self, timeout, cancel=None):
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
        _to_the_card_reader(session, then="refused")
        assert session.snapshot.reason_key == "visit.capability_missing"
        assert devices.id_card.calls == 1
    finally:
        session.stop()


class _HeldReader:
    """The real driver on the emulator, whose first read is still in progress when its visit
    ends: it returns (nothing found) only once the test lets it."""

    def __init__(self, reader):
        self.reader = reader
        self.held, self.release = threading.Event(), threading.Event()

    def read_card(self, timeout, cancel=None):
        if not self.held.is_set():
            self.held.set()
            self.release.wait(10)
        return self.reader.read_card(timeout, cancel)

    def card_present(self):
        return self.reader.card_present()

    def close(self):
        self.reader.close()




def test_a_card_read_of_a_visit_that_ended_does_not_take_the_next_applicants_card(
        mini_catalog, tmp_path):
    """The read job of a visit cancelled on the ID-card screen went on reading once the next
    visit had started (one 'visit ended' event, cleared by the next launch): it took the next
    applicant's card, the reader then answered 'no new card' to the right visit, which timed
    out (found by the soak: visits ending idle on the ID-card screen)."""
    server = EmulatorServer(load_scenario(None, None))
    path = server.start_pty()
    server.remove_card()
    session, devices, _sink = make_session(mini_catalog, tmp_path, card_read_s=60)
    devices.id_card = reader = _HeldReader(open_device(f"idcard+serial://{path}",
                                                       expected_kind="id_card"))
    try:
        _to_the_card_reader(session)                    # the first applicant ...
        assert reader.held.wait(5)
        session.send(I.Cancel())                        # ... leaves while the reader polls
        wait_until(lambda: session.snapshot.screen == "attract")
        _to_the_card_reader(session)                    # the next one comes
        reader.release.set()                            # the old read finds nothing
        time.sleep(0.3)
        server.place_card("wang_xiuying")               # and the new applicant's card is read
        wait_until(lambda: session.snapshot.screen != "id_card", timeout=5)
        assert session.snapshot.reason_key != "idle.cancelled"
    finally:
        session.stop()
        devices.id_card.close()
        server.stop()


class _RestlessDesk:
    """A document camera over a desk where nothing ever holds still (a hand moving, a page
    blowing): every frame differs from the one before, 50 a second."""

    def __init__(self):
        self.frames = 0

    def read(self):
        import numpy as np
        time.sleep(0.02)
        self.frames += 1
        return np.full((240, 320, 3), 255 if self.frames % 2 else 0, np.uint8)

    def close(self):
        pass


class _CancelWhileCapturing(ScriptedApplicant):
    """Asks for a page, and presses Cancel while the camera is still looking for it."""

    def decide(self, s):
        if s.screen == "materials" and s.busy:
            self.finished, self.outcome = True, "cancelled"
            return [I.Cancel()]
        return super().decide(s)


def test_a_page_capture_of_a_visit_that_ended_stops_and_frees_the_device_worker(mini_catalog,
                                                                                tmp_path):
    """The capture of a visit cancelled on the materials screen went on until the scanner's
    own timeout (20 s) on the terminal's one device worker: the next applicant's card read
    waited behind it, and the camera went on looking at the desk for a visit that was over."""
    from devices.document.scanner import DocCameraScanner
    desk = _RestlessDesk()
    scanner = DocCameraScanner(desk, timeout=60, max_frames=100_000)
    session, devices, _sink = make_session(mini_catalog, tmp_path, scanner=scanner)
    try:
        pilot = drive(session, _CancelWhileCapturing({"form": {"mobile": "13912345678"}}),
                      "NP-OLD-ALLOWANCE", timeout=20)
        assert pilot.outcome == "cancelled", pilot.screens
        wait_until(lambda: session.snapshot.screen == "attract")
        frames_at_cancel = desk.frames
        session.send(I.StartVisit("NP-OLD-ALLOWANCE"))      # the next applicant, card laid
        wait_until(lambda: session.snapshot.screen == "guide")
        session.send(I.Next())
        wait_until(lambda: session.snapshot.screen == "consent")
        session.send(I.Agree(True))
        wait_until(lambda: session.snapshot.screen not in ("consent", "id_card"), timeout=5)
        assert session.snapshot.screen in ("face", "role", "form"), session.snapshot  # card read
        assert desk.frames - frames_at_cancel < 25          # the camera stopped within a frame
    finally:
        session.stop()


def test_a_card_laid_just_after_the_last_applicant_cancelled_is_read_for_the_new_one(
        mini_catalog, tmp_path):
    """The read of a cancelled visit looked at its 'visit ended' event only between two read
    slices (0.25 s): a card laid within that time, by the next applicant, was found and read by
    the slice still running, for the ended visit; the reader then had no new card for the next
    visit, which timed out (the soak: 26 idle timeouts in 100 visits when half of them cancel).
    The reader now leaves a card it found unread once its read is no longer wanted."""
    server = EmulatorServer(load_scenario(None, None))
    path = server.start_pty()
    server.remove_card()
    session, devices, _sink = make_session(mini_catalog, tmp_path, card_read_s=60)
    devices.id_card = open_device(f"idcard+serial://{path}", expected_kind="id_card")
    try:
        for _ in range(5):
            _to_the_card_reader(session)                # an applicant agrees, then cancels
            session.send(I.Cancel())
            wait_until(lambda: session.snapshot.screen == "attract")
            _to_the_card_reader(session)                # the next one lays a card at once
            server.place_card("wang_xiuying")
            wait_until(lambda: session.snapshot.screen != "id_card", timeout=5)
            assert session.snapshot.reason_key != "idle.cancelled"
            session.send(I.Cancel())
            wait_until(lambda: session.snapshot.screen in ("attract",))
            server.remove_card()
    finally:
        session.stop()
        devices.id_card.close()
        server.stop()
