"""A printer out of paper is "paper out" everywhere, never an offline printer of unknown paper.

End to end to the fleet: the emulated printer (ESC/POS status bytes over a pty) read by the real
driver under the terminal's device supervisor, the health file the app writes, the uploader's
signed heartbeat, and the alarms of a real back office on loopback. And in the technician's
tools: `kiosk devices list` and `kiosk doctor` name the same fault (devices.printer.condition).
"""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

import flows.catalog
from devices.printer.emulator import PrinterEmulator
from kiosk.ops.doctor import devices as doctor_devices
from kiosk.cli import main
from kiosk.app.demo import EmbeddedBackoffice
from kiosk.config import load_config
from kiosk.link.outbox import Outbox
from kiosk.app.terminal import Terminal
from kiosk.link.enrolment import TERMINAL_KEY_FILE, enrol
from kiosk.link.health import write_health
from kiosk.link.uploader import Uploader
from kiosk.visit.packet import DirectorySink
from protocol.keys import load_signing_key

TERMINAL, SITE = "T-PAPER-1", "site-paper"


@pytest.fixture(scope="module")
def backoffice(tmp_path_factory):
    office = EmbeddedBackoffice(tmp_path_factory.mktemp("backoffice"))
    yield office
    office.stop()


@pytest.fixture
def printer(tmp_path):
    emulator = PrinterEmulator(out_dir=tmp_path / "paper")
    yield emulator, "escpos+serial://" + emulator.start_pty() + "?status_timeout=0.5"
    emulator.stop()


@pytest.mark.parametrize("state,paper,alarm", [
    ("paper_out", "out", "paper_out"),
    ("near_end", "near_end", "paper_near_end"),
])
def test_the_printer_paper_state_raises_its_fleet_alarm(tmp_path, backoffice, printer, state,
                                                        paper, alarm):
    emulator, url = printer
    terminal_id = f"{TERMINAL}-{state}"
    state_dir = tmp_path / "state"
    state_dir.mkdir(mode=0o700)
    config = load_config(None, {"terminal_id": terminal_id, "state_dir": str(state_dir),
                                "devices": {"printer": url}})
    terminal = Terminal(config, flows.catalog.load_catalog(), DirectorySink(
        tmp_path / "packets", terminal_id, SITE), face_verifier=object(),
        start_supervisors=False)
    try:
        emulator.set_state(state)
        terminal.supervisors["printer"].open_now()
        devices, reported = terminal.heartbeat_health()
    finally:
        terminal.close()
    assert reported == paper
    assert devices["printer"]["fault"] == ("printer.paper_out" if paper == "out" else None)
    write_health(state_dir, devices, reported, {"app": "test"})

    enrol(backoffice.url, backoffice.token(terminal_id, SITE), terminal_id, state_dir / "keys")
    outbox = Outbox(state_dir, terminal_id, SITE, None, None)
    uploader = Uploader(outbox, backoffice.url, terminal_id,
                        load_signing_key(state_dir / "keys" / TERMINAL_KEY_FILE), state_dir)
    try:
        assert uploader.send_heartbeat()
    finally:
        outbox.close()
    alarms = {a.kind: a for a in backoffice.services.alarms.current()
              if a.terminal_id == terminal_id}
    assert alarm in alarms and "device_fault" in alarms    # the other devices were never opened
    assert alarms["paper_out" if paper == "out" else "paper_near_end"].level == (
        "critical" if paper == "out" else "warning")


def test_devices_list_names_the_fault_the_supervisor_reports(tmp_path, printer):
    emulator, url = printer
    emulator.set_state("paper_out")
    config = tmp_path / "kiosk.toml"
    config.write_text(f'state_dir = "{tmp_path}"\n[devices]\nprinter = "{url}"\n', "utf-8")
    result = CliRunner().invoke(main, ["--config", str(config), "devices", "list", "--json"])
    assert result.exit_code == 0, result.output
    rows = {row["kind"]: row["state"] for row in json.loads(result.output)}
    assert rows["printer"].startswith("printer.paper_out: online=False paper=out")


def test_doctor_from_the_running_app_says_paper_out_with_what_to_do():
    devices = {"printer": {"available": False, "fault": "printer.paper_out"}}
    checks = {c.name: c for c in doctor_devices.health_checks({"devices": devices, "paper": "out"})}
    assert (checks["printer"].status, checks["printer"].detail) == (
        "FAIL", "paper out (from the running app)")
    assert "Load a new roll" in checks["printer"].advice
    assert checks["paper"].status == "FAIL" and "Load a new roll" in checks["paper"].advice
