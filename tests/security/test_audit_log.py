"""The audit log (issue 13, section 4): every reviewer action is an append-only line (who,
when, what, which case), written in the action's own transaction, shown on the case page in
the console's time zone, and exportable by an administrator (`backoffice audit export`,
/console/audit.csv). The database refuses UPDATE and DELETE on it (SQLite triggers).
Before: there was no audit log, only the case's own history."""
from __future__ import annotations

import csv
import io
import json
import re

import pytest
from click.testing import CliRunner
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError

from backoffice_testkit import application, cli_env, console_client, csrf_of


@pytest.fixture(scope="module")
def decided_case(server, new_terminal):
    """A case a reviewer opened and accepted through the console."""
    terminal = new_terminal()
    manifest, files = application(terminal, id_number="110101195001014321")
    assert terminal.send_packet(terminal.seal(manifest, files)).status_code == 201
    server.services.reviewers.add("audit-reviewer", "audit-pa55word")
    console = console_client(server.base_url, "audit-reviewer", "audit-pa55word")
    case = manifest["case_number"]
    page = console.get(f"/console/cases/{case}")
    answer = console.post(f"/console/cases/{case}/action",
                          data={"csrf": csrf_of(page.text), "action": "accept", "comment": "ok"})
    assert answer.status_code == 303
    yield case, console
    console.close()


def rows(server, sql: str, **params):
    with server.services.db.engine.connect() as conn:
        return conn.execute(text(sql), params).all()


def test_a_decision_is_audited_and_shown_on_the_case_page(server, decided_case):
    case, console = decided_case
    found = rows(server, "SELECT actor, action FROM audit_log WHERE case_number = :c "
                         "ORDER BY id", c=case)
    assert [tuple(r) for r in found] == [("reviewer:audit-reviewer", "case.view"),
                                         ("reviewer:audit-reviewer", "case.accept")]
    page = console.get(f"/console/cases/{case}").text
    section = page[page.index('id="audit"'):]
    section = section[:section.index("</table>")]
    assert section.count("审批人 audit-reviewer") == 2
    assert "受理" in section and "查看" in section
    shown = re.findall(r'<time datetime="([^"]+)">', section)
    assert shown and all(t.endswith("+08:00") for t in shown)      # the console's zone


def test_a_refused_action_leaves_no_audit_line(server, decided_case):
    case, console = decided_case
    before = rows(server, "SELECT count(*) FROM audit_log WHERE case_number = :c", c=case)[0][0]
    page = console.get(f"/console/cases/{case}")
    refused = console.post(f"/console/cases/{case}/action",     # accepted already: illegal
                           data={"csrf": csrf_of(page.text), "action": "accept"})
    assert refused.status_code == 409
    after = rows(server, "SELECT count(*) FROM audit_log WHERE case_number = :c", c=case)[0][0]
    assert after == before


@pytest.mark.parametrize("statement", ["UPDATE audit_log SET actor = 'someone-else'",
                                       "DELETE FROM audit_log"])
def test_the_database_refuses_to_change_the_audit_log(server, decided_case, statement):
    count = rows(server, "SELECT count(*) FROM audit_log")[0][0]
    with pytest.raises(DatabaseError, match="append-only"):
        with server.services.db.engine.begin() as conn:
            conn.execute(text(statement))
    assert rows(server, "SELECT count(*) FROM audit_log")[0][0] == count
    assert not rows(server, "SELECT 1 FROM audit_log WHERE actor = 'someone-else'")


def test_the_cli_exports_the_log_as_csv_and_json_lines(server, decided_case):
    from backoffice.cli import main
    case, _console = decided_case
    data = ["--data-dir", str(server.services.settings.data_dir)]
    runner = CliRunner(env=cli_env(server.services.settings))
    as_csv = runner.invoke(main, ["audit", "export", *data])
    assert as_csv.exit_code == 0, as_csv.output
    lines = list(csv.DictReader(io.StringIO(as_csv.output)))
    assert {"case.accept", "login.ok"} <= {r["action"] for r in lines}
    assert any(r["case_number"] == case and r["action"] == "case.accept" for r in lines)
    as_jsonl = runner.invoke(main, ["audit", "export", "--format", "jsonl",
                                    "--since", "2000-01-01", *data])
    entries = [json.loads(line) for line in as_jsonl.output.splitlines()]
    assert entries[-1]["action"] == "audit.export" and entries[-1]["actor"].startswith("cli:")
    later = runner.invoke(main, ["audit", "export", "--since", "2999-01-01", *data])
    assert later.output.splitlines() == [",".join(("id", "at", "actor", "action", "case_number",
                                                   "target", "detail", "address"))]
    bad = runner.invoke(main, ["audit", "export", "--since", "yesterday", *data])
    assert bad.exit_code != 0 and "YYYY-MM-DD" in bad.output


def test_cli_admin_actions_are_audited(tmp_path, backoffice_settings):
    from backoffice.cli import main
    data = ["--data-dir", str(tmp_path)]
    runner = CliRunner(env=cli_env(backoffice_settings(tmp_path)))
    runner.invoke(main, ["reviewer", "add", "li", "--password", "li-pa55word", *data])
    runner.invoke(main, ["token", "create", "--terminal-id", "AUD-1", *data])
    runner.invoke(main, ["reviewer", "role", "li", "admin", *data])
    exported = runner.invoke(main, ["audit", "export", "--format", "jsonl", *data]).output
    actions = [(e["action"], e["target"]) for e in map(json.loads, exported.splitlines())]
    assert actions[:3] == [("reviewer.add", "li"), ("token.create", "AUD-1"),
                           ("reviewer.role", "li")]
    assert "li-pa55word" not in exported
