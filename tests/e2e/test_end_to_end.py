"""End to end over real HTTP on loopback: simulated visits on emulated devices -> the real
outbox -> `kiosk-uploader` (its own process) -> `backoffice serve` (its own process, SQLite and
files on disk). Everything is checked from what the back office stored: each packet decrypts
with its key, carries the terminal's signature, matches its manifest hashes, and has the case
number printed on the receipt. Then the back office goes down: visits are still accepted and
receipted, and once it is back the queue drains by itself."""
from __future__ import annotations

import httpx

from e2e_kit import (TERMINAL_ID, outbox_rows, receipt_case_numbers, receipt_qr_texts,
                     stored_packets, wait_drained, wait_until)
from kiosk.visit.cases import parse_receipt_code

VISITS = [("NP-OLD-ALLOWANCE", {}),                                    # natural person, face match
          ("LP-EST-SEAL", {"face": "decline", "evaluation": 4}),       # legal person
          ("NP-BIRTH-BUNDLE", {"face": "decline"})]                    # one-visit bundle


def _applications(stored) -> dict[str, object]:
    return {p.case_number: p for p in stored.values() if p.kind == "application"}


def test_visits_arrive_sealed_signed_whole_with_the_receipts_case_numbers(world):
    backoffice, kiosk, _uploader = world
    printed_before = len(receipt_case_numbers(kiosk.paper_dir))
    pilots = [kiosk.visit(code, answers) for code, answers in VISITS]
    assert [p.outcome for p in pilots] == ["done"] * 3, [(p.screens, p.reason_key) for p in pilots]
    cases = [p.case_number for p in pilots]
    assert all(c and c.startswith(f"{TERMINAL_ID}-") for c in cases) and len(set(cases)) == 3
    assert receipt_case_numbers(kiosk.paper_dir)[printed_before:] == cases

    wait_drained(kiosk.state_dir, 60)
    stored = stored_packets(backoffice.data_dir, kiosk.verify_key_b64)   # opens and checks each
    apps = _applications(stored)
    for (code, _answers), case in zip(VISITS, cases):
        manifest = apps[case].manifest
        assert manifest["matter"]["code"] == code and manifest["terminal_id"] == TERMINAL_ID
        received = [m for m in manifest["materials"] if m["status"] == "received"]
        assert received and all(m["page_count"] == len([f for f in m["files"]
                                                        if f["name"].endswith(".jpg")])
                                for m in received)
        assert "commitment/signature.png" in apps[case].files
    assert apps[cases[0]].manifest["face"]["decision"] == "match"
    assert apps[cases[1]].manifest["applicant"]["role"] == "legal_representative"
    assert apps[cases[2]].manifest["matter"]["bundle_of"] == \
        list(kiosk.catalog.get("NP-BIRTH-BUNDLE").bundle_of)
    evaluations = {p.case_number: p.manifest["evaluation"]["level"] for p in stored.values()
                   if p.kind == "evaluation"}
    assert evaluations[cases[0]] == 5 and evaluations[cases[1]] == 4

    for qr, case in zip(receipt_qr_texts(kiosk.paper_dir)[printed_before:], cases):
        ref = parse_receipt_code(qr)          # the receipt's QR code: case number and token
        assert ref.case_number == case and ref.token
        progress = httpx.get(f"{backoffice.url}/api/v1/cases/{case}/progress", timeout=10,
                             headers={"X-Progress-Token": ref.token}).json()
        assert progress["case_number"] == case and progress["status"] == "received"
        page = httpx.get(qr, timeout=10)      # what a phone opens from the receipt's QR code
        assert page.status_code == 200 and case in page.text and "已接收" in page.text
        assert httpx.get(qr.split("?")[0], timeout=10).status_code == 404   # not without it
    rows = {r["packet_id"]: r for r in outbox_rows(kiosk.state_dir)}
    assert set(rows) == set(stored)                   # everything accepted arrived, once
    assert all(r["state"] == "acknowledged" for r in rows.values())


def test_back_office_down_visits_still_receipted_then_the_queue_drains_by_itself(world):
    backoffice, kiosk, uploader = world
    wait_drained(kiosk.state_dir, 60)
    known = {r["packet_id"] for r in outbox_rows(kiosk.state_dir)}
    printed_before = len(receipt_case_numbers(kiosk.paper_dir))
    backoffice.kill()
    try:
        pilots = [kiosk.visit("NP-WORK-SSCARD", {"face": "decline"}),
                  kiosk.visit("LP-OPS-LICENCE-REISSUE", {"face": "decline", "evaluation": None})]
        assert [p.outcome for p in pilots] == ["done", "done"]
        cases = [p.case_number for p in pilots]
        assert receipt_case_numbers(kiosk.paper_dir)[printed_before:] == cases   # offline receipts

        def tried_and_failed():      # the first application probes, the rest waits behind it
            new = [r for r in outbox_rows(kiosk.state_dir) if r["packet_id"] not in known]
            first = [r for r in new if r["kind"] == "application" and r["case_number"] == cases[0]]
            return new if len(new) == 3 and all(r["state"] == "pending" for r in new) and \
                first and first[0]["attempts"] >= 2 else None
        waiting = wait_until(tried_and_failed, 30, "the uploader to try and fail")
        apps = {r["case_number"]: r for r in waiting if r["kind"] == "application"}
        assert set(apps) == set(cases)
        assert apps[cases[0]]["last_error"] == "ConnectError"
        assert all(r["attempts"] == 0 for r in waiting if r["case_number"] != cases[0])
        assert uploader.alive()
    finally:
        backoffice.start()                          # same port, same data: up again
    wait_drained(kiosk.state_dir, 30)               # by itself: nobody pokes the uploader
    stored = stored_packets(backoffice.data_dir, kiosk.verify_key_b64)
    apps = _applications(stored)
    assert set(cases) <= set(apps)
    assert apps[cases[1]].manifest["applicant"]["role"] == "legal_representative"
    rows = outbox_rows(kiosk.state_dir)
    assert {r["packet_id"] for r in rows} == set(stored)
    assert all(r["state"] == "acknowledged" for r in rows)
