"""Case workflow through the console (httpx, real forms), progress, supplements, lookup, fleet."""
from __future__ import annotations

import time

import pytest

from backoffice_testkit import (application, console_client, csrf_of, evaluation, help_request,
                                supplement)


@pytest.fixture(scope="module")
def console(server):
    server.services.reviewers.add("reviewer-cases", "correct horse")
    client = console_client(server.base_url, "reviewer-cases", "correct horse")
    yield client
    client.close()


def _submit(terminal, **kwargs) -> dict:
    manifest, files = application(terminal, **kwargs)
    assert terminal.send_packet(terminal.seal(manifest, files)).status_code == 201
    return manifest


def _act(console, case_number: str, action: str, comment: str = ""):
    page = console.get(f"/console/cases/{case_number}")
    return console.post(f"/console/cases/{case_number}/action",
                        data={"csrf": csrf_of(page.text), "action": action, "comment": comment})


def _progress(terminal, manifest: dict) -> dict:
    """The case as the kiosk sees it after reading the applicant's card (signed lookup; the
    public view by the receipt's token is tests/security/test_progress_page.py)."""
    response = terminal.lookup(manifest["applicant"]["id_number"])
    assert response.status_code == 200
    [found] = [c for c in response.json() if c["case_number"] == manifest["case_number"]]
    return found


def test_workflow_is_traced_and_illegal_transitions_are_refused(server, new_terminal, console):
    terminal = new_terminal()
    submitted = _submit(terminal)
    case = submitted["case_number"]
    refused = _act(console, case, "approve", "skip acceptance")
    assert refused.status_code == 409 and "办件当前状态下不能进行此操作" in refused.text
    assert _act(console, case, "accept", "材料齐全").status_code == 303
    assert _act(console, case, "complete").status_code == 409
    assert _act(console, case, "approve", "符合条件").status_code == 303
    assert _act(console, case, "complete", "已发放").status_code == 303
    assert _act(console, case, "reject", "too late").status_code == 409
    progress = _progress(terminal, submitted)
    assert progress["status"] == "completed"
    assert [h["status"] for h in progress["history"]] == ["received", "accepted", "approved",
                                                           "completed"]
    page = console.get(f"/console/cases/{case}").text
    for line in ("审批人 reviewer-cases", "材料齐全", "符合条件", "已发放",
                 "已受理 Accepted → 已批准 Approved", f"终端 {terminal.terminal_id}"):
        assert line in page


def test_reject_needs_a_reason_and_forms_need_csrf(new_terminal, console):
    terminal = new_terminal()
    submitted = _submit(terminal)
    case = submitted["case_number"]
    assert _act(console, case, "reject", "").status_code == 409
    no_csrf = console.post(f"/console/cases/{case}/action", data={"action": "accept"})
    assert no_csrf.status_code == 403
    assert _progress(terminal, submitted)["status"] == "received"


def test_supplement_request_shows_in_progress_and_supplement_joins_the_case(new_terminal, console):
    terminal = new_terminal()
    submitted = _submit(terminal)
    case = submitted["case_number"]
    page = console.get(f"/console/cases/{case}")
    response = console.post(f"/console/cases/{case}/supplement", data={
        "csrf": csrf_of(page.text), "material": ["bank_card"], "reason": "请补交银行卡",
        "reason_bank_card": "银行卡复印件不清晰"})
    assert response.status_code == 303
    progress = _progress(terminal, submitted)
    assert progress["status"] == "needs_supplement"
    assert progress["supplement"]["materials"] == [
        {"code": "bank_card", "name_zh": "银行卡", "reason": "银行卡复印件不清晰"}]
    manifest, files = supplement(terminal, case)
    answer = terminal.send_packet(terminal.seal(manifest, files))
    assert answer.status_code == 201
    assert answer.json() == {"packet_id": manifest["packet_id"], "case_number": case,
                             "status": "received"}
    progress = _progress(terminal, submitted)
    assert progress["status"] == "received" and progress["supplement"] is None
    assert [h["status"] for h in progress["history"]] == ["received", "needs_supplement", "received"]
    page = console.get(f"/console/cases/{case}").text
    assert "已补 fulfilled" in page and "收到补件" in page and "page-001.jpg" in page


def test_supplement_from_another_person_or_for_unknown_case_is_refused(new_terminal):
    terminal = new_terminal()
    case = _submit(terminal)["case_number"]
    manifest, files = supplement(terminal, case, id_number="110101198001010000")
    response = terminal.send_packet(terminal.seal(manifest, files))
    assert response.status_code == 422
    assert response.json()["error"] == "backoffice.case.applicant_mismatch"
    manifest, files = supplement(terminal, f"{terminal.terminal_id}-20200101-999999")
    response = terminal.send_packet(terminal.seal(manifest, files))
    assert response.status_code == 422 and response.json()["error"] == "backoffice.case.unknown"


def test_evaluation_is_stored_on_the_case(new_terminal, console):
    terminal = new_terminal()
    case = _submit(terminal)["case_number"]
    assert terminal.send_packet(terminal.seal(*evaluation(terminal, case, 4))).status_code == 201
    assert "★★★★☆ 很方便" in console.get(f"/console/cases/{case}").text


def test_lookup_by_id_number_lists_that_persons_cases_only(new_terminal):
    terminal = new_terminal()
    mine = {_submit(terminal, id_number="440301196002021111")["case_number"] for _ in range(2)}
    _submit(terminal, id_number="440301196002022222")
    response = terminal.lookup("440301196002021111")
    assert response.status_code == 200
    found = response.json()
    assert {c["case_number"] for c in found} == mine
    assert all(set(c) == {"case_number", "matter_code", "status", "updated_at", "history",
                          "supplement"} for c in found)
    assert "440301196002021111" not in response.text
    assert terminal.lookup("999999999999999999").json() == []
    assert terminal.http.post("/api/v1/cases/lookup", json={"id_number": "440301196002021111"}
                              ).status_code == 401


def test_progress_of_unknown_case_is_404(new_terminal):
    terminal = new_terminal()
    response = terminal.http.get("/api/v1/cases/NOPE-20250101-000001/progress")
    assert response.status_code == 404
    case = _submit(terminal)
    response = terminal.http.get(f"/api/v1/cases/{case['case_number']}/progress")
    assert response.status_code == 404                     # a real case without its token too
    response = terminal.http.get(f"/api/v1/cases/{case['case_number']}/progress",
                                 headers={"X-Progress-Token": case["progress_token"]})
    assert response.status_code == 200 and response.json()["status"] == "received"


def test_cases_list_filters(new_terminal, console):
    terminal = new_terminal()
    case = _submit(terminal)["case_number"]
    listed = console.get("/console/cases", params={"terminal": terminal.terminal_id,
                                                   "status": "received"}).text
    assert case in listed
    assert case not in console.get("/console/cases", params={"terminal": terminal.terminal_id,
                                                             "status": "approved"}).text
    assert case not in console.get("/console/cases", params={"date_to": "2000-01-01"}).text
    assert console.get("/console/cases", params={"matter": "gaoling_jintie"}).status_code == 200


def test_console_requires_login(server):
    import httpx
    with httpx.Client(base_url=server.base_url) as anonymous:
        response = anonymous.get("/console/cases")
        assert response.status_code == 303 and response.headers["location"] == "/console/login"
        page = anonymous.get("/console/login")
        bad = anonymous.post("/console/login", data={"csrf": csrf_of(page.text),
                                                     "name": "reviewer-cases", "password": "wrong"})
        assert bad.headers["location"] == "/console/login?failed=1"


def test_heartbeat_then_silence_marks_the_terminal_silent(server, new_terminal, console):
    terminal = new_terminal()
    assert terminal.heartbeat(paper="near_end", devices={
        "printer": {"available": False, "fault": "printer.cover_open"}},
        outbox={"pending": 3, "in_flight": 1, "dead": 0, "oldest_pending_age_s": 42}).status_code == 204
    row = f'id="terminal-{terminal.terminal_id}" class="state-'
    page = console.get("/console/fleet").text
    assert row + 'OK"' in page
    chunk = page.split(row, 1)[1].split("</tr>", 1)[0]
    assert "回执打印机：打印机盖未关好" in chunk and "即将用完" in chunk and "待发 3" in chunk
    time.sleep(server.services.settings.silent_after_s + 0.5)
    assert row + 'SILENT"' in console.get("/console/fleet").text


def test_help_requests_page_lists_and_marks_handled(new_terminal, console):
    terminal = new_terminal()
    assert terminal.send_packet(terminal.seal(*help_request(terminal, "payment"))).status_code == 201
    page = console.get("/console/help").text
    assert terminal.terminal_id in page and "payment" in page
    import re
    help_id = re.search(r'/console/help/(\d+)/handled', page).group(1)
    console.post(f"/console/help/{help_id}/handled", data={"csrf": csrf_of(page)})
    assert "reviewer-cases" in console.get("/console/help").text
