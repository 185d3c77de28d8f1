"""`kiosk provision` end to end: a real back office on loopback, emulated devices on ptys that
the terminal finds under ROOT/dev/serial/by-id, provisioning as a subprocess, then a whole
visit on exactly the written configuration, uploaded by the real uploader, seen by the back
office. Also: a second run changes nothing, a refused token writes nothing, a device that
does not answer is reported."""
from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from backoffice.settings import Settings
from click.testing import CliRunner, Result

from kiosk.cli import main
from kiosk.config import load_config
from kiosk.ops.provision.detect import detect_devices, propose_urls
from kiosk.ops.provision.interactive import parse_hours
from kiosk.ops.provision.units import SYSTEMD_DIR
from kiosk.ops.technician import check_pin
from flows.catalog import load_catalog
from kiosk.app.demo_devices import DemoDevices, choose_card

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "backoffice"))
from backoffice_testkit import ServerThread  # noqa: E402

REPO = Path(__file__).resolve().parents[3]
PIN = "482916"
MATTER = "NP-OLD-ALLOWANCE"
READER_NAME = "usb-SYNJONES_SS628-100_ID_Card_Reader_0001-if00-port0"
PRINTER_NAME = "usb-1a86_USB2.0-Serial-if00-port0"     # a CH340 cable: the name says nothing


@pytest.fixture(scope="module")
def backoffice(tmp_path_factory):
    with ServerThread(Settings.for_data_dir(tmp_path_factory.mktemp("backoffice"))) as server:
        yield server


@pytest.fixture(scope="module")
def devices(tmp_path_factory):
    demo = DemoDevices(tmp_path_factory.mktemp("devices"))
    demo.urls = demo.start()
    demo.card = choose_card(load_catalog(), MATTER, demo.cards)   # someone old enough
    yield demo
    demo.stop()


def make_root(tmp_path: Path, demo: DemoDevices) -> Path:
    """A terminal's filesystem: by-id links to the emulated reader's and printer's ptys."""
    root = tmp_path / "root"
    by_id = root / "dev" / "serial" / "by-id"
    by_id.mkdir(parents=True)
    (by_id / READER_NAME).symlink_to(demo.urls["id_card"].split("://", 1)[1])
    (by_id / PRINTER_NAME).symlink_to(demo.urls["printer"].split("://", 1)[1])
    return root


def write_answers(path: Path, terminal_id: str, url: str, token: str, demo: DemoDevices,
                  **extra) -> Path:
    answers = {
        "terminal_id": terminal_id,
        "site_preset": "bank_branch",
        "site": {"id": "icbc-chunxi", "phone": "028-96588",
                 "name": {"zh": "工商银行春熙路支行政务自助服务点",
                          "en": "ICBC Chunxi Road branch self-service point"},
                 "address": {"zh": "成都市锦江区春熙路 1 号", "en": "1 Chunxi Road, Jinjiang"},
                 "branding": "中国工商银行 ICBC",
                 "nearest_24h_station": "锦江区政务服务中心 7×24 自助区",
                 # open around the clock so the visit below runs at any hour of the test
                 "opening_hours": [{"days": "mon-sun", "open": "00:00", "close": "24:00"}]},
        "backoffice": {"url": url, "token": token},
        # no V4L2 here: the cameras are the emulators; reader and printer are detected
        "devices": {"camera": demo.camera_url(demo.card),
                    "doc_camera": demo.urls["doc_camera"]},
        "maintenance_pin": PIN,
        "state_dir": "/var/lib/kiosk",
        "settings": {"timeouts": {"receipt_take_s": 1}},
        "self_test": {"card_timeout_s": 10},
        **extra,
    }
    path.write_text(json.dumps(answers, ensure_ascii=False), encoding="utf-8")
    return path


def kiosk(*args, timeout=240) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kiosk.cli", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "KIOSK_CONFIG": ""})


def kiosk_here(*args) -> Result:
    """The same command in this process (the back office and emulators run in threads here);
    quicker than a subprocess for the runs that are not the main evidence."""
    return CliRunner(mix_stderr=False).invoke(main, list(args), env={"KIOSK_CONFIG": ""})


def files_under(root: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in root.rglob("*") if p.is_file() and not p.is_symlink()}


def test_provision_then_a_visit_reaches_the_backoffice(tmp_path, backoffice, devices):
    terminal_id = "510104-BK-0001"
    token = backoffice.services.fleet.create_token(terminal_id, "icbc-chunxi")
    root = make_root(tmp_path, devices)
    answers = write_answers(tmp_path / "answers.yaml", terminal_id, backoffice.base_url, token,
                            devices)
    pages_before = len(devices.printer.jobs)
    devices.place_card(devices.card)                       # the technician's test card, for the self-test

    run = kiosk("provision", "--answers", str(answers), "--root", str(root))
    assert run.returncode == 0, run.stdout + run.stderr
    out = run.stdout + run.stderr
    assert token not in out and PIN not in out
    assert "ID-card reader" in out and "PASS signed heartbeat accepted" in out

    # the configuration: detected reader and printer, the site, the PIN as a hash only
    config_path = root / "etc" / "kiosk" / "kiosk.toml"
    assert stat.S_IMODE(config_path.stat().st_mode) == 0o640
    config = load_config(config_path)
    assert config.terminal_id == terminal_id
    assert config.devices.id_card == f"idcard+serial://{root}/dev/serial/by-id/{READER_NAME}"
    assert config.devices.printer == f"escpos+serial://{root}/dev/serial/by-id/{PRINTER_NAME}"
    assert config.site.kind == "bank_branch" and config.site.branding == "中国工商银行 ICBC"
    assert config.site.matter_enabled(MATTER) and not config.site.matter_enabled("LP-EST-SEAL")
    assert config.state_dir == root / "var" / "lib" / "kiosk"
    assert check_pin(PIN, config.maintenance.pin_hash)
    keys = config.state_dir / "keys"
    for name in ("terminal.key", "backoffice.pub"):
        assert stat.S_IMODE((keys / name).stat().st_mode) == 0o600
    assert config.backoffice.public_key in (keys / "backoffice.pub").read_text()
    for path, data in files_under(root).items():
        assert token.encode() not in data and PIN.encode() not in data, path

    # the self-test: every check passed, the card was read, one receipt came out
    report = json.loads((config.state_dir / "provision.json").read_text())
    assert report["ok"] and {c["name"] for c in report["self_test"]} == {
        "id_card", "camera", "doc_camera", "backoffice", "printer"}
    assert "card read" in next(c["detail"] for c in report["self_test"] if c["name"] == "id_card")
    assert len(devices.printer.jobs) == pages_before + 1
    fleet = {t.id: t for t in backoffice.services.fleet.terminals()}
    assert fleet[terminal_id].site == "icbc-chunxi"
    assert fleet[terminal_id].last_heartbeat_at is not None
    enrolled_at = fleet[terminal_id].enrolled_at

    # services: units copied and enabled (the units live in systemd/ once they exist)
    if SYSTEMD_DIR.is_dir():
        units = root / "etc" / "systemd" / "system"
        for unit in ("kiosk-ui.service", "kiosk-uploader.service"):
            assert (units / unit).read_bytes() == (SYSTEMD_DIR / unit).read_bytes()
            links = list(units.glob(f"*.target.wants/{unit}"))
            assert links and all(link.resolve() == (units / unit).resolve() for link in links)
        assert (root / "etc" / "sysusers.d" / "kiosk.sysusers.conf").exists()
        assert (root / "etc" / "tmpfiles.d" / "kiosk.tmpfiles.conf").exists()

    # a whole visit on exactly this configuration, into the terminal's real outbox
    devices.place_card(devices.card)
    visit = kiosk("--config", str(config_path), "simulate", MATTER, "--configured", "--json")
    assert visit.returncode == 0, visit.stdout + visit.stderr[-3000:]
    result = json.loads(visit.stdout.strip().splitlines()[-1])
    assert result["outcome"] == "done" and result["case_number"].startswith(terminal_id)
    assert len(devices.printer.jobs) == pages_before + 2          # the citizen's receipt
    assert list((config.state_dir / "outbox").glob("*.kpkt"))

    # the uploader, with the environment its unit reads from uploader.env, delivers it
    env_file = root / "etc" / "kiosk" / "uploader.env"
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o640
    unit_env = dict(line.split("=", 1) for line in env_file.read_text().splitlines())
    assert unit_env == {"KIOSK_TERMINAL_ID": terminal_id, "KIOSK_STATE_DIR": str(config.state_dir),
                        "KIOSK_BACKOFFICE_URL": backoffice.base_url}
    upload = subprocess.run([sys.executable, "-m", "kiosk.cli.uploader", "--once"], cwd=REPO,
                            capture_output=True, text=True, timeout=120,
                            env={**os.environ, **unit_env})
    assert upload.returncode == 0, upload.stdout + upload.stderr
    assert json.loads(upload.stdout)["sent"] >= 1
    from sqlalchemy import select

    from backoffice.db import Case
    with backoffice.services.db.read() as session:      # the case arrived (the receipt's token
        case = session.scalar(select(Case).where(      # is on paper only)
            Case.case_number == result["case_number"]))
        assert case.matter_code == MATTER and case.progress_token_hash

    # a second run with the same answers (the token is spent) changes nothing that matters
    key_before = (keys / "terminal.key").read_bytes()
    pin_hash_before = config.maintenance.pin_hash
    devices.place_card(devices.card)
    again = kiosk_here("provision", "--answers", str(answers), "--root", str(root))
    assert again.exit_code == 0, again.stdout + again.stderr
    assert "already enrolled" in again.stdout
    if SYSTEMD_DIR.is_dir():
        assert "kept" in again.stdout and "installed" not in again.stdout
    assert (keys / "terminal.key").read_bytes() == key_before
    assert load_config(config_path).maintenance.pin_hash == pin_hash_before
    fleet = {t.id: t for t in backoffice.services.fleet.terminals()}
    assert fleet[terminal_id].enrolled_at == enrolled_at


def test_refused_token_writes_nothing(tmp_path, backoffice, devices):
    root = make_root(tmp_path, devices)
    before = files_under(root)
    answers = write_answers(tmp_path / "answers.yaml", "510104-BK-0002", backoffice.base_url,
                            "not-a-token-that-was-ever-issued", devices)
    run = kiosk_here("provision", "--answers", str(answers), "--root", str(root))
    assert run.exit_code == 1 and isinstance(run.exception, SystemExit)
    assert "enrolment" in run.stderr and "refused" in run.stderr and "token" in run.stderr
    assert "not-a-token-that-was-ever-issued" not in run.stdout + run.stderr
    assert files_under(root) == before
    assert not (root / "etc").exists() and not (root / "var").exists()
    assert "510104-BK-0002" not in {t.id for t in backoffice.services.fleet.terminals()}


def test_a_device_that_does_not_answer_is_reported(tmp_path, backoffice, devices):
    root = make_root(tmp_path, devices)
    token = backoffice.services.fleet.create_token("510104-BK-0003", "icbc-chunxi")
    answers = write_answers(tmp_path / "answers.yaml", "510104-BK-0003", backoffice.base_url,
                            token, devices)
    data = json.loads(answers.read_text())
    data["devices"]["printer"] = "escpos+serial:///dev/ttyNOSUCHPRINTER"
    answers.write_text(json.dumps(data))
    run = kiosk_here("provision", "--answers", str(answers), "--root", str(root))
    assert run.exit_code == 1 and isinstance(run.exception, SystemExit)
    assert "receipt printer (escpos+serial:///dev/ttyNOSUCHPRINTER) does not answer" in run.stderr
    assert "PROBLEM" in run.stdout and not (root / "etc").exists()
    assert "510104-BK-0003" not in {t.id for t in backoffice.services.fleet.terminals()}


def test_interactive_technician_fixes_a_wrong_url_at_the_prompt(tmp_path, backoffice, devices):
    """The prompts offer what was detected; a printer URL typed wrong is reported and the
    technician types the right one at the problem prompt instead of starting over."""
    root = make_root(tmp_path, devices)
    token = backoffice.services.fleet.create_token("510104-ZZ-0009", "jinjiang-hall")
    detected_printer = f"escpos+serial://{root}/dev/serial/by-id/{PRINTER_NAME}"
    typed = [
        "510104-ZZ-0009", "government_hall", "jinjiang-hall", "锦江区政务服务中心",
        "Jinjiang Government Service Centre", "成都市锦江区东大街 1 号", "",
        "", "", "", "*",                    # preset phone, no branding, 7x24, every matter
        backoffice.base_url, token, PIN, PIN,
        "",                                 # ID-card reader: the detected one
        "escpos+serial:///dev/ttyWRONG",    # the technician mistypes the printer
        devices.camera_url(devices.card), devices.urls["doc_camera"],
        "0",                                # self-test: no test card at hand
        "c", detected_printer,              # PROBLEM -> change the URL -> OK
    ]

    def provision(lines):
        return CliRunner(mix_stderr=False).invoke(main, ["provision", "--root", str(root)],
                                                  input="\n".join(lines) + "\n",
                                                  env={"KIOSK_CONFIG": ""})
    run = provision(typed)
    assert run.exit_code == 0, run.stdout + run.stderr
    assert "PROBLEM" in run.stdout and token not in run.stdout and PIN not in run.stdout
    assert f"[idcard+serial://{root}/dev/serial/by-id/{READER_NAME}]" in run.stdout
    config = load_config(root / "etc" / "kiosk" / "kiosk.toml")
    assert config.devices.printer == detected_printer
    assert config.site.kind == "government_hall" and config.site.opening_hours == ()
    assert config.site.phone == "12345" and check_pin(PIN, config.maintenance.pin_hash)

    # again, pressing Enter at every prompt: what is configured is offered and kept
    again = provision([""] * 19 + ["0"])
    assert again.exit_code == 0, again.stdout + again.stderr
    assert "already enrolled" in again.stdout and "PROBLEM" not in again.stdout
    assert f"[{detected_printer}]" in again.stdout
    assert load_config(root / "etc" / "kiosk" / "kiosk.toml") == config


def test_detection_proposes_urls_from_device_nodes(tmp_path):
    root = tmp_path
    (root / "dev" / "serial" / "by-id").mkdir(parents=True)
    (root / "dev" / "serial" / "by-id" / "usb-Xprinter_XP-80C-if00").touch()
    (root / "dev" / "serial" / "by-id" / "usb-Routon_CVR-100UC-if00").touch()
    for n, name, index in ((0, "HD Pro Webcam C920", "0"), (1, "HD Pro Webcam C920", "1"),
                           (2, "USB Document Camera S1000A3", "0")):
        (root / "dev" / f"video{n}").touch()
        sysfs = root / "sys" / "class" / "video4linux" / f"video{n}"
        sysfs.mkdir(parents=True)
        (sysfs / "name").write_text(name + "\n")
        (sysfs / "index").write_text(index + "\n")
    (root / "dev" / "usb").mkdir()
    (root / "dev" / "usb" / "lp0").touch()
    usb = root / "sys" / "devices" / "usb1" / "1-1"
    (usb / "1-1:1.0").mkdir(parents=True)
    (usb / "idVendor").write_text("0fe6\n")
    (usb / "idProduct").write_text("811e\n")
    (root / "sys" / "class" / "usbmisc" / "lp0").mkdir(parents=True)
    (root / "sys" / "class" / "usbmisc" / "lp0" / "device").symlink_to(usb / "1-1:1.0")

    found = detect_devices(root)
    by_slot = {}
    for c in found:
        by_slot.setdefault(c.slot, []).append(c.url)
    dev = root / "dev"
    assert by_slot["id_card"] == [f"idcard+serial://{dev}/serial/by-id/usb-Routon_CVR-100UC-if00"]
    assert by_slot["printer"] == [f"escpos+serial://{dev}/serial/by-id/usb-Xprinter_XP-80C-if00",
                                  "escpos+usb://0fe6:811e"]
    assert by_slot["camera"] == [f"camera+v4l2://{dev}/video0?width=640&height=480&fps=15"]
    assert by_slot["doc_camera"] == [f"doccam+v4l2://{dev}/video2?width=1920&height=1080"]
    chosen = propose_urls(found, probe=lambda slot, url: (False, "not probed"))
    assert chosen["printer"].source.endswith("usb-Xprinter_XP-80C-if00")


def test_unnamed_serial_port_is_asked_what_it_is(tmp_path):
    (tmp_path / "dev" / "serial" / "by-id").mkdir(parents=True)
    (tmp_path / "dev" / "serial" / "by-id" / "usb-FTDI_FT232R-if00").touch()
    asked = []

    def probe(slot, url):
        asked.append(slot)
        return slot == "id_card", ""
    chosen = propose_urls(detect_devices(tmp_path), probe=probe)
    assert asked == ["printer", "id_card"]
    assert chosen["id_card"].url.startswith("idcard+serial://") and "printer" not in chosen


def test_opening_hours_as_typed_by_a_technician():
    assert parse_hours("mon-fri 09:00-17:00, sat 10:00 - 16:00") == [
        {"days": "mon-fri", "open": "09:00", "close": "17:00"},
        {"days": "sat", "open": "10:00", "close": "16:00"}]
    assert parse_hours("7x24") == []
    with pytest.raises(Exception, match="mon-fri"):
        parse_hours("weekdays nine to five")


def test_written_toml_reads_back_the_same():
    from kiosk.ops.provision.site_config import to_toml
    data = {"terminal_id": "T-1", "site": {"name": {"zh": "名 \"引号\" \\ 斜杠", "en": "x"},
                                           "opening_hours": [{"days": "mon", "open": "09:00",
                                                              "close": "17:00"}],
                                           "enabled_matters": ["*"]},
            "face": {"threshold": 0.6, "max_attempts": 3}, "flag": True}
    assert tomllib.loads(to_toml(data, "header\nline two")) == data
