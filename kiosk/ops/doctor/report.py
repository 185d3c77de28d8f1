"""The whole doctor: every check in the order a technician reads them, and the text shown."""
from __future__ import annotations

import textwrap

from kiosk.ops.checks import FAIL, OK, SKIP, WARN, Check, summary
from kiosk.ops.doctor.background import Background
from kiosk.ops.doctor.connection import backoffice_checks, enrolment_checks, outbox_check
from kiosk.ops.doctor.devices import (device_checks, health_checks, photo_decoder_check,
                                      read_fresh_health)
from kiosk.ops.doctor.host import clock_checks, disk_check, service_checks, version_check

WIDTH = 100


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
    versions = Background(lambda: version_check(config))     # loading the catalogue takes a while
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


def render(checks: list[Check]) -> str:
    """The checks as text lines of at most WIDTH characters, advice under each problem, and
    the count of each status last."""
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
