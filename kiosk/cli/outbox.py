"""`kiosk outbox status|list|retry`: inspect and retry the terminal's durable outbox.

Reads state_dir/outbox.db (from --state-dir, env KIOSK_STATE_DIR, or the site configuration's
state_dir). Shows packet ids, kinds, case numbers, states, attempts and PII-free errors only:
the packets themselves are sealed to the back office and cannot be read here.
"""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import click

from kiosk.link.outbox import STATES, Outbox

STATE_DIR_OPTION = click.option(
    "--state-dir", envvar="KIOSK_STATE_DIR", type=click.Path(file_okay=False, path_type=Path),
    help="Terminal state directory (env KIOSK_STATE_DIR; default: state_dir of the configuration).")
JSON_OPTION = click.option("--json", "as_json", is_flag=True, help="Print JSON.")


def _open(ctx: click.Context, state_dir: Path | None) -> Outbox:
    if state_dir is None:
        from kiosk.config import ConfigInvalid, load_config
        try:
            state_dir = load_config((ctx.find_root().obj or {}).get("config_path")).state_dir
        except ConfigInvalid as exc:
            raise click.ClickException(f"no --state-dir and no usable configuration: {exc}") from exc
    if not (Path(state_dir) / "outbox.db").exists():
        raise click.ClickException(f"no outbox in {state_dir}")
    return Outbox(state_dir, "", "", None, None, recover=False)


def _when(timestamp: float | None) -> str:
    if timestamp is None:
        return "-"
    return dt.datetime.fromtimestamp(timestamp).astimezone().isoformat(timespec="seconds")


@click.group()
def outbox() -> None:
    """Inspect and retry the durable outbox of sealed packets."""


@outbox.command()
@STATE_DIR_OPTION
@JSON_OPTION
@click.pass_context
def status(ctx: click.Context, state_dir: Path | None, as_json: bool) -> None:
    """Counts by state, the age of the oldest undelivered packet, and whether the queue waits
    for a back office it could not reach."""
    with _open(ctx, state_dir) as box:
        result = box.status()
        hold = box.queue_hold()
    if as_json:
        click.echo(json.dumps({**result, "back_office": hold}))
        return
    for state in STATES:
        click.echo(f"{state:<14}{result[state]}")
    age = result["oldest_pending_age_s"]
    click.echo(f"{'oldest pending':<14}{'-' if age is None else f'{age:.0f} s'}")
    if hold["failures"]:
        click.echo(f"{'back office':<14}not reached {hold['failures']} time(s) in a row; "
                   f"next try in {hold['retry_in_s']:.0f} s (`kiosk outbox retry` to try now)")


@outbox.command(name="list")
@STATE_DIR_OPTION
@JSON_OPTION
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 100_000))
@click.option("--state", type=click.Choice(STATES), help="Only packets in this state.")
@click.pass_context
def list_packets(ctx: click.Context, state_dir: Path | None, as_json: bool, limit: int,
                 state: str | None) -> None:
    """Packets, newest first (ids, case numbers, states, attempts, last errors)."""
    with _open(ctx, state_dir) as box:
        rows = box.list(limit, state)
    if as_json:
        click.echo(json.dumps(rows))
        return
    if not rows:
        click.echo("(empty)")
    for r in rows:
        click.echo(f"{r['packet_id']}  {r['kind']:<12} {r['case_number'] or '-':<28} "
                   f"{r['state']:<12} tries={r['attempts']:<3} accepted={_when(r['accepted_at'])}"
                   + (f"  error={r['last_error']}" if r["last_error"] else ""))


@outbox.command()
@STATE_DIR_OPTION
@click.argument("packet_id", required=False)
@click.option("--all-dead", is_flag=True, help="Retry every dead packet.")
@click.pass_context
def retry(ctx: click.Context, state_dir: Path | None, packet_id: str | None,
          all_dead: bool) -> None:
    """Queue PACKET_ID (dead or waiting) or --all-dead for upload now."""
    if bool(packet_id) == all_dead:
        raise click.UsageError("give either PACKET_ID or --all-dead")
    with _open(ctx, state_dir) as box:
        count = box.retry(None if all_dead else packet_id)
    if packet_id and count == 0:
        raise click.ClickException(f"no dead or pending packet {packet_id}")
    click.echo(f"{count} packet(s) queued for upload")
