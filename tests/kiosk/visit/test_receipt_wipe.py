"""The printed receipt goes with the visit: after the wipe the printer keeps nothing of the
citizen, so a technician's reprint (through the same supervisor proxy the maintenance screen
used) prints nothing. The session runs a whole visit on the real ESC/POS driver, talking to the
wire-level emulator over a pty."""
import datetime as dt
import time

import pytest

from devices.interfaces import DeviceError
from devices.printer.emulator import PrinterEmulator
from devices.registry import open_device
from devices.supervisor import DeviceSupervisor
from kiosk.visit.scripted_applicant import ScriptedApplicant, drive
from kiosk.visit.session import Devices, Session, SessionSettings
from kiosk.visit.packet import DirectorySink
from tests.kit.cards import make_card
from tests.kit.fakes import FakeCamera, FakeReader, FakeScanner, FakeVerifier


@pytest.fixture
def supervised_printer(tmp_path):
    """(emulator, supervisor) — the printer as kiosk.app.terminal wires it."""
    emulator = PrinterEmulator(out_dir=tmp_path / "paper")
    url = "escpos+serial://" + emulator.start_pty() + "?status_timeout=0.5&job_timeout=5"
    sup = DeviceSupervisor("printer", url, lambda u: open_device(u, expected_kind="printer"))
    assert sup.open_now()
    yield emulator, sup
    sup.close()
    emulator.stop()


def _wait_attract(session, reader, timeout=5.0):
    deadline = time.monotonic() + timeout
    while session.snapshot.screen != "attract" and time.monotonic() < deadline:
        reader.present = False          # the applicant took the card: the end screen times out
        time.sleep(0.05)
    assert session.snapshot.screen == "attract" and session.state is None


def test_a_technician_reprint_after_the_visit_prints_nothing_of_the_citizen(
        mini_catalog, tmp_path, supervised_printer):
    emulator, sup = supervised_printer
    reader = FakeReader(make_card(birth=dt.date(1940, 1, 1)))
    devices = Devices(id_card=reader, camera=FakeCamera(), face=FakeVerifier(),
                      scanner=FakeScanner(), printer=sup.proxy)
    sink = DirectorySink(tmp_path / "packets", "T-TEST-W", "site-test")
    session = Session(mini_catalog, devices, sink, SessionSettings(
        terminal_id="T-TEST-W", site_name="测试站", phone="12345", end_screen_s=0.2)).start()
    try:
        pilot = drive(session, ScriptedApplicant({"form": {"mobile": "13912345678"}}),
                      "NP-OLD-ALLOWANCE", timeout=30)
        assert pilot.outcome == "done" and pilot.case_number
        assert len(emulator.jobs) == 1              # the citizen's receipt, on paper
        _wait_attract(session, reader)
    finally:
        session.stop()
    with pytest.raises(DeviceError) as err:
        sup.proxy.reprint_last()
    assert err.value.reason_key == "printer.nothing_to_reprint"
    assert len(emulator.jobs) == 1                  # nothing more came out of the printer


def test_the_applicant_may_reprint_once_from_the_end_screen_and_never_after_the_wipe(
        mini_catalog, tmp_path, supervised_printer):
    from kiosk.visit import intents as I

    emulator, sup = supervised_printer
    session, reader = _visit_to_the_end_screen(mini_catalog, tmp_path, sup.proxy, "T-TEST-R")
    try:
        snap = session.snapshot
        assert (snap.screen, snap.reprint) == ("done", "available")
        session.send(I.ReprintReceipt())
        _until(lambda: session.snapshot.reprint == "printed")
        assert len(emulator.jobs) == 2 and emulator.jobs[1] == emulator.jobs[0]  # the same bytes
        session.send(I.ReprintReceipt())            # once is enough: no roll of paper for one
        time.sleep(0.3)
        assert len(emulator.jobs) == 2 and session.snapshot.reprint == "printed"
        _wait_attract(session, reader, timeout=8)
        assert session.snapshot.reprint == ""       # the next person is not offered it
        session.send(I.ReprintReceipt())
        time.sleep(0.3)
        assert len(emulator.jobs) == 2
    finally:
        session.stop()


def test_a_failed_reprint_says_so_on_the_end_screen(mini_catalog, tmp_path, supervised_printer):
    from kiosk.visit import intents as I

    emulator, sup = supervised_printer
    session, _reader = _visit_to_the_end_screen(mini_catalog, tmp_path, sup.proxy, "T-TEST-F")
    try:
        emulator.set_state("paper_out")
        session.send(I.ReprintReceipt())
        _until(lambda: session.snapshot.reprint == "failed", timeout=10)
        assert len(emulator.jobs) == 1
    finally:
        session.stop()


def _visit_to_the_end_screen(catalog, tmp_path, printer, terminal):
    """A whole visit on the real printer driver, left on its end screen (the card stays in the
    reader, so the end screen waits); returns (session, reader)."""
    reader = FakeReader(make_card(birth=dt.date(1940, 1, 1)))
    devices = Devices(id_card=reader, camera=FakeCamera(), face=FakeVerifier(),
                      scanner=FakeScanner(), printer=printer)
    sink = DirectorySink(tmp_path / "packets", terminal, "site-test")
    session = Session(catalog, devices, sink, SessionSettings(
        terminal_id=terminal, site_name="测试站", phone="12345", end_screen_s=3.0)).start()
    try:
        pilot = drive(session, ScriptedApplicant({"form": {"mobile": "13912345678"}}),
                      "NP-OLD-ALLOWANCE", timeout=30)
        assert pilot.outcome == "done"
    except BaseException:
        session.stop()
        raise
    return session, reader


def _until(cond, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not cond() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert cond()
