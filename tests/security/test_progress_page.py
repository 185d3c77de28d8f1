"""Attack: reading who applied for what from the public progress page by guessing case numbers.

Case numbers are a terminal, a day and a sequence, so an attacker on the internet guesses them.
Before issue 13 every guess that hit a real case answered its status, history and the
reviewer's reasons (the JSON twin also the matter). Now the receipt's QR code carries a token
(`?t=`, 128 random bits, only its SHA-256 kept) and without it every case number answers the
same 404; with it the page shows the stage and what to bring, never a reviewer's free text,
and never the matter or materials of a sensitive matter (最低生活保障 here).
The server of this module has no rate limits (conftest): the token alone stops the guessing.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import re

import httpx
import pytest
from sqlalchemy import select

from backoffice_testkit import application

REASON = "SECRET-REASON 户籍信息与低保台账不一致"      # a reviewer's free text
COMMENT = "SECRET-COMMENT 请核对收入"
GUESSES = 200


def _request_supplement(server, case_number: str, material: str, name_zh: str) -> None:
    from backoffice.db import Case
    from backoffice.workflow import apply_action
    with server.services.db.write() as session:
        case = session.scalar(select(Case).where(Case.case_number == case_number))
        apply_action(session, case, "request_supplement", "reviewer:attack-test", COMMENT,
                     [{"code": material, "name_zh": name_zh, "reason": REASON}])


def _send(terminal, matter_code: str, name_zh: str, id_number: str, token: bool = True):
    manifest, files = application(terminal, id_number=id_number, name="李低保", light=True)
    manifest["matter"] = {"code": matter_code, "name_zh": name_zh, "bundle_of": None}
    if not token:                       # a case sent before progress tokens existed
        del manifest["progress_token"]
    response = terminal.send_packet(terminal.seal(manifest, files))
    assert response.status_code == 201, response.text
    return manifest["case_number"], manifest.get("progress_token")


@pytest.fixture(scope="module")
def cases(server, new_terminal):
    terminal = new_terminal()
    dibao, dibao_token = _send(terminal, "NP-WORK-DIBAO", "最低生活保障申请", "510102198001011234")
    _request_supplement(server, dibao, "medical_diagnosis", "医院诊断证明")
    allowance, allowance_token = _send(terminal, "NP-OLD-ALLOWANCE", "高龄津贴申请",
                                       "510102194001011234")
    _request_supplement(server, allowance, "household_register", "户口簿")
    for _ in range(3):
        _send(terminal, "NP-OLD-ALLOWANCE", "高龄津贴申请", "510102194001011235")
    old, _ = _send(terminal, "NP-WORK-DISABILITY", "残疾人证申领", "510102197001011234",
                   token=False)
    return {"terminal": terminal, "dibao": (dibao, dibao_token),
            "allowance": (allowance, allowance_token), "old": old}


def _page(server, case_number: str, token: str | None = None, client=None) -> httpx.Response:
    params = {"t": token} if token is not None else None
    return (client or httpx).get(f"{server.base_url}/progress/{case_number}", params=params,
                                 timeout=10)


def _api(server, case_number: str, token: str | None = None, client=None) -> httpx.Response:
    headers = {"X-Progress-Token": token} if token is not None else None
    return (client or httpx).get(f"{server.base_url}/api/v1/cases/{case_number}/progress",
                                 headers=headers, timeout=10)


LEAKS = ("最低生活保障", "NP-WORK-DIBAO", "NP-OLD-ALLOWANCE", "NP-WORK-DISABILITY", "残疾",
         "SECRET-", "需要补交", "已接收", "Received", "户口簿", "诊断", "李")


def test_guessing_case_numbers_finds_nothing(server, cases):
    terminal = cases["terminal"]
    day = f"{dt.date.today():%Y%m%d}"
    real = [cases["dibao"][0], cases["allowance"][0], cases["old"]]
    guesses = [f"{terminal.terminal_id}-{day}-{seq:06d}" for seq in range(1, GUESSES - 15)]
    wrong_tokens = [None, "", "A" * 22, cases["allowance"][1], cases["dibao"][1][::-1],
                    "x" * 5000, "令牌" * 11]
    bodies = set()
    with httpx.Client(timeout=10) as client:
        right = dict([cases["dibao"], cases["allowance"]])
        attempts = [(n, None) for n in guesses]
        attempts += [(n, t) for n in real for t in wrong_tokens if t != right.get(n)]
        assert len(attempts) >= GUESSES
        for number, token in attempts:
            page = _page(server, number, token, client)
            api = _api(server, number, token, client) if token is None or token.isascii() \
                else None
            assert page.status_code == 404, (number, page.status_code)
            body = page.text.replace(number, "<case>")
            assert not any(leak in body for leak in LEAKS), body
            bodies.add(body)
            if api is not None:
                assert api.status_code == 404 and api.json()["error"] == "backoffice.case.unknown"
                assert not any(leak in api.text for leak in LEAKS), api.text
                bodies.add(api.text.replace(number, "<case>"))
    assert len(bodies) == 2        # one page, one JSON body: known and unknown alike (no oracle)


def test_the_receipts_token_shows_the_stage_and_what_to_bring(server, cases):
    number, token = cases["allowance"]
    page = _page(server, number, token)
    assert page.status_code == 200
    assert "待补件" in page.text and "户口簿" in page.text           # stage, what to bring
    assert "SECRET-" not in page.text                                # no reviewer's free text
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["referrer-policy"] == "no-referrer"
    assert token not in page.text                                   # the token is not echoed
    api = _api(server, number, token).json()
    assert api["status"] == "needs_supplement" and api["matter_code"] == "NP-OLD-ALLOWANCE"
    assert [(m["code"], m["reason"]) for m in api["supplement"]["materials"]] == \
        [("household_register", "")]
    assert "SECRET-" not in json.dumps(api, ensure_ascii=False)


def test_a_sensitive_matter_is_never_named(server, cases):
    number, token = cases["dibao"]
    page = _page(server, number, token)
    assert page.status_code == 200 and "待补件" in page.text
    assert re.search(r"需要补交 1 项材料", page.text)
    for leak in ("最低生活保障", "低保", "NP-WORK-DIBAO", "诊断", "medical_diagnosis", "SECRET-", "李"):
        assert leak not in page.text, leak
    api = _api(server, number, token).json()
    assert api["matter_code"] == "" and api["supplement"]["materials"] == []
    assert api["supplement"]["count"] == 1
    text = json.dumps(api, ensure_ascii=False)
    assert "DIBAO" not in text and "SECRET-" not in text and "diagnosis" not in text


def test_only_the_hash_of_the_token_is_kept(server, cases):
    from backoffice.db import Case, Packet
    number, token = cases["allowance"]
    services = server.services
    with services.db.read() as session:
        case = session.scalar(select(Case).where(Case.case_number == number))
        packet = session.scalar(select(Packet).where(Packet.case_number == number,
                                                     Packet.kind == "application"))
        assert case.progress_token_hash == hashlib.sha256(token.encode()).hexdigest()
        for stored in (case.manifest_enc, packet.manifest_enc):
            manifest = json.loads(services.vault.decrypt(stored))
            assert "progress_token" not in manifest and token not in json.dumps(manifest)


def test_a_case_from_before_tokens_shows_nothing(server, cases):
    from backoffice.db import Case
    with server.services.db.read() as session:
        case = session.scalar(select(Case).where(Case.case_number == cases["old"]))
        assert case.progress_token_hash is None
    for token in (None, "A" * 22, cases["dibao"][1]):
        assert _page(server, cases["old"], token).status_code == 404
        assert _api(server, cases["old"], token).status_code == 404


def test_a_malformed_token_in_a_packet_is_refused(server, new_terminal):
    terminal = new_terminal()
    manifest, files = application(terminal, light=True)
    manifest["progress_token"] = "short"
    response = terminal.send_packet(terminal.seal(manifest, files))
    assert response.status_code == 422 and response.json()["error"] == "backoffice.packet.malformed"


def test_a_data_dir_from_before_tokens_gets_the_column_by_the_upgrade(tmp_path):
    """A database made before progress tokens (by `create_all`, schema revision 0004) gains
    cases.progress_token_hash (NULL for its cases) by the schema upgrade, and its cases stay
    readable."""
    import sqlite3

    from backoffice import schema
    from backoffice.db import Database
    url = f"sqlite:///{tmp_path / 'old.db'}"
    schema.upgrade(url, "0004")
    with sqlite3.connect(tmp_path / "old.db") as db:        # as an older build made it
        db.execute("DROP TABLE alembic_version")
        db.execute("INSERT INTO cases (case_number, matter_code, matter_name, terminal_id, "
                   "site_id, status, id_hash, applicant_masked, manifest_enc, submitted_at, "
                   "received_at, updated_at) VALUES ('T-20250101-000001', 'NP-OLD-ALLOWANCE', "
                   "'', 'T', '', 'received', 'h', '', x'00', '2025-01-01', '2025-01-01', "
                   "'2025-01-01')")
    assert schema.upgrade(url) == schema.head_revision()
    database = Database(url)
    from backoffice.db import Case
    with database.read() as session:
        [case] = session.scalars(select(Case)).all()
        assert case.case_number == "T-20250101-000001" and case.progress_token_hash is None
    database.dispose()
