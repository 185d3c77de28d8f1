"""办件查询 and 补件 headless, end to end: a citizen applies; a reviewer asks for a material; the
citizen comes back, scans the receipt's QR code (a keyboard-wedge scanner's text, and the
document camera reading the paper), sees what is missing, proves who they are with
the ID card, captures the pages with the document camera, and the supplement packet joins the
case in the back office (trace and files). Also: progress by ID card, another person's card,
a mistyped or unknown number, and the back office unreachable."""
from __future__ import annotations

import httpx

from e2e_kit import case_rows, receipt_qr_texts, stored_packets, wait_drained, wait_until
from kiosk.visit import intents as I
from kiosk.visit.scripted_applicant import ReturningCitizen, drive_intent
from kiosk.visit.cases import CaseReference, parse_receipt_code

MATERIAL = "household_register"


def request_supplement(data_dir, case_number: str, reason: str) -> None:
    """What the console's 要求补件 form does (backoffice.workflow.apply_action)."""
    from sqlalchemy import select

    from backoffice.app import Services
    from backoffice.db import Case
    from backoffice.settings import Settings
    from backoffice.workflow import apply_action
    services = Services.start(Settings.for_data_dir(data_dir))
    try:
        with services.db.write() as session:
            case = session.scalar(select(Case).where(Case.case_number == case_number))
            apply_action(session, case, "request_supplement", "reviewer:e2e", reason,
                         [{"code": MATERIAL, "name_zh": "户口簿", "reason": reason}])
    finally:
        services.db.dispose()


def come_back(kiosk, scanned: str | None, card: str | None, supplement: bool = True):
    kiosk.demo.remove_card()
    if card:
        kiosk.demo.place_card(card)
    pilot = drive_intent(kiosk.session, ReturningCitizen(scanned, supplement), I.StartProgress(),
                         timeout=90)
    kiosk.demo.remove_card()
    return pilot


def test_query_then_supplement_joins_the_case(world):
    backoffice, kiosk, _uploader = world
    # the lookup of the household register was allowed at acceptance (免证办) ...
    visit = kiosk.visit("NP-OLD-ALLOWANCE", {"face": "decline", "evaluation": None,
                                             "materials": {MATERIAL: "missing"}})
    assert visit.outcome == "done"
    case, owner = visit.case_number, kiosk.last_card
    qr = receipt_qr_texts(kiosk.paper_dir)[-1]
    token = parse_receipt_code(qr).token          # the receipt's QR code carries the token
    assert parse_receipt_code(qr) == CaseReference(case, token) and token
    wait_drained(kiosk.state_dir, 60)
    # ... but it failed, so the reviewer asks for the pages
    request_supplement(backoffice.data_dir, case, "户籍信息未能核验，请补交户口簿")
    page = httpx.get(qr, timeout=10).text              # the citizen's phone, from the receipt
    assert "需要补交" in page and "户口簿" in page and "户籍信息未能核验" not in page   # no reason

    other = next(n for n in ("wang_xiuying", "zhao_min_expired", "li_guoqiang") if n != owner)
    intruder = come_back(kiosk, qr, other)
    assert intruder.outcome == "progress_result"
    assert intruder.reason_key == "supplement.not_your_case"
    [seen] = intruder.cases
    assert (seen.case_number, seen.status) == (case, "needs_supplement")
    assert [r[0] for r in seen.requested] == [MATERIAL]
    assert seen.requested[0][3] == ""        # the receipt alone shows no reviewer's words

    printed = len(receipt_qr_texts(kiosk.paper_dir))
    citizen = come_back(kiosk, qr, owner)                 # the QR scanner types the URL
    assert citizen.outcome == "supplement_done", (citizen.screens, citizen.reason_key)
    assert citizen.case_number_done == case and citizen.reason_key is None
    assert receipt_qr_texts(kiosk.paper_dir)[printed:] == [qr]    # 补件回执, same case
    assert citizen.screens[:5] == ["progress", "progress_result", "supplement_card",
                                   "supplement", "supplement_submit"]

    wait_drained(kiosk.state_dir, 60)
    stored = stored_packets(backoffice.data_dir, kiosk.verify_key_b64)
    [supplement] = [p for p in stored.values() if p.kind == "supplement"]
    [application] = [p for p in stored.values() if p.kind == "application" and
                     p.case_number == case]
    assert supplement.case_number == case
    assert supplement.manifest["applicant"]["id_number"] == \
        application.manifest["applicant"]["id_number"]
    [material] = supplement.manifest["materials"]
    assert material["code"] == MATERIAL and material["page_count"] == 2      # as the matter says
    assert supplement.manifest["supplement"]["requested"] == [MATERIAL]
    row = case_rows(backoffice.data_dir)[case]
    assert row["status"] == "received"                    # back to the reviewer
    assert ("supplement_received", "received") in [e[:2] for e in row["events"]]
    assert any(supplement.packet_id in e[2] and MATERIAL in e[2] for e in row["events"])
    assert row["supplements"][0][1] == supplement.packet_id
    assert {p for pid, p in row["files"] if pid == supplement.packet_id} == set(supplement.files)
    progress = httpx.get(f"{backoffice.url}/api/v1/cases/{case}/progress", timeout=10,
                         headers={"X-Progress-Token": token}).json()
    assert progress["status"] == "received" and progress["supplement"] is None

    kiosk.demo.place_last_receipt()      # the 补件回执 just printed, under the document camera
    kiosk.demo.remove_card()
    scanned = drive_intent(kiosk.session, ReturningCitizen(scan_receipt=True, supplement=False),
                           I.StartProgress(), timeout=60)
    assert (scanned.outcome, scanned.reason_key) == ("progress_result", None)
    assert [c.case_number for c in scanned.cases] == [case]
    kiosk.demo.sheet_path.unlink()       # taken back

    by_card = come_back(kiosk, None, owner, supplement=False)
    assert by_card.outcome == "progress_result" and by_card.reason_key is None
    mine = {c.case_number: c for c in by_card.cases}
    assert mine[case].status == "received" and mine[case].requested == ()
    wait_until(lambda: kiosk.session.snapshot.screen == "attract", 10, "walking away")


def test_mistyped_unknown_and_offline_get_plain_messages(world):
    backoffice, kiosk, _uploader = world
    assert come_back(kiosk, "12345", None).reason_key == "progress.bad_case_number"
    # a typed number shows a case only to its applicant's card
    unknown = come_back(kiosk, "E2E-0001-19990101-000001", "li_guoqiang")
    assert (unknown.outcome, unknown.reason_key) == ("progress", "progress.not_found")
    assert unknown.screens[:2] == ["progress", "progress_card"]
    backoffice.kill()
    try:
        offline = come_back(kiosk, "E2E-0001-19990101-000001", "li_guoqiang")
        assert (offline.outcome, offline.reason_key) == ("progress", "progress.offline")
        by_card = come_back(kiosk, None, "li_guoqiang")
        assert (by_card.outcome, by_card.reason_key) == ("progress", "progress.offline")
    finally:
        backoffice.start()
