"""The systemd units pass `systemd-analyze verify` and carry the watchdog and hardening promised."""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
UNITS_DIR = REPO / "systemd"
UNITS = ("kiosk-ui.service", "kiosk-uploader.service", "backoffice.service")
INSTALL_PREFIX = "/opt/kiosk/venv"
SYSTEMD_ANALYZE = shutil.which("systemd-analyze")
HARDENING = {"ProtectSystem": "strict", "PrivateTmp": "yes", "NoNewPrivileges": "yes",
             "ProtectHome": "yes"}

needs_systemd = pytest.mark.skipif(SYSTEMD_ANALYZE is None, reason="systemd-analyze not installed")


def directives(text: str) -> dict[str, dict[str, list[str]]]:
    """{section: {key: [values in order]}}: systemd allows a key many times (DeviceAllow=...)."""
    out: dict[str, dict[str, list[str]]] = {}
    section = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = out.setdefault(line[1:-1], {})
            continue
        key, _, value = line.partition("=")
        section.setdefault(key.strip(), []).append(value.strip())
    return out


def unit(name: str) -> dict[str, dict[str, list[str]]]:
    return directives((UNITS_DIR / name).read_text("utf-8"))


def _verify(tmp_path: Path, texts: dict[str, str]) -> subprocess.CompletedProcess:
    """Run `systemd-analyze verify` on the units with the install prefix pointed at this venv
    (verify checks that ExecStart= binaries exist)."""
    for name, text in texts.items():
        (tmp_path / name).write_text(text.replace(INSTALL_PREFIX, sys.prefix), "utf-8")
    return subprocess.run([SYSTEMD_ANALYZE, "verify", "--man=no",
                           *(str(tmp_path / name) for name in texts)],
                          capture_output=True, text=True, timeout=60)


@needs_systemd
def test_every_unit_passes_systemd_analyze_verify_without_a_warning(tmp_path):
    for name in UNITS:
        assert (Path(sys.prefix) / "bin" / unit(name)["Service"]["ExecStart"][0]
                .split()[0].rsplit("/", 1)[-1]).exists()
    result = _verify(tmp_path, {n: (UNITS_DIR / n).read_text("utf-8") for n in UNITS})
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == "", result.stderr


@needs_systemd
def test_verify_would_catch_a_misspelt_directive(tmp_path):
    text = (UNITS_DIR / "kiosk-ui.service").read_text("utf-8")
    broken = text.replace("WatchdogSec=", "WatchdogSecs=").replace("Type=notify", "Type=notifyy")
    result = _verify(tmp_path, {"kiosk-ui.service": broken})
    assert "Unknown key 'WatchdogSecs'" in result.stderr
    assert "notifyy" in result.stderr


@pytest.mark.parametrize("name", ["kiosk-ui.service", "kiosk-uploader.service"])
def test_terminal_units_are_notify_services_with_a_watchdog_and_restart(name):
    service = unit(name)["Service"]
    assert service["Type"] == ["notify"]
    assert service["NotifyAccess"] == ["main"]
    assert re.fullmatch(r"\d+s", service["WatchdogSec"][0])
    assert service["Restart"] == ["always"]
    assert "RestartSec" in service
    assert service["User"] == ["kiosk"] and service["Group"] == ["kiosk"]
    assert service["ExecStart"][0].startswith(INSTALL_PREFIX + "/bin/")
    assert service["StandardError"] == ["journal"]
    assert unit(name)["Unit"]["StartLimitIntervalSec"] == ["0"]     # never give up restarting


@pytest.mark.parametrize("name", UNITS)
def test_every_unit_is_hardened(name):
    service = unit(name)["Service"]
    for key, value in HARDENING.items():
        assert service.get(key) == [value], key
    assert service.get("CapabilityBoundingSet") == [""]
    assert "User" in service and service["User"] != ["root"]
    assert unit(name)["Install"]["WantedBy"] == ["multi-user.target"]


def test_the_ui_may_use_only_the_devices_of_a_terminal():
    service = unit("kiosk-ui.service")["Service"]
    assert service["ReadWritePaths"] == ["/var/lib/kiosk"]
    assert service["DevicePolicy"] == ["closed"]
    allowed = {v.split()[0] for v in service["DeviceAllow"]}
    assert {"char-ttyUSB", "char-ttyACM", "char-video4linux", "char-usb_device", "char-usb",
            "char-drm", "char-input", "char-alsa"} <= allowed
    assert set(service["SupplementaryGroups"][0].split()) == {"dialout", "video", "render",
                                                               "input", "audio", "lp"}
    assert "PrivateDevices" not in service          # it would hide the devices allowed above


def test_the_ui_starts_on_kms_drm_without_a_desktop():
    env = dict(v.split("=", 1) for v in unit("kiosk-ui.service")["Service"]["Environment"])
    assert env["KIVY_WINDOW"] == "sdl2"
    assert env["SDL_VIDEODRIVER"] == "kmsdrm"
    assert env["KIVY_GL_BACKEND"] == "sdl2"
    assert env["KIVY_HOME"].startswith("/var/lib/kiosk/")    # writable under ProtectSystem
    assert env["XDG_RUNTIME_DIR"] == "/run/kiosk-ui"
    assert unit("kiosk-ui.service")["Service"]["RuntimeDirectory"] == ["kiosk-ui"]
    assert "getty@tty1.service" in unit("kiosk-ui.service")["Unit"]["Conflicts"][0]


def test_the_uploader_reads_its_settings_from_the_environment_file():
    service = unit("kiosk-uploader.service")["Service"]
    assert service["EnvironmentFile"] == ["/etc/kiosk/uploader.env"]
    assert service["PrivateDevices"] == ["yes"]
    assert service["ExecStart"][0].split()[0] == INSTALL_PREFIX + "/bin/kiosk-uploader"


def test_the_back_office_runs_as_its_own_user_with_private_state():
    service = unit("backoffice.service")["Service"]
    assert service["DynamicUser"] == ["yes"] and service["User"] == ["backoffice"]
    assert service["StateDirectory"] == ["backoffice"]
    assert service["StateDirectoryMode"] == ["0700"]
    assert "--data-dir /var/lib/backoffice" in service["ExecStart"][0]
    assert "--host 127.0.0.1" in service["ExecStart"][0]


@pytest.mark.skipif(shutil.which("systemd-sysusers") is None or
                    shutil.which("systemd-tmpfiles") is None, reason="systemd tools missing")
def test_sysusers_and_tmpfiles_create_the_user_and_a_private_state_dir(tmp_path):
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
    (tmp_path / "etc/group").write_text("root:x:0:\ndialout:x:20:\nvideo:x:44:\naudio:x:29:\n"
                                        "lp:x:7:\ninput:x:105:\nrender:x:106:\n")
    subprocess.run(["systemd-sysusers", f"--root={tmp_path}",
                    str(UNITS_DIR / "kiosk.sysusers.conf")], check=True, capture_output=True)
    passwd = {line.split(":")[0]: line.split(":") for line in
              (tmp_path / "etc/passwd").read_text().splitlines()}
    assert passwd["kiosk"][5] == "/var/lib/kiosk" and passwd["kiosk"][6] == "/usr/sbin/nologin"
    groups = {line.split(":")[0]: line.split(":")[3].split(",") for line in
              (tmp_path / "etc/group").read_text().splitlines()}
    for group in ("dialout", "video", "render", "input", "audio", "lp"):
        assert "kiosk" in groups[group], group
    subprocess.run(["systemd-tmpfiles", f"--root={tmp_path}", "--create",
                    str(UNITS_DIR / "kiosk.tmpfiles.conf")], check=True, capture_output=True)
    state = (tmp_path / "var/lib/kiosk").stat()
    assert state.st_mode & 0o777 == 0o700
    assert state.st_uid == int(passwd["kiosk"][2])
