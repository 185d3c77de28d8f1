"""The doctor's checks of the machine itself: free disk, the clock and NTP, the systemd
services, and the versions of the kiosk and its catalogue."""
from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import sys
from pathlib import Path

from kiosk.ops.checks import FAIL, OK, SKIP, WARN, Check

MIN_YEAR = 2025
SERVICES = ("kiosk-ui.service", "kiosk-uploader.service")


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
