"""Schema migrations (backoffice/migrations, backoffice/schema.py) on SQLite and PostgreSQL.

- A database at the first release's schema (revision 0001), holding what the real API stored
  (an enrolled terminal, sealed packets sent over HTTP, a reviewer, a case moved through the
  workflow in the console), is refused by `backoffice serve` with a message naming the command
  and not the password, upgraded by `backoffice db upgrade`, and everything reads back through
  the API and the console; the back office then goes on working on it. Today's code maps
  today's schema, so the API fills a head database which is then taken down to 0001 (the
  migrations' downgrades drop exactly what later releases added, every first-release row stays).
- Head is exactly the models of backoffice/db.py (Alembic's autogenerate finds no difference).
- Databases made by `create_all` before migrations existed are recognised by their tables and
  columns, at each release's schema, and upgraded keeping their rows; other databases are refused.
- Concurrent upgraders of one empty database wait for one another.
"""
from __future__ import annotations

import hashlib
import os
import re
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, inspect

from backoffice import schema
from backoffice.cli import main
from backoffice.settings import Settings
from backoffice_testkit import (REPO, ServerThread, TerminalClient, application, console_client,
                                csrf_of, help_request)

ENGINES = ("sqlite", "postgresql")
PASSWORD = "migration-pa55"
FIRST_RELEASE_MISSING = {"reviewers": "role", "cases": "progress_token_hash"}


@pytest.fixture(params=ENGINES)
def database_url(request, tmp_path) -> str:
    """An empty database: a SQLite file, or a database of the session's private cluster."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'migrations.db'}"
    cluster = request.getfixturevalue("postgres_cluster")
    name = hashlib.sha256(str(tmp_path).encode()).hexdigest()[:12]
    return cluster.create_database(f"migrations_{name}")


def _cli(url: str, *args: str):
    return CliRunner().invoke(main, list(args), env={"BACKOFFICE_DATABASE_URL": url},
                              catch_exceptions=False)


def _columns(url: str) -> dict[str, set[str]]:
    engine = create_engine(url)
    try:
        found = inspect(engine)
        return {t: {c["name"] for c in found.get_columns(t)} for t in found.get_table_names()}
    finally:
        engine.dispose()


def _act(console: httpx.Client, case_number: str, action: str, comment: str) -> int:
    page = console.get(f"/console/cases/{case_number}")
    return console.post(f"/console/cases/{case_number}/action", data={
        "csrf": csrf_of(page.text), "action": action, "comment": comment}).status_code


def _case_files(console: httpx.Client, case_number: str) -> set[str]:
    """SHA-256 of every file the console's case page links to, downloaded through it."""
    page = console.get(f"/console/cases/{case_number}").text
    links = set(re.findall(rf'(?:href|src)="(/console/cases/{case_number}/files/\d+)"', page))
    return {hashlib.sha256(console.get(link).content).hexdigest() for link in links}


def _fill_through_the_api(settings: Settings) -> dict:
    """What a running back office stores: an enrolment, packets, a reviewer, a decided case."""
    url = settings.database_url
    assert "reviewer clerk added" in _cli(url, "reviewer", "add", "clerk", "--password", PASSWORD,
                                    "--data-dir", str(settings.data_dir)).output
    with ServerThread(settings) as server:
        terminal = TerminalClient(server.base_url, "MIG-01", site="site-m")
        token = _cli(url, "token", "create", "--terminal-id", "MIG-01", "--site", "site-m",
                     "--data-dir", str(settings.data_dir)).output.strip()
        assert terminal.enrol(token).status_code == 201
        sent = []
        for id_number, name in (("110101195001011234", "王小明"),
                                ("110101194805055678", "李秀英")):
            manifest, files = application(terminal, id_number=id_number, name=name)
            blob = terminal.seal(manifest, files)
            assert terminal.send_packet(blob).status_code == 201
            sent.append((manifest, blob, {hashlib.sha256(d).hexdigest() for d in files.values()}))
        assert terminal.send_packet(terminal.seal(*help_request(terminal))).status_code == 201
        assert terminal.heartbeat().status_code == 204
        console = console_client(server.base_url, "clerk", PASSWORD)
        decided = sent[0][0]["case_number"]
        assert _act(console, decided, "accept", "材料齐全 migration") == 303
        assert _act(console, decided, "approve", "符合条件 migration") == 303
        assert _case_files(console, decided) == sent[0][2]
        console.close()
        terminal.http.close()
    return {"terminal": terminal, "sent": sent, "decided": decided}


def _serve_refuses(settings: Settings, url: str) -> str:
    env = {**os.environ, "BACKOFFICE_DATABASE_URL": url}
    done = subprocess.run([str(Path(sys.executable).parent / "backoffice"), "serve", "--port", "1",
                           "--data-dir", str(settings.data_dir)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=30)
    assert done.returncode != 0, done.stdout + done.stderr
    return done.stderr


def test_a_first_release_database_filled_through_the_api_upgrades_and_reads_back(database_url,
                                                                                  tmp_path):
    url = database_url
    settings = Settings.for_data_dir(tmp_path / "data", database_url=url, rate_limits="off")
    filled = _fill_through_the_api(settings)

    assert schema.downgrade(url, "0001") == "0001"
    columns = _columns(url)
    assert set(columns) - {"alembic_version"} == set(schema.FIRST_TABLES)
    for table, column in FIRST_RELEASE_MISSING.items():
        assert column not in columns[table]

    refused = _serve_refuses(settings, url)
    assert "backoffice db upgrade" in refused and "revision 0001" in refused, refused
    assert "Traceback" not in refused
    password = re.search(r"://[^:/@]*:([^@]*)@", url)
    if password:                                  # PostgreSQL: the cluster's password
        assert password.group(1) not in refused and "***" in refused, refused
    behind = _cli(url, "db", "current", "--data-dir", str(settings.data_dir))
    assert behind.exit_code == 1 and "current 0001" in behind.output
    upgraded = _cli(url, "db", "upgrade", "--data-dir", str(settings.data_dir))
    assert f"schema 0001 -> {schema.head_revision()}" in upgraded.output, upgraded.output
    assert _cli(url, "db", "current", "--data-dir", str(settings.data_dir)).exit_code == 0

    terminal: TerminalClient = filled["terminal"]
    with ServerThread(settings) as server:
        terminal.http = httpx.Client(base_url=server.base_url, timeout=30)
        assert terminal.heartbeat().status_code == 204           # still enrolled, same key
        for manifest, blob, _ in filled["sent"]:                 # stored exactly once, kept
            again = terminal.send_packet(blob)
            assert again.status_code == 200
            assert again.json()["case_number"] == manifest["case_number"]
        first, second = (m for m, _, _ in filled["sent"])
        [case] = terminal.lookup(first["applicant"]["id_number"]).json()
        assert case["case_number"] == filled["decided"] and case["status"] == "approved"
        assert [h["status"] for h in case["history"]] == ["received", "accepted", "approved"]
        [other] = terminal.lookup(second["applicant"]["id_number"]).json()
        assert other["status"] == "received"

        console = console_client(server.base_url, "clerk", PASSWORD)   # same password
        listed = console.get("/console/cases").text
        assert first["case_number"] in listed and second["case_number"] in listed
        page = console.get(f"/console/cases/{filled['decided']}").text
        assert "材料齐全 migration" in page and "符合条件 migration" in page
        assert _case_files(console, filled["decided"]) == filled["sent"][0][2]
        assert _act(console, filled["decided"], "complete", "已发放") == 303   # and goes on
        assert server.services.reviewers.accounts() == [("clerk", "reviewer")]
        console.close()
        manifest, files = application(terminal, id_number="110101196001019999")
        assert terminal.send_packet(terminal.seal(manifest, files)).status_code == 201
        [new] = terminal.lookup("110101196001019999").json()
        assert new["case_number"] == manifest["case_number"] and new["status"] == "received"
        terminal.http.close()


def test_head_is_exactly_the_models(database_url):
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from backoffice.db import Base
    assert schema.upgrade(database_url) == schema.head_revision()
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
    finally:
        engine.dispose()
    assert schema.require_current_schema(database_url) == schema.head_revision()


def test_concurrent_upgraders_wait_for_one_another(database_url):
    results, errors = [], []

    def upgrade():
        try:
            results.append(schema.upgrade(database_url))
        except Exception as exc:          # noqa: BLE001 -- reported below
            errors.append(exc)

    threads = [threading.Thread(target=upgrade) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors and results == [schema.head_revision()] * 4


@pytest.mark.parametrize("release", ["0001", "0002", "0003", "0004", "0005"])
def test_a_database_made_by_create_all_is_recognised_and_upgraded(tmp_path, release):
    """Each release's schema without alembic_version, as `create_all` left it, with a case."""
    path = tmp_path / "old.db"
    url = f"sqlite:///{path}"
    schema.upgrade(url, release)
    with sqlite3.connect(path) as db:
        db.execute("DROP TABLE alembic_version")
        db.execute("INSERT INTO cases (case_number, matter_code, matter_name, terminal_id, "
                   "site_id, status, id_hash, applicant_masked, manifest_enc, submitted_at, "
                   "received_at, updated_at) VALUES ('T-20250101-000001', 'M', '', 'T', '', "
                   "'received', 'h', '', x'00', '2025-01-01', '2025-01-01', '2025-01-01')")
    assert schema.current_revision(url) == release
    with pytest.raises(schema.SchemaBehind, match="made before migrations.*backoffice db upgrade"):
        schema.require_current_schema(url)
    assert schema.upgrade(url) == schema.head_revision()
    schema.require_current_schema(url)
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT case_number FROM cases").fetchall() == [("T-20250101-000001",)]
        db.execute("INSERT INTO audit_log (at, actor, action, target, detail, address) "
                   "VALUES ('2026-01-01', 'cli:test', 'token.create', '', '', '')")
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            db.execute("DELETE FROM audit_log")


def test_other_databases_are_refused_not_touched(tmp_path):
    foreign = tmp_path / "other.db"
    with sqlite3.connect(foreign) as db:
        db.execute("CREATE TABLE cases (id INTEGER PRIMARY KEY)")
    with pytest.raises(schema.SchemaError, match="not those of any back-office release"):
        schema.upgrade(f"sqlite:///{foreign}")
    ahead = f"sqlite:///{tmp_path / 'ahead.db'}"
    schema.upgrade(ahead)
    with sqlite3.connect(tmp_path / "ahead.db") as db:
        db.execute("UPDATE alembic_version SET version_num = '9999'")
    with pytest.raises(schema.SchemaError, match="does not know") as refused:
        schema.require_current_schema(ahead)
    assert not isinstance(refused.value, schema.SchemaBehind)
    with pytest.raises(schema.SchemaError):
        schema.upgrade(ahead)
    with sqlite3.connect(foreign) as db:
        assert [r[0] for r in db.execute("SELECT name FROM sqlite_master")] == ["cases"]


def test_an_upgrade_that_fails_halfway_leaves_the_database_as_it_was(database_url):
    """0004 adds reviewers.role, then creates login_throttle: with a login_throttle already
    there the second step fails, and the first is undone with it (one transaction)."""
    schema.upgrade(database_url, "0003")
    engine = create_engine(database_url)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE login_throttle (key VARCHAR(100) PRIMARY KEY)")
    finally:
        engine.dispose()
    with pytest.raises(schema.SchemaError, match="cannot reach or change the database"):
        schema.upgrade(database_url)
    assert "role" not in _columns(database_url)["reviewers"]
    assert schema.current_revision(database_url) == "0003"


def test_the_audit_log_is_append_only_at_head_on_both_engines(database_url):
    from sqlalchemy.exc import DatabaseError
    schema.upgrade(database_url)
    engine = create_engine(database_url)
    refused = ["UPDATE audit_log SET actor = 'someone-else'", "DELETE FROM audit_log"]
    if engine.dialect.name == "postgresql":
        refused.append("TRUNCATE audit_log")
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql(
                "INSERT INTO audit_log (at, actor, action, target, detail, address) VALUES "
                "('2026-01-01 00:00:00+00', 'cli:test', 'token.create', '', '', '')")
        for statement in refused:
            with pytest.raises(DatabaseError, match="append-only"), engine.begin() as conn:
                conn.exec_driver_sql(statement)
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT actor FROM audit_log").all() == [("cli:test",)]
    finally:
        engine.dispose()


@pytest.mark.parametrize("url", ["postgresql+psycopg://clerk:s3cret-pw@127.0.0.1:1/cases",
                                 "postgresql+psycopg//clerk:s3cret-pw@host/cases",
                                 "mysql://clerk:s3cret-pw@127.0.0.1:1/cases"])
def test_what_cannot_be_reached_is_said_without_the_password(url, tmp_path):
    with pytest.raises(schema.SchemaError) as refused:
        schema.require_current_schema(url)
    message = str(refused.value)
    assert "s3cret-pw" not in message
    assert "BACKOFFICE_DATABASE_URL" in message or "No module named 'MySQLdb'" in message
    upgraded = _cli(url, "db", "upgrade", "--data-dir", str(tmp_path))
    assert upgraded.exit_code == 1 and "Traceback" not in upgraded.output
    assert "s3cret-pw" not in upgraded.output and "Error:" in upgraded.output
