"""The `backoffice` command: serve the back office and administer it from a shell.

  backoffice serve [--host --port --workers N --data-dir --cookie-secure auto|always|never
                   --enable-docs --proxy-headers --forwarded-allow-ips IPS --ssl-certfile F
                   --ssl-keyfile F]
  backoffice token create --terminal-id T [--site S] [--ttl-hours H]
  backoffice terminal list | terminal revoke T
  backoffice reviewer add NAME [--admin] [--password P]   (prompts when --password is not given)
  backoffice reviewer list | reviewer role NAME admin|reviewer
  backoffice audit export [--since YYYY-MM-DD] [--format csv|jsonl] [--out FILE]
  backoffice openapi [--out docs/backoffice-openapi.json]
  backoffice publish catalog DIR [--site S] | publish site-profile FILE --site S | publish list
  backoffice alarms [--json]        (exit 0: none, 1: warnings only, 2: a critical alarm)
  backoffice db upgrade | db current   (the database's schema; exit 1: behind)
Every command takes --data-dir (default ./backoffice-data or $BACKOFFICE_DATA_DIR).
The administrators' commands bring the database's schema up to date first (as `db upgrade`);
`serve` refuses a database that is behind.
Whoever runs these commands can read the data folder's keys and database, so every command is
an administrator's; the ones that change something go into the audit log as `cli:<OS user>`.
"""
from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import click

from backoffice.settings import COOKIE_SECURE_CHOICES, Settings, SettingsError

DATA_DIR_OPTION = click.option(
    "--data-dir", type=click.Path(file_okay=False, path_type=Path), envvar="BACKOFFICE_DATA_DIR",
    default=Path("backoffice-data"), show_default=True,
    help="Directory with the database, key files and stored files.")


def _settings(data_dir: Path) -> Settings:
    try:
        return Settings.for_data_dir(data_dir)
    except SettingsError as exc:
        raise click.ClickException(f"{exc} [{exc.reason_key}]") from None


def _upgrade(settings: Settings) -> tuple[str | None, str]:
    """Bring the database's schema to this build's (backoffice/schema.py): (before, after)."""
    from backoffice import schema
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    try:
        before = schema.current_revision(settings.database_url)
        return before, schema.upgrade(settings.database_url)
    except schema.SchemaError as exc:
        raise click.ClickException(f"{exc} [{exc.reason_key}]") from None


def _services(data_dir: Path):
    """The back office's parts for an administrator's command, on an up-to-date schema."""
    from backoffice.services import Services
    settings = _settings(data_dir)
    _upgrade(settings)
    try:
        return Services.start(settings)
    except SettingsError as exc:
        raise click.ClickException(f"{exc} [{exc.reason_key}]") from None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main():
    """Back office of the 7x24 self-service stations: receives sealed packets, console for reviewers."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8400, show_default=True, type=int)
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64),
              help="Worker processes sharing the port (uvicorn's supervisor restarts one that "
              "dies); use PostgreSQL for more than one.")
@DATA_DIR_OPTION
@click.option("--log-level", default="info", show_default=True,
              type=click.Choice(["debug", "info", "warning", "error"]))
@click.option("--cookie-secure", type=click.Choice(COOKIE_SECURE_CHOICES), default="auto",
              show_default=True, help="Secure cookies: auto = when the request came over https "
              "(TLS here, or X-Forwarded-Proto from a trusted proxy).")
@click.option("--enable-docs", is_flag=True, help="Serve /docs, /redoc and /openapi.json.")
@click.option("--proxy-headers/--no-proxy-headers", default=True, show_default=True,
              help="Believe X-Forwarded-Proto/-For from --forwarded-allow-ips.")
@click.option("--forwarded-allow-ips", default="127.0.0.1", show_default=True,
              help="Addresses of the reverse proxies whose X-Forwarded-* headers are believed.")
@click.option("--ssl-certfile", type=click.Path(dir_okay=False), default=None,
              help="Serve TLS directly with this certificate (PEM).")
@click.option("--ssl-keyfile", type=click.Path(dir_okay=False), default=None)
def serve(host: str, port: int, workers: int, data_dir: Path, log_level: str,
          cookie_secure: str, enable_docs: bool, proxy_headers: bool, forwarded_allow_ips: str,
          ssl_certfile: str | None, ssl_keyfile: str | None):
    """Run the HTTP service (terminal API and console) with uvicorn, in one process or
    --workers N; several instances may share one database and data folder (backoffice/serving.py)."""
    from backoffice import serving
    logging.basicConfig(level=log_level.upper(), format=serving.LOG_FORMAT)
    overrides = {"cookie_secure": cookie_secure, **({"enable_docs": True} if enable_docs else {})}
    try:
        settings = Settings.for_data_dir(data_dir, **overrides)
        serving.prepare(settings, workers)   # schema current, database reachable, keys made
    except SettingsError as exc:
        raise click.ClickException(f"{exc} [{exc.reason_key}]") from None
    except serving.ServeRefused as exc:
        raise click.ClickException(str(exc)) from None
    serving.run(settings, overrides, host=host, port=port, workers=workers, log_level=log_level,
                proxy_headers=proxy_headers, forwarded_allow_ips=forwarded_allow_ips,
                ssl_certfile=ssl_certfile, ssl_keyfile=ssl_keyfile)


@main.group()
def token():
    """One-time enrolment tokens for terminals."""


@token.command("create")
@click.option("--terminal-id", required=True, help="Id the terminal will enrol as.")
@click.option("--site", default="", help="Site (branch, hall) the terminal stands in.")
@click.option("--ttl-hours", default=72.0, show_default=True, type=float)
@DATA_DIR_OPTION
def token_create(terminal_id: str, site: str, ttl_hours: float, data_dir: Path):
    """Create a token and print it (it is shown only this once)."""
    try:
        value = _services(data_dir).fleet.create_token(terminal_id, site, ttl_hours)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(value)


@main.group()
def terminal():
    """Enrolled terminals."""


@terminal.command("list")
@DATA_DIR_OPTION
def terminal_list(data_dir: Path):
    """List terminals with their state (OK, SILENT, REVOKED), last heartbeat and alarms."""
    services = _services(data_dir)
    views = services.fleet.terminals()
    if not views:
        click.echo("no terminals enrolled")
    raised: dict[str, list[str]] = {}
    for alarm in services.alarms.current():
        raised.setdefault(alarm.terminal_id, []).append(alarm.kind)
    for t in views:
        beat = t.last_heartbeat_at.isoformat(timespec="seconds") if t.last_heartbeat_at else "never"
        faults = "; ".join(t.faults) or "-"
        click.echo(f"{t.id}\t{t.site or '-'}\t{t.state}\tlast heartbeat {beat}\tfaults {faults}"
                   f"\talarms {', '.join(raised.get(t.id, [])) or '-'}")


@main.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON object: {at, alarms: [...]}.")
@DATA_DIR_OPTION
def alarms(as_json: bool, data_dir: Path):
    """Fleet alarms (silent, paper, device faults, outbox, failed updates) and what to do.

    Exit status 0 when there is none, 1 with warnings only, 2 with a critical alarm, so a
    monitoring system can run it."""
    import datetime as dt
    found = _services(data_dir).alarms.current()
    if as_json:
        click.echo(json.dumps({"at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                               "alarms": [a.as_dict() for a in found]}, ensure_ascii=False))
    elif not found:
        click.echo("no alarms")
    for a in [] if as_json else found:
        since = a.since.isoformat(timespec="seconds") if a.since else "-"
        click.echo(f"{a.level.upper()}\t{a.terminal_id}\t{a.kind}\t{a.what_en}"
                   f"{' (' + a.detail + ')' if a.detail else ''}\tsince {since}\n"
                   f"\tdo: {a.action_en}")
    sys.exit(2 if any(a.level == "critical" for a in found) else 1 if found else 0)


@terminal.command("revoke")
@click.argument("terminal_id")
@DATA_DIR_OPTION
def terminal_revoke(terminal_id: str, data_dir: Path):
    """Revoke a terminal: its requests are refused (403) from now on."""
    if not _services(data_dir).fleet.revoke(terminal_id):
        raise click.ClickException(f"no such terminal: {terminal_id}")
    click.echo(f"revoked {terminal_id}")


@main.group()
def reviewer():
    """Reviewer accounts of the console."""


@reviewer.command("add")
@click.argument("name")
@click.option("--admin", is_flag=True, help="An administrator: also enrolment tokens, revoking "
              "terminals, the audit export (default: a reviewer, who decides cases).")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True,
              help="Password (at least 8 characters); prompted when not given.")
@DATA_DIR_OPTION
def reviewer_add(name: str, admin: bool, password: str, data_dir: Path):
    """Add a reviewer (or, with --admin, an administrator) who can log in to the console."""
    from backoffice.reviewers import ReviewerError
    try:
        _services(data_dir).reviewers.add(name, password, "admin" if admin else "reviewer")
    except ReviewerError as exc:
        raise click.ClickException(f"{exc} [{exc.reason_key}]") from None
    click.echo(f"{'administrator' if admin else 'reviewer'} {name} added")


@reviewer.command("role")
@click.argument("name")
@click.argument("role", type=click.Choice(["admin", "reviewer"]))
@DATA_DIR_OPTION
def reviewer_role(name: str, role: str, data_dir: Path):
    """Make an account an administrator or a reviewer (accounts made before roles are reviewers)."""
    from backoffice.reviewers import ReviewerError
    try:
        _services(data_dir).reviewers.set_role(name, role)
    except ReviewerError as exc:
        raise click.ClickException(f"{exc} [{exc.reason_key}]") from None
    click.echo(f"{name} is now {role}")


@reviewer.command("list")
@DATA_DIR_OPTION
def reviewer_list(data_dir: Path):
    """List the console's accounts and their roles."""
    accounts = _services(data_dir).reviewers.accounts()
    if not accounts:
        click.echo("no reviewers")
    for name, role in accounts:
        click.echo(f"{name}\t{role}")


@main.group()
def audit():
    """The append-only audit log of reviewer and administrator actions."""


@audit.command("export")
@click.option("--since", default=None, help="Only entries from this day on (YYYY-MM-DD, UTC).")
@click.option("--format", "fmt", type=click.Choice(["csv", "jsonl"]), default="csv",
              show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write to this file (default: standard output).")
@DATA_DIR_OPTION
def audit_export(since: str | None, fmt: str, out: Path | None, data_dir: Path):
    """Write the audit log as CSV or JSON lines (the export itself is logged too)."""
    import datetime as dt

    from backoffice import audit as log_of
    start = None
    if since:
        try:
            start = dt.datetime.combine(dt.date.fromisoformat(since), dt.time(),
                                        dt.timezone.utc)
        except ValueError:
            raise click.BadParameter("give a day as YYYY-MM-DD", param_hint="--since") from None
    db = _services(data_dir).db
    log_of.record_now(db, log_of.cli_actor(), "audit.export",
                      detail=f"{fmt} since {start.isoformat() if start else 'start'}")
    chunks = log_of.export(log_of.entries(db, start), fmt)
    if out is None:
        for chunk in chunks:
            click.echo(chunk, nl=False)
        return
    with out.open("w", encoding="utf-8", newline="") as handle:
        handle.writelines(chunks)
    click.echo(f"wrote {out}")


@main.group()
def publish():
    """Signed catalogue and site-profile updates for the terminals (validated first)."""


def _publish(data_dir: Path, how: str, *args) -> None:
    from backoffice.publishing import PublishError
    try:
        view = getattr(_services(data_dir).publisher, how)(*args)
    except PublishError as exc:
        raise click.ClickException(f"{exc} [{exc.reason_key}]") from None
    scope = view.site or "all sites"
    click.echo(f"published {view.kind} version {view.version} for {scope}: {view.files} file(s), "
               f"{view.bytes} bytes, sha256 {view.sha256}")


@publish.command("catalog")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--site", default="", help="Only for this site (default: every site).")
@DATA_DIR_OPTION
def publish_catalog(directory: Path, site: str, data_dir: Path):
    """Validate the catalogue in DIRECTORY (tree, materials, prompts, matters/) and publish it."""
    _publish(data_dir, "publish_catalog", directory, site)


@publish.command("site-profile")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--site", required=True, help="The site this profile is for (its [site] id).")
@DATA_DIR_OPTION
def publish_site_profile(file: Path, site: str, data_dir: Path):
    """Validate a site profile (a TOML file with one [site] table) and publish it."""
    _publish(data_dir, "publish_site_profile", file, site)


@publish.command("list")
@DATA_DIR_OPTION
def publish_list(data_dir: Path):
    """List every published update."""
    views = _services(data_dir).publisher.list()
    if not views:
        click.echo("nothing published")
    for v in views:
        click.echo(f"{v.kind}\t{v.version}\t{v.site or '*'}\t{v.created_at}\t{v.files} files\t{v.sha256}")


@main.command()
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              default=Path("docs/backoffice-openapi.json"), show_default=True)
@DATA_DIR_OPTION
def openapi(out: Path, data_dir: Path):
    """Write the OpenAPI description of the HTTP API to a file."""
    from backoffice.app import create_app
    schema = create_app(Settings.for_data_dir(data_dir)).openapi()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(schema, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    click.echo(f"wrote {out} ({len(schema.get('paths', {}))} paths)")


@main.group("db")
def db_group():
    """The database's schema, kept by Alembic migrations (backoffice/migrations)."""


@db_group.command("upgrade")
@DATA_DIR_OPTION
def db_upgrade(data_dir: Path):
    """Make the tables, or bring them to this build's schema; cases and accounts stay."""
    from backoffice.schema import safe_name
    settings = _settings(data_dir)
    before, after = _upgrade(settings)
    name = safe_name(settings.database_url)
    click.echo(f"{name}: schema {before or 'empty'} -> {after}" if before != after else
               f"{name}: schema at {after}, nothing to do")


@db_group.command("current")
@DATA_DIR_OPTION
def db_current(data_dir: Path):
    """Show the database's schema revision and this build's; exit 1 when it is behind."""
    from backoffice import schema
    settings = _settings(data_dir)
    url = settings.database_url
    try:
        current, head = schema.current_revision(url), schema.head_revision()
        click.echo(f"{schema.safe_name(url)}\tcurrent {current or 'none'}\thead {head}")
        schema.require_current_schema(url)
    except schema.SchemaBehind as exc:
        click.echo(str(exc))
        sys.exit(1)
    except schema.SchemaError as exc:
        raise click.ClickException(f"{exc} [{exc.reason_key}]") from None
