"""`kiosk doctor` against emulated devices and a real back office on loopback."""
from __future__ import annotations

import datetime as dt
import functools
import http.server
import json
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

import flows.catalog

from kiosk.ops.checks import Check
from kiosk.ops.doctor import connection, host, report
from kiosk.ops.doctor import devices as doctor_devices
from kiosk.cli import main
from kiosk.app.demo import EmbeddedBackoffice
from kiosk.app.demo_devices import DemoDevices
from kiosk.config import load_config
from kiosk.link.outbox import Outbox
from kiosk.link.enrolment import enrol, load_backoffice_public_key
from kiosk.link.health import write_health
from protocol.keys import load_signing_key

_real_load_catalog = flows.catalog.load_catalog


@pytest.fixture(autouse=True)
def catalogue_loaded_once(monkeypatch):
    """The real catalogue, parsed once for this module (each doctor run would parse it again)."""
    monkeypatch.setattr(flows.catalog, "load_catalog", _load_catalog_once)


@functools.lru_cache(maxsize=1)
def _load_catalog_once():
    return _real_load_catalog()


@pytest.fixture(scope="module")
def backoffice(tmp_path_factory):
    office = EmbeddedBackoffice(tmp_path_factory.mktemp("backoffice"))
    yield office
    office.stop()


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    devices = DemoDevices(tmp_path_factory.mktemp("devices"))
    urls = devices.start()
    yield devices, urls
    devices.stop()


@pytest.fixture
def demo_printer(demo):
    devices, _ = demo
    yield devices.printer
    devices.printer.set_state("ok")


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_config(tmp_path: Path, urls: dict, backoffice_url: str, terminal_id: str = "T-DOC-1",
                 **outbox) -> Path:
    decoder = tmp_path / "libwlt2bmp.so"
    decoder.write_bytes(b"\x7fELF")
    lines = [f'terminal_id = "{terminal_id}"', f'state_dir = "{tmp_path / "state"}"',
             "[site]", 'id = "site-doc"', "[devices]",
             *(f'{slot} = "{url}"' for slot, url in urls.items()),
             f'wlt_library = "{decoder}"', "[backoffice]", f'url = "{backoffice_url}"']
    if outbox:
        lines += ["[outbox]", *(f"{k} = {v}" for k, v in outbox.items())]
    path = tmp_path / "kiosk.toml"
    path.write_text("\n".join(lines) + "\n", "utf-8")
    (tmp_path / "state").mkdir(mode=0o700, exist_ok=True)
    return path


def enrolled_terminal(tmp_path: Path, backoffice, terminal_id: str = "T-DOC-1") -> Path:
    """Keys from a real enrolment and an outbox, as a provisioned terminal has them."""
    state = tmp_path / "state"
    enrol(backoffice.url, backoffice.token(terminal_id, "site-doc"), terminal_id, state / "keys")
    Outbox(state, terminal_id, "site-doc", None, None).close()
    return state


def run_doctor(config: Path, *args: str) -> tuple[int, dict[str, dict]]:
    result = CliRunner().invoke(main, ["--config", str(config), "doctor", "--json",
                                       "--timeout", "30", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    report = json.loads(result.output)
    assert report["ok"] == (result.exit_code == 0)
    return result.exit_code, {c["name"]: c for c in report["checks"]}


def test_a_healthy_enrolled_terminal_passes(tmp_path, demo, backoffice):
    _, urls = demo
    config = write_config(tmp_path, urls, backoffice.url)
    enrolled_terminal(tmp_path, backoffice)
    code, checks = run_doctor(config, "--open-devices")
    assert code == 0, [c for c in checks.values() if c["status"] == "FAIL"]
    for name in ("configuration", "terminal", "id_card", "printer", "camera", "doc_camera",
                 "photo decoder", "disk", "clock", "back office", "clock skew", "outbox",
                 "versions"):
        assert checks[name]["status"] == "OK", checks[name]
    assert checks["printer"]["detail"] == "online, paper ok"
    assert checks["camera"]["detail"].startswith("frame ")
    assert checks["enrolment"] == {"name": "enrolment", "status": "OK", "advice": "",
                                   "detail": "terminal T-DOC-1 accepted by the back office"}
    # the signed heartbeat reached the fleet page
    fleet = {t.id: t for t in backoffice.services.fleet.terminals()}
    assert fleet["T-DOC-1"].heartbeat["terminal_id"] == "T-DOC-1"
    assert fleet["T-DOC-1"].state == "OK"


@pytest.mark.parametrize("state, status, detail, advice, code", [
    ("paper_out", "FAIL", "paper out", "Load a new roll", 1),
    ("near_end", "WARN", "paper near end", "Replace the paper roll", 0),
    ("cover_open", "FAIL", "cover open", "Close the printer cover", 1),
])
def test_the_printer_state_is_reported_with_what_to_do(tmp_path, demo, demo_printer, backoffice,
                                                       state, status, detail, advice, code):
    _, urls = demo
    terminal = f"T-DOC-P-{state}".replace("_", "-")
    config = write_config(tmp_path, urls, backoffice.url, terminal)
    enrolled_terminal(tmp_path, backoffice, terminal)
    demo_printer.set_state(state)
    exit_code, checks = run_doctor(config, "--open-devices")
    assert (checks["printer"]["status"], checks["printer"]["detail"]) == (status, detail)
    assert advice in checks["printer"]["advice"]
    assert exit_code == code
    assert checks["id_card"]["status"] == "OK"            # one fault does not hide the rest


def test_an_unreachable_back_office_fails(tmp_path, demo, backoffice):
    _, urls = demo
    enrolled_terminal(tmp_path, backoffice, "T-DOC-4")
    config = write_config(tmp_path, urls, f"http://127.0.0.1:{_closed_port()}", "T-DOC-4")
    code, checks = run_doctor(config, "--open-devices")
    assert code == 1
    assert checks["back office"]["status"] == "FAIL"
    assert "unreachable" in checks["back office"]["detail"]
    assert "network" in checks["back office"]["advice"]
    assert checks["enrolment"]["status"] == "WARN"         # keys there, acceptance unknown


def test_something_else_answering_is_not_taken_for_the_back_office(tmp_path, demo, backoffice):
    _, urls = demo
    config = write_config(tmp_path, urls, backoffice.url + "/not-here")
    _, checks = run_doctor(config, "--open-devices")
    assert checks["back office"]["status"] == "FAIL"
    assert "HTTP 404" in checks["back office"]["detail"]


def test_not_enrolled_and_revoked_terminals_fail(tmp_path, demo, backoffice):
    _, urls = demo
    config = write_config(tmp_path, urls, backoffice.url, "T-DOC-5")
    code, checks = run_doctor(config, "--open-devices")
    assert code == 1 and checks["enrolment"]["status"] == "FAIL"
    assert "backoffice token create --terminal-id T-DOC-5" in checks["enrolment"]["advice"]
    enrolled_terminal(tmp_path, backoffice, "T-DOC-5")
    assert backoffice.services.fleet.revoke("T-DOC-5")
    code, checks = run_doctor(config, "--open-devices")
    assert code == 1
    assert checks["enrolment"]["status"] == "FAIL"
    assert checks["enrolment"]["detail"].startswith("back office refused this terminal: http 40")


def test_while_the_app_runs_devices_come_from_its_fresh_health(tmp_path, demo, backoffice):
    _, urls = demo
    config = write_config(tmp_path, urls, backoffice.url, "T-DOC-6")
    state = enrolled_terminal(tmp_path, backoffice, "T-DOC-6")
    write_health(state, {"id_card": {"available": True, "fault": None},
                         "printer": {"available": False, "fault": "printer.paper_out"},
                         "camera": {"available": True, "fault": None},
                         "doc_camera": {"available": True, "fault": None}}, paper="out")
    code, checks = run_doctor(config)
    assert code == 1
    assert checks["printer"]["status"] == "FAIL" and "running app" in checks["printer"]["detail"]
    assert checks["paper"]["status"] == "FAIL"
    assert checks["id_card"]["status"] == "OK"


def test_without_fresh_health_from_app_says_the_app_is_not_reporting(tmp_path, demo, backoffice):
    _, urls = demo
    config = write_config(tmp_path, urls, backoffice.url)
    code, checks = run_doctor(config, "--from-app")
    assert code == 1 and checks["devices"]["status"] == "FAIL"
    assert "systemctl status kiosk-ui" in checks["devices"]["advice"]


def test_a_full_disk_and_a_broken_device_url_fail(tmp_path, demo, backoffice):
    _, urls = demo
    config = write_config(tmp_path, {**urls, "camera": "camera+v4l2:///dev/video99"},
                          backoffice.url, min_free_mb=10**9)
    code, checks = run_doctor(config, "--open-devices")
    assert code == 1
    assert checks["disk"]["status"] == "FAIL" and "visits are refused" in checks["disk"]["detail"]
    assert checks["camera"]["status"] == "FAIL" and "video group" in checks["camera"]["advice"]


def test_an_invalid_configuration_is_reported_not_raised(tmp_path):
    bad = tmp_path / "kiosk.toml"
    bad.write_text('terminal_id = "has spaces"\n')
    code, checks = run_doctor(bad)
    assert code == 1
    assert checks["configuration"]["status"] == "FAIL"
    assert "terminal_id" in checks["configuration"]["detail"]


def test_the_clock_check_catches_a_reset_clock():
    checks = host.clock_checks(dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc))
    assert checks[0].status == "FAIL" and "timedatectl set-time" in checks[0].advice


def test_stale_health_is_ignored(tmp_path):
    write_health(tmp_path, {}, "ok")
    assert doctor_devices.read_fresh_health(tmp_path) is not None
    assert doctor_devices.read_fresh_health(tmp_path, now=time.time() + 120) is None


def test_the_text_report_fits_a_screen_and_ends_with_the_counts():
    checks = [Check("printer", "FAIL", "paper out", "Load a new roll " * 12),
              Check("disk", "OK", "100 MB free")]
    text = report.render(checks)
    assert all(len(line) <= report.WIDTH for line in text.splitlines())
    assert text.splitlines()[-1] == "1 FAIL, 0 WARN, 1 OK"
    assert "-> Load a new roll" in text


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl not installed")
def test_an_untrusted_certificate_is_named_as_a_tls_problem(tmp_path, demo):
    """A back office behind HTTPS whose certificate this terminal does not trust."""
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=60)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        _, urls = demo
        config = write_config(tmp_path, urls, f"https://127.0.0.1:{server.server_address[1]}")
        code, checks = run_doctor(config, "--open-devices")
    finally:
        server.shutdown()
        server.server_close()
    assert code == 1
    assert checks["back office"]["status"] == "FAIL"
    assert "TLS failed" in checks["back office"]["detail"], checks["back office"]
    assert "certificate" in checks["back office"]["advice"]


def test_dead_and_long_waiting_packets_are_warnings_with_the_way_out(tmp_path, demo, backoffice):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "link" / "outbox"))
    from outbox_testkit import application

    _, urls = demo
    config = write_config(tmp_path, urls, backoffice.url, "T-DOC-7")
    state = enrolled_terminal(tmp_path, backoffice, "T-DOC-7")
    keys = state / "keys"
    with Outbox(state, "T-DOC-7", "site-doc", load_signing_key(keys / "terminal.key"),
                load_backoffice_public_key(keys), min_free_bytes=0) as box:
        dead = box.accept(*application()).packet_id
        box.mark_in_flight(dead)
        box.mark_failed(dead, "http 422 backoffice.packet.invalid", permanent=True)
        box.accept(*application())
    code, checks = run_doctor(config, "--open-devices")
    assert checks["outbox"]["status"] == "WARN"
    assert checks["outbox"]["detail"].startswith("1 waiting, 1 dead")
    assert "kiosk outbox retry" in checks["outbox"]["advice"]
    with Outbox(state, "", "", None, None, recover=False) as box:
        box.retry(dead)
    later = connection.outbox_check(load_config(str(config)), now=time.time() + 2 * 3600)
    assert later.status == "WARN" and "oldest waits 120 min" in later.detail
    assert "kiosk-uploader" in later.advice
