"""Attack: one terminal speaking for another terminal's citizens.

Terminal B (an attacker with B's key, or a faulty B) sends an evaluation or a supplement for a
case terminal A took. Before issue 13 both were accepted with nothing but the applicant's ID
number, which is no secret. The rule now (backoffice/intake.py):
- an evaluation comes only from the terminal that took the case: 403 other_terminal;
- a supplement may come from any terminal with the applicant's card read on it (ID number and
  name), but from another terminal only while a reviewer's supplement request is open, and
  only for the requested materials: 403 not_card_holder / supplement_not_requested /
  material_not_requested; the original terminal keeps what it always could.
"""
from __future__ import annotations

from sqlalchemy import select

from backoffice_testkit import applicant, application, evaluation, supplement

ID_NUMBER = "510102195501011234"
NAME = "赵晓梅"


def _case(server, number):
    from backoffice.db import Case
    with server.services.db.read() as session:
        case = session.scalar(select(Case).where(Case.case_number == number))
        return case.status, case.evaluation, [(e.actor, e.action) for e in case.events], \
            {f.packet_id for f in case.files}


def _request(server, number, material="bank_card"):
    from backoffice.db import Case
    from backoffice.workflow import apply_action
    with server.services.db.write() as session:
        case = session.scalar(select(Case).where(Case.case_number == number))
        apply_action(session, case, "request_supplement", "reviewer:t", "",
                     [{"code": material, "name_zh": "银行卡", "reason": "看不清"}])


def _supplement(terminal, number, code="bank_card", name=NAME, id_number=ID_NUMBER):
    manifest, files = supplement(terminal, number, code=code, id_number=id_number)
    manifest["applicant"] = applicant(id_number, name)
    return terminal.send_packet(terminal.seal(manifest, files))


def _refused(response, status, reason):
    assert response.status_code == status, response.text
    assert response.json()["error"] == reason


def test_another_terminal_cannot_evaluate_a_case(server, new_terminal):
    a, b = new_terminal(), new_terminal()
    manifest, files = application(a, id_number=ID_NUMBER, name=NAME, light=True)
    assert a.send_packet(a.seal(manifest, files)).status_code == 201
    number = manifest["case_number"]
    _refused(b.send_packet(b.seal(*evaluation(b, number, level=1))), 403,
             "backoffice.case.other_terminal")
    assert _case(server, number)[1] is None
    assert a.send_packet(a.seal(*evaluation(a, number, level=5))).status_code == 201
    assert _case(server, number)[1]["level"] == 5


def test_another_terminal_supplements_only_with_the_card_and_a_request(server, new_terminal):
    a, b = new_terminal(), new_terminal()
    manifest, files = application(a, id_number=ID_NUMBER, name=NAME, light=True)
    assert a.send_packet(a.seal(manifest, files)).status_code == 201
    number = manifest["case_number"]

    # nobody asked for anything: B cannot push files into A's case, not even with the card
    _refused(_supplement(b, number), 403, "backoffice.case.supplement_not_requested")
    # the ID number alone (no secret) is not the card read
    _request(server, number)
    _refused(_supplement(b, number, name="王小明"), 403, "backoffice.case.not_card_holder")
    _refused(_supplement(b, number, id_number="110101195001011234"), 422,
             "backoffice.case.applicant_mismatch")
    # only what the reviewer asked for
    _refused(_supplement(b, number, code="hukou"), 403, "backoffice.case.material_not_requested")
    status, _, events, files_before = _case(server, number)
    assert status == "needs_supplement"
    assert not any(actor == f"terminal:{b.terminal_id}" for actor, _ in events)

    # the citizen at B with the card, answering the request: accepted
    response = _supplement(b, number)
    assert response.status_code == 201, response.text
    status, _, events, files_after = _case(server, number)
    assert status == "received" and (f"terminal:{b.terminal_id}", "supplement_received") in events
    assert files_after > files_before
    # and once answered, B cannot add more
    _refused(_supplement(b, number), 403, "backoffice.case.supplement_not_requested")


def test_the_terminal_that_took_the_case_keeps_its_rights(server, new_terminal):
    a = new_terminal()
    manifest, files = application(a, id_number=ID_NUMBER, name=NAME, light=True)
    assert a.send_packet(a.seal(manifest, files)).status_code == 201
    number = manifest["case_number"]
    assert _supplement(a, number).status_code == 201          # as before: no request needed
    assert a.send_packet(a.seal(*evaluation(a, number))).status_code == 201


def test_refusals_are_recorded_without_personal_data(server, new_terminal):
    from backoffice.db import Rejection
    a, b = new_terminal(), new_terminal()
    manifest, files = application(a, id_number=ID_NUMBER, name=NAME, light=True)
    assert a.send_packet(a.seal(manifest, files)).status_code == 201
    _refused(b.send_packet(b.seal(*evaluation(b, manifest["case_number"]))), 403,
             "backoffice.case.other_terminal")
    with server.services.db.read() as session:
        rows = session.scalars(select(Rejection).where(Rejection.terminal_id == b.terminal_id)).all()
    assert [(r.status_code, r.reason_key) for r in rows] == [(403, "backoffice.case.other_terminal")]
