"""`kiosk doctor`: print the doctor's checks (kiosk/ops/doctor/) and exit 1 if any FAILed."""
from __future__ import annotations

import json
import sys
from dataclasses import asdict

import click

from kiosk.ops.checks import FAIL, summary
from kiosk.ops.doctor.report import render, run_checks


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
