"""Reviewer roles (issue 13, section 4): a reviewer decides cases; only an administrator
creates enrolment tokens, revokes terminals, exports the audit log (in the console), and
publishes updates or adds accounts (the `backoffice` CLI, which needs the data folder: an
administrator's by nature). Before roles every reviewer could do all of it.

Against the real server: a reviewer's session gets 403 with a plain page for every admin
route (the list of admin routes is checked against the console's routes, so a new route must
be classified), sees no admin links, while an administrator can. Databases made before roles
keep working: the column is added at start, their accounts are reviewers.
"""
from __future__ import annotations

import sqlite3

import httpx
import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from backoffice.db import EnrolmentToken, Terminal
from backoffice_testkit import console_client, csrf_of

ADMIN_ROUTES = {("GET", "/console/tokens"), ("POST", "/console/tokens"),
                ("POST", "/console/fleet/{terminal_id}/revoke"), ("GET", "/console/audit.{fmt}")}
REVIEWER_ROUTES = {("GET", "/console/login"), ("POST", "/console/login"),
                   ("POST", "/console/logout"), ("GET", "/console"), ("GET", "/console/cases"),
                   ("GET", "/console/fleet"), ("GET", "/console/fleet/alarms.json"),
                   ("GET", "/console/help"), ("POST", "/console/help/{help_id}/handled"),
                   ("GET", "/console/rejections"), ("GET", "/console/cases/{case_number}"),
                   ("POST", "/console/cases/{case_number}/action"),
                   ("POST", "/console/cases/{case_number}/supplement"),
                   ("GET", "/console/cases/{case_number}/files/{file_id}")}


def add(server, name: str, role: str) -> httpx.Client:
    server.services.reviewers.add(name, f"{name}-pa55word", role=role)
    return console_client(server.base_url, name, f"{name}-pa55word")


@pytest.fixture(scope="module")
def reviewer(server):
    client = add(server, "roles-reviewer", "reviewer")
    yield client
    client.close()


@pytest.fixture(scope="module")
def admin(server):
    client = add(server, "roles-admin", "admin")
    yield client
    client.close()


def tokens_for(server, terminal_id: str) -> int:
    with server.services.db.read() as session:
        return session.scalar(select(func.count()).select_from(EnrolmentToken)
                              .where(EnrolmentToken.terminal_id == terminal_id))


def refused_page(response: httpx.Response) -> bool:
    return (response.status_code == 403 and response.headers["content-type"].startswith("text/html")
            and "Administrators only" in response.text)


def test_every_console_route_is_classified(server):
    routes = {(method, route.path) for route in server.app.routes
              if getattr(route, "path", "").startswith("/console")
              for method in getattr(route, "methods", ()) if method != "HEAD"}
    assert routes == ADMIN_ROUTES | REVIEWER_ROUTES, routes ^ (ADMIN_ROUTES | REVIEWER_ROUTES)


def test_a_reviewer_cannot_mint_a_token_revoke_or_export(server, new_terminal, reviewer):
    victim = new_terminal()
    csrf = csrf_of(reviewer.get("/console/cases").text)
    assert refused_page(reviewer.get("/console/tokens"))
    assert refused_page(reviewer.post("/console/tokens", data={
        "csrf": csrf, "terminal_id": "ROLE-EVIL", "site": "x"}))
    assert tokens_for(server, "ROLE-EVIL") == 0
    assert refused_page(reviewer.post(f"/console/fleet/{victim.terminal_id}/revoke",
                                      data={"csrf": csrf}))
    with server.services.db.read() as session:
        assert session.get(Terminal, victim.terminal_id).revoked_at is None
    assert refused_page(reviewer.get("/console/audit.csv"))
    assert refused_page(reviewer.get("/console/audit.jsonl"))
    for path in ("/console/publish", "/console/reviewers"):       # no such console routes
        assert reviewer.post(path, data={"csrf": csrf}).status_code in (404, 405)


def test_a_reviewer_sees_no_admin_links_and_still_decides(server, reviewer):
    for path in ("/console/cases", "/console/fleet", "/console/help"):
        page = reviewer.get(path).text
        assert 'id="nav-tokens"' not in page and 'id="nav-audit"' not in page
        assert "/revoke" not in page


def test_an_admin_can_mint_a_token_revoke_and_export(server, new_terminal, admin):
    victim = new_terminal()
    page = admin.get("/console/fleet").text
    assert 'id="nav-tokens"' in page and f"/console/fleet/{victim.terminal_id}/revoke" in page
    csrf = csrf_of(page)
    made = admin.post("/console/tokens", data={"csrf": csrf, "terminal_id": "ROLE-OK", "site": "x"})
    assert made.status_code == 200 and tokens_for(server, "ROLE-OK") == 1
    assert admin.post(f"/console/fleet/{victim.terminal_id}/revoke",
                      data={"csrf": csrf}).status_code == 303
    with server.services.db.read() as session:
        assert session.get(Terminal, victim.terminal_id).revoked_at is not None
    export = admin.get("/console/audit.csv")
    assert export.status_code == 200 and "token.create" in export.text
    assert "terminal.revoke" in export.text and "reviewer:roles-admin" in export.text


def test_the_cli_adds_admins_and_reviewers_and_changes_roles(tmp_path):
    from backoffice.cli import main
    data = ["--data-dir", str(tmp_path)]
    runner = CliRunner()
    assert "administrator boss added" in runner.invoke(
        main, ["reviewer", "add", "boss", "--admin", "--password", "boss-pa55word", *data]).output
    assert "reviewer clerk added" in runner.invoke(
        main, ["reviewer", "add", "clerk", "--password", "clerk-pa55word", *data]).output
    assert runner.invoke(main, ["reviewer", "list", *data]).output.split() == [
        "boss", "admin", "clerk", "reviewer"]
    assert "clerk is now admin" in runner.invoke(main, ["reviewer", "role", "clerk", "admin",
                                                        *data]).output
    unknown = runner.invoke(main, ["reviewer", "role", "nobody", "admin", *data])
    assert unknown.exit_code != 0 and "backoffice.reviewer.unknown" in unknown.output


def test_a_database_made_before_roles_keeps_working(tmp_path):
    """A database made before roles (by `create_all`, schema revision 0003: no role column):
    `backoffice db upgrade` adds the column, the account is a reviewer and can still log in;
    the CLI makes it an administrator."""
    from backoffice import schema
    from backoffice.app import Services
    from backoffice.cli import main
    from backoffice.reviewers import hash_password
    from backoffice.settings import Settings
    schema.upgrade(f"sqlite:///{tmp_path / 'backoffice.db'}", "0003")
    with sqlite3.connect(tmp_path / "backoffice.db") as conn:
        conn.execute("DROP TABLE alembic_version")        # create_all kept no version
        conn.execute("INSERT INTO reviewers (name, password_hash, created_at) VALUES (?, ?, ?)",
                     ("old-timer", hash_password("old-pa55word"), "2026-01-01 00:00:00"))
    upgraded = CliRunner().invoke(main, ["db", "upgrade", "--data-dir", str(tmp_path)])
    assert upgraded.exit_code == 0 and "schema 0003 -> 0" in upgraded.output, upgraded.output
    services = Services.start(Settings.for_data_dir(tmp_path))
    assert services.reviewers.accounts() == [("old-timer", "reviewer")]
    token, _csrf = services.reviewers.login("old-timer", "old-pa55word", "127.0.0.1")
    assert services.reviewers.session_for(token).role == "reviewer"
    services.reviewers.set_role("old-timer", "admin", actor="test")
    assert services.reviewers.session_for(token).is_admin
    services.db.dispose()
