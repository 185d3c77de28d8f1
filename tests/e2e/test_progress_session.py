"""The session's progress service without a back office or emulators: what a citizen can do
when nothing answers, walking away, going back during a card read, asking for help."""
from __future__ import annotations

import time

from e2e_kit import free_port, wait_until
from flows.catalog import load_catalog
from kiosk.visit import intents as I
from kiosk.link.progress_client import ProgressClient
from kiosk.visit.session import Devices, Session, SessionSettings
from kiosk.visit.packet import DirectorySink
from tests.kit.fakes import FakeCamera, FakePrinter, FakeReader, FakeScanner, FakeVerifier


def session(tmp_path, idle_s=60.0):
    import nacl.signing
    devices = Devices(FakeReader(None), FakeCamera(), FakeVerifier(), FakeScanner(), FakePrinter())
    sink = DirectorySink(tmp_path / "packets", "T-1", "site")
    client = ProgressClient(f"http://127.0.0.1:{free_port()}", "T-1",
                            nacl.signing.SigningKey.generate(), timeout_s=2)
    s = Session(load_catalog(), devices, sink, SessionSettings(
        terminal_id="T-1", site_name="站", phone="12345", idle_s=idle_s, idle_warning_s=0.5,
        end_screen_s=0.3, card_read_s=30), progress=client).start()
    return s, sink


def screen(s, name, reason=None, busy=None):
    def ok():
        snap = s.snapshot
        return snap.screen == name and (reason is None or snap.reason_key == reason) and \
            (busy is None or snap.busy == busy)
    wait_until(ok, 10, f"screen {name} {reason or ''}")
    return s.snapshot


def test_back_office_unreachable_back_during_card_read_help_and_idle(tmp_path):
    s, sink = session(tmp_path, idle_s=3.0)
    try:
        s.send(I.StartProgress())
        screen(s, "progress")
        s.send(I.EnterCaseNumber("https://bo.example/progress/T-1-20260101-000001?t=" + "A" * 22))
        snap = screen(s, "progress", "progress.offline", busy=False)   # the receipt's QR code
        assert snap.cases == ()
        s.send(I.EnterCaseNumber("T-1-20260101-000001"))     # a bare number needs the ID card
        assert screen(s, "progress_card").busy
        s.send(I.Back())
        screen(s, "progress", busy=False)
        s.send(I.ReadCardForProgress())              # no card on the reader: it waits
        assert screen(s, "progress_card").busy
        s.send(I.Back())                             # changed my mind: the read is cancelled
        assert not screen(s, "progress", busy=False).busy
        s.send(I.Help("could_not_finish"))
        screen(s, "help")
        assert [kind for kind, _a in sink.accepted] == ["help_request"]
        screen(s, "attract")
        s.send(I.StartProgress())
        screen(s, "progress")
        time.sleep(0.2)                              # nobody touches the screen any more
        screen(s, "refused", "idle.cancelled")
        screen(s, "attract")
    finally:
        s.stop()


def test_starting_again_while_the_end_screen_is_up_is_not_cut_short(tmp_path):
    """The end screen's timer used to run on and wipe a progress query started meanwhile."""
    s, _sink = session(tmp_path)
    try:
        s.send(I.StartProgress())
        screen(s, "progress")
        s.send(I.Help("could_not_finish"))
        screen(s, "help")                            # an end screen, 0.3 s
        s.send(I.StartProgress())
        screen(s, "progress")
        time.sleep(1.0)
        assert s.snapshot.screen == "progress"
        s.send(I.Cancel())
        screen(s, "attract")
        s.send(I.StartVisit("NP-WORK-NO-CRIME"))     # and the same for a matter
        screen(s, "guide")
        time.sleep(1.0)
        assert s.snapshot.screen == "guide"
    finally:
        s.stop()


def test_a_sensitive_case_asks_for_the_card_to_say_what_to_bring():
    """By the receipt's token a sensitive matter's supplement request names no material; the
    kiosk then reads the card and shows the case from the applicant's own cases."""
    import threading

    from kiosk.visit.cases import CaseProgress, RequestedMaterial
    from kiosk.visit.returning import ProgressVisit

    class Client:
        def case(self, number, token):
            assert token == "T" * 22
            return CaseProgress(number, "", "needs_supplement", "2026-01-01T00:00:00+00:00")

        def cases_of(self, id_number):
            return [CaseProgress("T-1-20260101-000001", "NP-WORK-DIBAO", "needs_supplement",
                                 "2026-01-01T00:00:00+00:00",
                                 requested=(RequestedMaterial("medical_diagnosis", "诊断", "看不清"),))]

    class Card:
        id_number = "510102198001011234"
        photo_bgr = None

    visit = ProgressVisit(load_catalog(), Client(), read_card=lambda cancel: Card(),
                          capture_page=None, accept=None, capture_unavailable=lambda: None)
    job = visit.on_intent(I.EnterCaseNumber("https://bo/progress/T-1-20260101-000001?t=" + "T" * 22))
    while job is not None:
        job = visit.on_result(job.name, job.run(threading.Event()), None)
    assert visit.screen == "progress_result"
    [case] = visit.cases
    assert case.matter_code == "NP-WORK-DIBAO" and case.needs_supplement
