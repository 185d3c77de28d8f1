"""`kiosk updates status|check`: the signed updates on this terminal (kiosk/link/updates.py), and
asking the back office at once through the uploader (kiosk/link/uploader.py).

Kept apart from kiosk/link/updates.py so that module does not import the uploader, which imports it.
"""
from __future__ import annotations

import json
import sys

import click

from kiosk.link.updates import load_config_or_roll_back, update_status


@click.group("updates")
def updates_command() -> None:
    """Signed catalogue and site-profile updates on this terminal."""


def _config(ctx: click.Context):
    from kiosk.config import ConfigInvalid, load_config
    try:
        return load_config_or_roll_back(load_config, (ctx.find_root().obj or {}).get("config_path"))
    except ConfigInvalid as exc:
        raise click.ClickException(f"configuration invalid:\n{exc}") from None


def _echo_status(status: dict, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(status))
        return
    for kind, s in status.items():
        version = "packaged" if kind == "catalog" and s["version"] is None else \
            s["version"] if s["version"] is not None else "site file"
        line = f"{kind:<13}in use {version}"
        if s["staged"] is not None:
            line += f", version {s['staged']} waits for a moment between visits"
        if s["failed"]:
            line += f", version {s['failed']['version']} refused: {s['failed']['reason_key']}"
        click.echo(line)


@updates_command.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (as in heartbeats).")
@click.pass_context
def status_command(ctx: click.Context, as_json: bool) -> None:
    """Versions in use and staged, and the last refused one, per kind."""
    _echo_status(update_status(_config(ctx).state_dir), as_json)


@updates_command.command("check")
@click.pass_context
def check_command(ctx: click.Context) -> None:
    """Ask the back office now and stage what is new (the UI applies it between visits).
    Exit status 1 when the back office cannot be asked or an update is refused."""
    from kiosk.link.uploader import uploader_from_settings
    config = _config(ctx)
    try:
        uploader = uploader_from_settings(config.state_dir, config.backoffice.url,
                                          config.terminal_id, site_id=config.site.id)
    except (OSError, ValueError) as exc:
        raise click.ClickException(f"not enrolled? {exc}") from None
    try:
        if uploader.updater is None:
            raise click.ClickException("no publisher key: enrol this terminal again "
                                       "(the back office's key for updates comes with enrolment)")
        result = uploader.check_updates()
    finally:
        uploader.close()
        uploader.outbox.close()
    if result is None:
        raise click.ClickException("the back office could not be asked (see the log with -v)")
    for kind, version in result.staged.items():
        click.echo(f"{kind}: version {version} verified and staged")
    _echo_status(update_status(config.state_dir), False)
    if result.refused:
        sys.exit(1)
