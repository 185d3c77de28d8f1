"""`kiosk devices ...`: what is configured, self-tests, and reading a card from any URL."""
from __future__ import annotations

import json
import sys

import click

from devices.interfaces import ConfigurationError
from devices.printer.condition import condition_of
from devices.registry import open_device
from devices.slots import SLOT_NAMES
from kiosk.cli import LazyGroup
from kiosk.config import ConfigInvalid, load_config
from kiosk.ops.selftest import run_self_test


@click.group(cls=LazyGroup, lazy={
    "read-card": ("devices.id_card.tool:read_card",
                  "Read one ID card from a reader URL and print it (technician tool)."),
})
def devices() -> None:
    """List, self-test and read from configured devices."""


def _config(ctx):
    try:
        return load_config((ctx.find_root().obj or {}).get("config_path"))
    except ConfigInvalid as exc:
        click.echo(f"configuration invalid:\n{exc}", err=True)
        ctx.exit(2)


@devices.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def list_(ctx, as_json: bool) -> None:
    """Configured devices, whether each opens, and its state."""
    cfg = _config(ctx)
    rows = []
    for kind in SLOT_NAMES:
        url = getattr(cfg.devices, kind)
        try:
            dev = open_device(url, expected_kind=kind)
            state = "ok"
            if kind == "printer":
                st = dev.status()
                fault, maintenance = condition_of(st)
                state = (f"{fault or maintenance or 'ok'}: online={st.online} "
                         f"paper={st.paper.value} cover_open={st.cover_open}")
            dev.close()
        except ConfigurationError as exc:
            state = f"misconfigured: {exc}"
        except Exception as exc:  # report, never crash: this is a diagnostic tool
            state = f"unavailable: {getattr(exc, 'reason_key', type(exc).__name__)}: {exc}"
        rows.append({"kind": kind, "url": url, "state": state})
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
    else:
        for r in rows:
            click.echo(f"{r['kind']:11} {r['url']}\n            {r['state']}")


@devices.command("test")
@click.argument("kind", type=click.Choice(SLOT_NAMES))
@click.option("--url", help="Device URL (default: the configured one).")
@click.option("--timeout", default=15.0, show_default=True, help="Seconds to wait for a card.")
@click.pass_context
def test(ctx, kind: str, url: str | None, timeout: float) -> None:
    """Self-test one device: read a card, print a test receipt, grab a frame or scan a page."""
    cfg = _config(ctx)
    try:
        dev = open_device(url or getattr(cfg.devices, kind), expected_kind=kind)
    except ConfigurationError as exc:
        raise click.ClickException(str(exc))
    except Exception as exc:
        click.echo(f"{kind}: FAIL cannot open: {getattr(exc, 'reason_key', '')} {exc}")
        sys.exit(1)
    try:
        result = run_self_test(kind, dev, cfg.terminal_id, cfg.site.name.get("zh"), timeout)
    finally:
        dev.close()
    click.echo(f"{kind}: {'PASS' if result.ok else 'FAIL'} {result.detail} ({result.seconds} s)")
    sys.exit(0 if result.ok else 1)
