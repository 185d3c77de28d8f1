"""`kiosk doctor`: one screen of everything a technician checks on a terminal, with what to do.

Each check says OK, WARN or FAIL (SKIP where it cannot apply here, e.g. no systemd) and, when
not OK, the next step in plain words. In order: configuration; every device (opened through
devices.registry with a short timeout: the reader answers, the printer's paper and cover, a
camera frame, the document camera; or, while the app is running and owns the ports, the
health it wrote less than a minute ago); the photo decoder; free disk in state_dir against
[outbox] min_free_mb; the clock (year, NTP via `timedatectl`, skew against the back office);
the back office reached over HTTP(S) (`GET /api/v1/cases/<probe>/progress`, answered 404 by a
real back office); enrolment (keys on disk, and a signed heartbeat the back office accepts);
the outbox (undelivered and dead packets); the services; versions. `--json` prints the same.
The exit code is 1 when anything FAILs. Nothing personal is read or shown.
"""
from __future__ import annotations

import datetime as dt
import email.utils
import json
import logging
import shutil
import subprocess
import sys
import textwrap
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import click

log = logging.getLogger(__name__)

OK, WARN, FAIL, SKIP = "OK", "WARN", "FAIL", "SKIP"
SLOTS = ("id_card", "printer", "camera", "doc_camera")
HEALTH_FRESH_S = 60
PROBE_CASE = "DOCTOR-PROBE"
MAX_SKEW_S = 240            # the back office refuses signatures more than 300 s off
WARN_SKEW_S = 30
MIN_YEAR = 2025
OUTBOX_WARN_AGE_S = 3600
SERVICES = ("kiosk-ui.service", "kiosk-uploader.service")
WIDTH = 100

DEVICE_ADVICE = {
    "id_card": "Check the ID-card reader's USB cable and power, that its port exists "
               "(ls -l /dev/serial/by-id/) and matches [devices] id_card; the kiosk user needs "
               "the dialout group. Then `kiosk devices test id_card`.",
    "printer": "Check the printer's power and cable and that [devices] printer names it "
               "(ls -l /dev/serial/by-id/ /dev/usb/); then `kiosk devices test printer`.",
    "camera": "Check the face camera's USB cable and that [devices] camera names it "
              "(v4l2-ctl --list-devices); the kiosk user needs the video group.",
    "doc_camera": "Check the document camera's USB cable and that [devices] doc_camera names it "
                  "(v4l2-ctl --list-devices).",
}


@dataclass(frozen=True)
class Check:
    name: str
    status: str
    detail: str
    advice: str = ""


class _Background:
    """fn() started in a daemon thread; `result(timeout)` waits for it (TimeoutError if it
    has not returned by then: a device that hangs must not hang the doctor)."""

    def __init__(self, fn: Callable):
        self._box: dict = {}
        self._thread = threading.Thread(target=self._run, args=(fn,), name="doctor-probe",
                                        daemon=True)
        self._thread.start()

    def _run(self, fn: Callable) -> None:
        try:
            self._box["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            self._box["error"] = exc

    def result(self, timeout: float):
        self._thread.join(max(timeout, 0))
        if self._thread.is_alive():
            raise TimeoutError(f"no answer within {timeout:.0f} s")
        if "error" in self._box:
            raise self._box["error"]
        return self._box.get("value")


# ---- devices --------------------------------------------------------------------------------

# What the technician reads and does for each printer fault `devices.printer.condition` names.
PRINTER_FAULTS = {
    "printer.paper_out": ("paper out",
                          "Load a new roll of 80 mm thermal paper (shiny side to the print head), "
                          "close the cover, then `kiosk devices test printer`."),
    "printer.cover_open": ("cover open", "Close the printer cover firmly."),
    "printer.cutter_error": ("cutter jammed or printer fault",
                             "Open the cover, clear the paper at the cutter, power-cycle the "
                             "printer, then `kiosk devices test printer`."),
    "printer.offline": ("printer offline", DEVICE_ADVICE["printer"]),
}
PAPER_NEAR_END = ("paper near end", "Replace the paper roll during this visit.")


def printer_check(status) -> Check:
    """The printer's check from its status, through the one status -> fault mapping."""
    from devices.printer.condition import condition_of

    fault, maintenance = condition_of(status)
    if fault:
        detail, advice = PRINTER_FAULTS.get(fault, (fault, DEVICE_ADVICE["printer"]))
        return Check("printer", FAIL, detail, advice)
    if maintenance:
        return Check("printer", WARN, *PAPER_NEAR_END)
    return Check("printer", OK, "online, paper ok")


def _probe_device(slot: str, url: str) -> Check:
    from devices.registry import open_device

    device = open_device(url, expected_kind=slot)
    try:
        if slot == "printer":
            return printer_check(device.status())
        if slot == "camera":
            frame = device.read()
            return Check("camera", OK, f"frame {frame.shape[1]}x{frame.shape[0]}")
        return Check(slot, OK, "reader answered" if slot == "id_card" else "opened")
    finally:
        try:
            device.close()
        except Exception:  # noqa: BLE001 - closing a probe must not hide its result
            log.debug("device close failed slot=%s", slot)


def device_checks(config, timeout: float) -> list[Check]:
    from devices.interfaces import ConfigurationError

    out = []
    deadline = time.monotonic() + timeout
    # all at once: one slow device delays no other
    urls = {slot: getattr(config.devices, slot) for slot in SLOTS}
    probes = {slot: _Background(lambda slot=slot: _probe_device(slot, urls[slot]))
              for slot in SLOTS}
    for slot, probe in probes.items():
        url = urls[slot]
        try:
            check = probe.result(deadline - time.monotonic())
        except ConfigurationError as exc:
            check = Check(slot, FAIL, f"misconfigured: {exc}",
                          f"Fix [devices] {slot} in the site configuration (see README, "
                          "Device URLs); `kiosk config check` shows where it is set.")
        except TimeoutError as exc:
            check = Check(slot, FAIL, f"{url}: {exc}", DEVICE_ADVICE[slot])
        except Exception as exc:  # noqa: BLE001 - a diagnostic reports, it does not crash
            reason = getattr(exc, "reason_key", type(exc).__name__)
            check = Check(slot, FAIL, f"{url}: {reason}: {exc}"[:300], DEVICE_ADVICE[slot])
        out.append(check)
    return out


def read_fresh_health(state_dir: Path, now: float | None = None) -> dict | None:
    """The running app's health.json when written in the last minute, else None."""
    try:
        data = json.loads((Path(state_dir) / "health.json").read_text("utf-8"))
    except (OSError, ValueError):
        return None
    now = time.time() if now is None else now
    written = data.get("written_at") if isinstance(data, dict) else None
    if not isinstance(written, (int, float)) or now - written > HEALTH_FRESH_S:
        return None
    return data


def health_checks(health: dict) -> list[Check]:
    """Device checks from the running app's own supervisors (the ports are in use)."""
    out = []
    devices = health.get("devices") or {}
    for slot in SLOTS:
        info = devices.get(slot)
        if not isinstance(info, dict):
            out.append(Check(slot, WARN, "not reported by the running app",
                             "Restart the app: `systemctl restart kiosk-ui`."))
        elif info.get("available"):
            out.append(Check(slot, OK, "available (from the running app)"))
        else:
            fault = info.get("fault") or "unknown"
            detail, advice = PRINTER_FAULTS.get(fault, (f"unavailable: {fault}",
                                                        DEVICE_ADVICE[slot]))
            out.append(Check(slot, FAIL, f"{detail} (from the running app)", advice))
    paper = health.get("paper")
    if paper == "out":
        detail, advice = PRINTER_FAULTS["printer.paper_out"]
        out.append(Check("paper", FAIL, f"{detail} (from the running app)", advice))
    elif paper == "near_end":
        out.append(Check("paper", WARN, *PAPER_NEAR_END))
    return out


def photo_decoder_check(config) -> Check:
    lib = config.devices.wlt_library
    if not lib:
        return Check("photo decoder", WARN, "no vendor photo decoder configured: face matching "
                     "is off and staff check identity",
                     "Install the reader vendor's libwlt2bmp.so and set [devices] wlt_library.")
    if not Path(lib).is_file():
        return Check("photo decoder", FAIL, f"{lib} not found",
                     "Install the vendor library there or correct [devices] wlt_library.")
    return Check("photo decoder", OK, lib)


# ---- disk, clock --------------------------------------------------------------------------

def disk_check(config) -> Check:
    state = Path(config.state_dir)
    if not state.is_dir():
        return Check("disk", FAIL, f"{state} does not exist",
                     "Run scripts/install-terminal.sh (creates it 0700 for the kiosk user).")
    free_mb = shutil.disk_usage(state).free / 2**20
    need = config.outbox.min_free_mb
    mode = state.stat().st_mode & 0o777
    if free_mb < need:
        return Check("disk", FAIL, f"{free_mb:.0f} MB free in {state}, below min_free_mb {need}: "
                     "new visits are refused", "Free space (journalctl --vacuum-size=100M, old "
                     "files) and check that the uploader delivers (`kiosk outbox status`).")
    if free_mb < 2 * need:
        return Check("disk", WARN, f"{free_mb:.0f} MB free in {state} (min_free_mb {need})",
                     "Free space soon: the kiosk refuses visits below min_free_mb.")
    if mode & 0o077:
        return Check("disk", WARN, f"{state} is readable by others (mode {mode:o})",
                     f"chmod 700 {state}")
    return Check("disk", OK, f"{free_mb:.0f} MB free in {state}")


def _timedatectl(prop: str) -> str | None:
    if shutil.which("timedatectl") is None:
        return None
    try:
        proc = subprocess.run(["timedatectl", "show", "-p", prop, "--value"], capture_output=True,
                              text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return proc.stdout.strip() if proc.returncode == 0 else None


def clock_checks(now: dt.datetime | None = None) -> list[Check]:
    now = now or dt.datetime.now().astimezone()
    out = []
    if now.year < MIN_YEAR:
        out.append(Check("clock", FAIL, f"the clock says {now:%Y-%m-%d %H:%M}",
                         "Set the time (timedatectl set-time 'YYYY-MM-DD hh:mm') and check NTP "
                         "and the RTC battery: signatures and receipts carry the time."))
    else:
        out.append(Check("clock", OK, f"{now:%Y-%m-%d %H:%M %Z}"))
    synced = _timedatectl("NTPSynchronized")
    if synced is None:
        out.append(Check("ntp", SKIP, "timedatectl not available here"))
    elif synced == "yes":
        out.append(Check("ntp", OK, "synchronised"))
    else:
        out.append(Check("ntp", WARN, "not synchronised with NTP",
                         "Check `timedatectl timesync-status` and that the network lets UDP 123 "
                         "through to the NTP server."))
    return out


# ---- back office, enrolment, outbox ---------------------------------------------------------

def backoffice_checks(config, timeout: float, now: float | None = None) -> tuple[list[Check], bool]:
    """Reach the back office; (checks, reachable)."""
    import httpx

    base = config.backoffice.url.rstrip("/")
    url = f"{base}/api/v1/cases/{PROBE_CASE}/progress"
    started = time.monotonic()
    try:
        response = httpx.get(url, timeout=timeout)
    except httpx.HTTPError as exc:
        text = str(exc)
        if "CERTIFICATE_VERIFY_FAILED" in text or "SSL" in type(exc.__context__).__name__:
            return [Check("back office", FAIL, f"{base}: TLS failed: {text[:160]}",
                          "Check the clock first (certificates depend on it), then that the "
                          "server's certificate chain is valid for this host name.")], False
        return [Check("back office", FAIL, f"{base}: unreachable ({type(exc).__name__})",
                      "Check the network cable or Wi-Fi, DNS (getent hosts <host>), the proxy "
                      "and firewall to the back office, and [backoffice] url.")], False
    ms = (time.monotonic() - started) * 1000
    try:
        body = response.json()
    except ValueError:
        body = None
    if not (response.status_code == 404 and isinstance(body, dict)
            and body.get("error") == "backoffice.case.unknown"):
        return [Check("back office", FAIL, f"{base} answered HTTP {response.status_code}, not as "
                      "the back office API", "Check [backoffice] url (a captive portal or proxy "
                      "page?) and that the back office is running.")], False
    checks = [Check("back office", OK, f"{base} answered in {ms:.0f} ms")]
    server_date = response.headers.get("date")
    if server_date:
        skew = (time.time() if now is None else now) - \
            email.utils.parsedate_to_datetime(server_date).timestamp()
        status = FAIL if abs(skew) > MAX_SKEW_S else WARN if abs(skew) > WARN_SKEW_S else OK
        checks.append(Check("clock skew", status, f"{skew:+.0f} s against the back office",
                            "" if status == OK else "Fix the time (NTP): signed requests more "
                            "than 300 s off are refused."))
    return checks, True


def enrolment_checks(config, reachable: bool, timeout: float) -> list[Check]:
    from kiosk.link.uploader import (BACKOFFICE_PUBLIC_KEY_FILE, TERMINAL_KEY_FILE,
                                load_backoffice_public_key)
    from protocol.keys import load_signing_key

    keys = Path(config.state_dir) / "keys"
    advice = ("Enrol: get a one-time token on the back office (`backoffice token create "
              f"--terminal-id {config.terminal_id}`) and run `kiosk provision`.")
    try:
        signing = load_signing_key(keys / TERMINAL_KEY_FILE)
        recipient = load_backoffice_public_key(keys)
    except FileNotFoundError:
        return [Check("enrolment", FAIL, f"no terminal key in {keys}", advice)]
    except (OSError, ValueError) as exc:
        return [Check("enrolment", FAIL, f"keys in {keys} unreadable: {exc}"[:200], advice)]
    if recipient is None:
        return [Check("enrolment", FAIL, f"no {BACKOFFICE_PUBLIC_KEY_FILE} in {keys}: not enrolled",
                      advice)]
    if not reachable:
        return [Check("enrolment", WARN, "keys present; acceptance not checked (back office "
                      "not reached)", "Fix the back-office connection first.")]
    if not (Path(config.state_dir) / "outbox.db").exists():
        return [Check("enrolment", OK, "keys present (no outbox yet: heartbeat not tried)")]
    return [_heartbeat_check(config, signing, recipient, timeout, advice)]


def _heartbeat_check(config, signing, recipient, timeout: float, advice: str) -> Check:
    """A signed heartbeat, as the uploader sends: proves the back office accepts this key."""
    from kiosk.link.outbox import Outbox
    from kiosk.link.uploader import Uploader, refusal_reason

    outbox = Outbox(config.state_dir, config.terminal_id, config.site.id, signing, recipient,
                    recover=False)
    uploader = Uploader(outbox, config.backoffice.url, config.terminal_id, signing,
                        config.state_dir, timeout_s=timeout)
    try:
        body = json.dumps(uploader.heartbeat_payload()).encode("utf-8")
        response = uploader.post_signed("/api/v1/heartbeats", body, "application/json")
    except Exception as exc:  # noqa: BLE001 - reported as a failed check
        return Check("enrolment", FAIL, f"signed heartbeat failed: {type(exc).__name__}",
                     "Check the back-office connection.")
    finally:
        uploader.close()
        outbox.close()
    if response.status_code == 204:
        return Check("enrolment", OK, f"terminal {config.terminal_id} accepted by the back office")
    return Check("enrolment", FAIL, f"back office refused this terminal: {refusal_reason(response)}",
                 "The terminal may be revoked or enrolled with another key: " + advice
                 + " (with --reenrol)")


def outbox_check(config, now: float | None = None) -> Check:
    from kiosk.link.outbox import Outbox

    if not (Path(config.state_dir) / "outbox.db").exists():
        return Check("outbox", OK, "empty (no visit yet)")
    with Outbox(config.state_dir, "", "", None, None, recover=False) as box:
        status = box.status(now)
    waiting = status["pending"] + status["in_flight"]
    age = status["oldest_pending_age_s"]
    detail = f"{waiting} waiting, {status['dead']} dead"
    if status["dead"]:
        return Check("outbox", WARN, detail + " (refused by the back office)",
                     "See `kiosk outbox list`; after the cause is fixed, `kiosk outbox retry`.")
    if age is not None and age > OUTBOX_WARN_AGE_S:
        return Check("outbox", WARN, f"{detail}; oldest waits {age / 60:.0f} min",
                     "Check the back-office connection and `systemctl status kiosk-uploader`.")
    return Check("outbox", OK, detail)


# ---- services, versions -------------------------------------------------------------------

def service_checks() -> list[Check]:
    if shutil.which("systemctl") is None or not Path("/run/systemd/system").is_dir():
        return [Check("services", SKIP, "systemd is not running here")]
    out = []
    for unit in SERVICES:
        proc = subprocess.run(["systemctl", "is-active", unit], capture_output=True, text=True,
                              timeout=10)
        state = proc.stdout.strip() or "unknown"
        if state == "active":
            out.append(Check(unit, OK, "active"))
        else:
            out.append(Check(unit, FAIL, state, f"`journalctl -u {unit} -n 50` shows why; "
                             f"`systemctl restart {unit}`."))
    return out


def version_check(config) -> Check:
    from kiosk import __version__

    try:
        from flows.catalog import load_catalog
        matters = len(load_catalog().matters)
    except Exception as exc:  # noqa: BLE001 - a broken catalogue is a finding
        return Check("versions", FAIL, f"kiosk {__version__}; catalogue does not load: {exc}"[:300],
                     "Reinstall the release, or roll back the last catalogue update.")
    catalogue = "packaged"
    try:
        from kiosk.link import updates
        version = updates.update_status(config.state_dir)["catalog"]["version"]
        catalogue = str(version) if version is not None else catalogue
    except Exception:  # noqa: BLE001 - no update channel on this installation
        pass
    return Check("versions", OK, f"kiosk {__version__}, catalogue {catalogue} ({matters} "
                 f"matters), Python {sys.version.split()[0]}")


# ---- all of it ----------------------------------------------------------------------------

def run_checks(config_path: str | None = None, *, device_timeout: float = 15.0,
               http_timeout: float = 5.0, open_devices: bool | None = None) -> list[Check]:
    """Every check, in the order a technician reads them. `open_devices`: None = open them
    unless the running app reported health in the last minute."""
    from kiosk.config import ConfigInvalid, load_config

    try:
        config = load_config(config_path)
    except ConfigInvalid as exc:
        return [Check("configuration", FAIL, str(exc)[:500],
                      "Fix the named file and key (`kiosk config check`).")] + clock_checks()
    versions = _Background(lambda: version_check(config))     # loading the catalogue takes a while
    checks = [Check("configuration", OK, ", ".join(config.sources[1:]) or "packaged defaults only")]
    if config.terminal_id == "UNSET":
        checks.append(Check("terminal", FAIL, "terminal_id is not set", "Run `kiosk provision`."))
    else:
        checks.append(Check("terminal", OK, f"{config.terminal_id} at {config.site.id}"))
    health = None if open_devices else read_fresh_health(config.state_dir)
    if health is not None:
        checks += health_checks(health)
    elif open_devices is False:
        checks.append(Check("devices", FAIL, "the app has not reported device health in the "
                            "last minute", "Is it running? `systemctl status kiosk-ui`; or run "
                            "`kiosk doctor --open-devices` with the app stopped."))
    else:
        checks += device_checks(config, device_timeout)
    checks.append(photo_decoder_check(config))
    checks.append(disk_check(config))
    checks += clock_checks()
    reach, reachable = backoffice_checks(config, http_timeout)
    checks += reach
    checks += enrolment_checks(config, reachable, http_timeout)
    checks.append(outbox_check(config))
    checks += service_checks()
    try:
        checks.append(versions.result(60))
    except TimeoutError:
        checks.append(Check("versions", WARN, "the catalogue took over 60 s to load",
                            "The terminal is overloaded or its storage is failing: check "
                            "`top` and `dmesg`."))
    return checks


def summary(checks: list[Check]) -> dict[str, int]:
    return {status: sum(c.status == status for c in checks) for status in (OK, WARN, FAIL, SKIP)}


def render(checks: list[Check]) -> str:
    lines = []
    for c in checks:
        lines += textwrap.wrap(f"{c.status:<5} {c.name:<16} {c.detail}", WIDTH,
                               subsequent_indent=" " * 23)
        if c.advice and c.status in (WARN, FAIL):
            lines += textwrap.wrap(c.advice, WIDTH, initial_indent=" " * 20 + "-> ",
                                   subsequent_indent=" " * 23)
    counts = summary(checks)
    lines.append(f"{counts[FAIL]} FAIL, {counts[WARN]} WARN, {counts[OK]} OK"
                 + (f", {counts[SKIP]} skipped" if counts[SKIP] else ""))
    return "\n".join(lines)


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the checks as JSON.")
@click.option("--open-devices/--from-app", default=None,
              help="Open the devices even while the app runs (it owns the ports), or only read "
                   "the running app's health. Default: open them unless the app reported health "
                   "in the last minute.")
@click.option("--timeout", default=15.0, show_default=True, type=click.FloatRange(1, 120),
              help="Seconds each device and the back office may take to answer.")
@click.pass_context
def doctor(ctx: click.Context, as_json: bool, open_devices: bool | None, timeout: float) -> None:
    """Check devices, paper, disk, clock, back office, enrolment, outbox and versions."""
    checks = run_checks((ctx.find_root().obj or {}).get("config_path"), device_timeout=timeout,
                        http_timeout=timeout, open_devices=open_devices)
    failed = any(c.status == FAIL for c in checks)
    if as_json:
        click.echo(json.dumps({"ok": not failed, "summary": summary(checks),
                               "checks": [asdict(c) for c in checks]}, ensure_ascii=False,
                              indent=2))
    else:
        click.echo(render(checks))
    sys.exit(1 if failed else 0)
