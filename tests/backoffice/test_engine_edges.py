"""Inputs where SQLite and PostgreSQL differ, answered the same on both and never with a 500.

- an id in a URL larger than an Integer column holds (PostgreSQL: "integer out of range",
  SQLite: "Python int too large") is no row: 404 (or the same redirect as an unknown id);
- a NUL character in a form field, a login name or a case number (PostgreSQL refuses NUL in
  text) is no 500, and a case number with one finds no case;
- times read back are UTC whatever time zone the database server is set to.
"""
from __future__ import annotations

import datetime as dt

import httpx
from sqlalchemy import select, text

from backoffice.db import Case, Database
from backoffice_testkit import application, console_client, csrf_of

HUGE = (2**31, 2**40, 10**20)


def test_ids_beyond_an_integer_column_are_no_row(server, new_terminal):
    server.services.reviewers.add("edges-admin", "edges-pa55word", role="admin")
    console = console_client(server.base_url, "edges-admin", "edges-pa55word")
    terminal = new_terminal()
    try:
        for big in HUGE:
            csrf = csrf_of(console.get("/console/help").text)
            handled = console.post(f"/console/help/{big}/handled", data={"csrf": csrf})
            assert handled.status_code == 303, handled.text
            assert console.get(f"/console/cases/X-1/files/{big}").status_code == 404
            bundle = terminal.signed("GET", f"/api/v1/updates/catalog/{big}")
            assert bundle.status_code == 404, bundle.text
    finally:
        console.close()


def test_nul_characters_are_no_500(server, new_terminal):
    server.services.reviewers.add("edges-reviewer", "edges-pa55word")
    console = console_client(server.base_url, "edges-reviewer", "edges-pa55word")
    terminal = new_terminal()
    manifest, files = application(terminal, light=True)
    manifest["matter"]["name_zh"] = "高龄\x00津贴"
    assert terminal.send_packet(terminal.seal(manifest, files)).status_code == 201
    case = manifest["case_number"]
    try:
        page = console.get(f"/console/cases/{case}")
        assert page.status_code == 200 and "高龄" in page.text
        rejected = console.post(f"/console/cases/{case}/action", data={
            "csrf": csrf_of(page.text), "action": "reject", "comment": "缺\x00材料"})
        assert rejected.status_code == 303, rejected.text
        assert console.get(f"/console/cases/{case}%00").status_code == 404
    finally:
        console.close()
    assert server.services.fleet.terminals()        # the fleet still reads
    progress = terminal.http.get(f"/api/v1/cases/{case}%00x/progress")
    assert progress.status_code < 500, progress.text
    login = httpx.Client(base_url=server.base_url)
    try:
        form = login.get("/console/login")
        answer = login.post("/console/login", data={"csrf": csrf_of(form.text),
                                                    "name": "edges\x00reviewer",
                                                    "password": "edges-pa55word"})
        assert answer.status_code < 500, answer.text
    finally:
        login.close()


def test_times_are_read_back_in_utc_whatever_the_servers_zone(server, new_terminal, db_engine):
    terminal = new_terminal()
    manifest, files = application(terminal, light=True)
    assert terminal.send_packet(terminal.seal(manifest, files)).status_code == 201
    url = server.services.settings.database_url
    if db_engine == "postgresql":
        with server.services.db.engine.connect() as conn:
            conn.execute(text("SELECT set_config('TimeZone', 'Asia/Shanghai', false)"))
            name = conn.execute(text("SELECT current_database()")).scalar()
            conn.execute(text(f'ALTER DATABASE "{name}" SET TimeZone = \'Asia/Shanghai\''))
            conn.commit()
    database = Database(url)            # new connections, after the database's zone changed
    try:
        with database.read() as session:
            received = session.scalar(select(Case.received_at)
                                      .where(Case.case_number == manifest["case_number"]))
            loaded = session.scalar(select(Case).where(Case.case_number == manifest["case_number"]))
    finally:
        database.dispose()
    now = dt.datetime.now(dt.timezone.utc)
    for value in (received, loaded.received_at, loaded.updated_at):
        assert value.utcoffset() in (None, dt.timedelta(0))
        assert abs((value.replace(tzinfo=dt.timezone.utc) - now).total_seconds()) < 600
