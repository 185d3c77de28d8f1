"""The pure visit engine: plans derived from matter data, and whole visits event by event."""
import dataclasses
import datetime as dt

import pytest

from devices.interfaces import FaceDecision, FaceResult, Liveness
from flows import engine as E
from tests.kit.cards import make_card

TODAY = dt.date(2026, 11, 23)


def face(decision="match"):
    return FaceResult(FaceDecision(decision), 0.3, 0.5, Liveness.PASSED)


def test_plan_of_natural_person_matter(mini_catalog):
    plan = E.plan_visit(mini_catalog, mini_catalog.get("NP-OLD-ALLOWANCE"))
    assert [s.value for s in plan.steps] == ["guide", "consent", "id_card", "eligibility", "face",
                                            "form", "materials", "review", "commitment", "submit",
                                            "receipt", "evaluation"]
    assert plan.capabilities == {"id_card.read", "face.verify", "doc.capture", "outbox.submit",
                                 "receipt.print"}


def test_legal_person_matter_asks_role(mini_catalog):
    plan = E.plan_visit(mini_catalog, mini_catalog.get("LP-EST-SHOP"))
    assert E.Step.ROLE in plan.steps


def test_bundle_collects_union_of_materials_once(mini_catalog):
    plan = E.plan_visit(mini_catalog, mini_catalog.get("LP-EST-BUNDLE"))
    codes = [m.code for m in plan.materials]
    assert codes == ["premises_proof", "business_licence"]
    premises = plan.materials[0]
    assert premises.for_matters == ("LP-EST-SHOP", "LP-EST-FOOD") and premises.pages == 2
    assert [f.key for f in plan.form] == ["business_name", "capital"]


def run(plan, events, state=None):
    state = state or E.VisitState()
    for ev in events:
        state = E.advance(plan, state, ev)
    return state


def test_whole_visit(mini_catalog):
    plan = E.plan_visit(mini_catalog, mini_catalog.get("NP-OLD-ALLOWANCE"))
    card = make_card(birth=dt.date(1940, 1, 1))
    s = run(plan, [E.Next(), E.Consent(True), E.CardRead(card, TODAY), E.FaceAttempt(face())])
    assert E.current_step(plan, s) is E.Step.FORM  # eligibility passed automatically
    assert [f.key for f in E.fields_to_ask(plan, s)] == ["mobile"]  # name came from the card
    s = run(plan, [E.FormValue("mobile", "123"), E.Next()], s)
    assert E.current_step(plan, s) is E.Step.FORM and dict(s.form_errors) == {"mobile": "validate.mobile"}
    s = run(plan, [E.FormValue("mobile", "13800138000"), E.Next()], s)
    assert s.form_values == {"applicant_name": card.name, "mobile": "13800138000"}
    s = run(plan, [E.Next()], s)
    assert s.reason_key == "materials.incomplete"
    s = run(plan, [E.PageCaptured("bank_card", b"jpeg"), E.Next(), E.Next(), E.Signed(b"png"),
                   E.Submitted("p1", "T-1"), E.ReceiptDone(True), E.Evaluated(5)], s)
    assert s.outcome == "done" and s.case_number == "T-1" and s.evaluation == 5


@pytest.mark.parametrize("card,reason", [
    (make_card(birth=dt.date(1960, 1, 1)), "eligibility.too_young"),
    (make_card(valid_until=dt.date(2020, 1, 1)), "eligibility.card_expired"),
])
def test_eligibility_refusals(mini_catalog, card, reason):
    """Eligibility is decided from the card alone, before the face check: a card that cannot
    use the matter ends the visit as soon as it is read."""
    plan = E.plan_visit(mini_catalog, mini_catalog.get("NP-OLD-ALLOWANCE"))
    s = run(plan, [E.Next(), E.Consent(True), E.CardRead(card, TODAY)])
    assert s.outcome == "refused" and s.reason_key == reason and s.face is None
    with pytest.raises(E.EventNotAllowed):
        E.advance(plan, s, E.FaceAttempt(face()))


def test_an_eligible_card_goes_on_to_the_face_check(mini_catalog):
    plan = E.plan_visit(mini_catalog, mini_catalog.get("NP-OLD-ALLOWANCE"))
    card = make_card(birth=dt.date(1940, 1, 1))
    s = run(plan, [E.Next(), E.Consent(True), E.CardRead(card, TODAY)])
    assert s.outcome is None and E.current_step(plan, s) is E.Step.FACE


def test_exactly_80_today_is_eligible(mini_catalog):
    plan = E.plan_visit(mini_catalog, mini_catalog.get("NP-OLD-ALLOWANCE"))
    s = run(plan, [E.Next(), E.Consent(True), E.CardRead(make_card(birth=dt.date(1946, 11, 23)), TODAY),
                   E.FaceAttempt(face())])
    assert s.outcome is None and E.current_step(plan, s) is E.Step.FORM
    s2 = run(plan, [E.Next(), E.Consent(True),
                    E.CardRead(make_card(birth=dt.date(1946, 11, 24)), TODAY)])
    assert s2.reason_key == "eligibility.too_young"


def test_three_face_failures_offer_the_alternative(mini_catalog):
    plan = E.plan_visit(mini_catalog, mini_catalog.get("NP-OLD-ALLOWANCE"))
    s = run(plan, [E.Next(), E.Consent(True), E.CardRead(make_card(), TODAY)])
    s = run(plan, [E.FaceAttempt(face("no_match"))] * 2, s)
    assert s.reason_key == "face.no_match" and s.face_attempts == 2
    s = run(plan, [E.FaceAttempt(face("undecided"))], s)
    assert s.reason_key == "face.offer_alternative"
    s = run(plan, [E.FaceDeclined()], s)
    assert s.face_declined and E.current_step(plan, s) is E.Step.FORM


def test_the_face_attempt_limit_comes_with_the_plan(mini_catalog):
    plan = E.plan_visit(mini_catalog, mini_catalog.get("NP-OLD-ALLOWANCE"), max_face_attempts=2)
    assert plan.max_face_attempts == 2
    s = run(plan, [E.Next(), E.Consent(True), E.CardRead(make_card(), TODAY),
                   E.FaceAttempt(face("no_match"))])
    assert s.reason_key == "face.no_match"
    s = run(plan, [E.FaceFailed("device.camera")], s)     # a camera fault counts as an attempt
    assert s.reason_key == "face.offer_alternative" and s.face_attempts == 2
    s = run(plan, [E.FaceFailed("face.no_card_photo", retry_possible=False)],
            E.VisitState(index=plan.steps.index(E.Step.FACE)))
    assert s.reason_key == "face.offer_alternative" and s.face_attempts == 1
    with pytest.raises(ValueError):
        E.plan_visit(mini_catalog, mini_catalog.get("NP-OLD-ALLOWANCE"), max_face_attempts=0)


def test_consent_declined_ends_visit(mini_catalog):
    plan = E.plan_visit(mini_catalog, mini_catalog.get("NP-OLD-ALLOWANCE"))
    s = run(plan, [E.Next(), E.Consent(False)])
    assert s.outcome == "refused" and s.reason_key == "consent.declined"


def test_missing_allowed_and_lookup_materials(mini_catalog):
    plan = E.plan_visit(mini_catalog, mini_catalog.get("LP-EST-SHOP"))
    s = run(plan, [E.Next(), E.Consent(True), E.CardRead(make_card(birth=dt.date(1990, 1, 1)), TODAY),
                   E.FaceAttempt(face()), E.RoleChosen("legal_representative"),
                   E.FormValue("capital", "50000"), E.Next()])
    assert E.current_step(plan, s) is E.Step.MATERIALS
    s = run(plan, [E.MaterialMissing("premises_proof"), E.MaterialMissing("business_licence"), E.Next()], s)
    assert E.current_step(plan, s) is E.Step.REVIEW and set(s.missing) == {"premises_proof", "business_licence"}


def test_required_material_cannot_be_missing(mini_catalog):
    plan = E.plan_visit(mini_catalog, mini_catalog.get("NP-OLD-ALLOWANCE"))
    s = E.VisitState(index=plan.steps.index(E.Step.MATERIALS))
    s = E.advance(plan, s, E.MaterialMissing("bank_card"))
    assert s.reason_key == "materials.cannot_be_missing" and s.missing == ()


def test_back_skips_device_steps(mini_catalog):
    plan = E.plan_visit(mini_catalog, mini_catalog.get("NP-OLD-ALLOWANCE"))
    s = E.VisitState(index=plan.steps.index(E.Step.FORM))
    s = E.advance(plan, s, E.Back())
    assert E.current_step(plan, s) is E.Step.CONSENT


def test_events_that_do_not_fit_are_refused(mini_catalog):
    plan = E.plan_visit(mini_catalog, mini_catalog.get("NP-OLD-ALLOWANCE"))
    with pytest.raises(E.EventNotAllowed):
        E.advance(plan, E.VisitState(), E.Signed(b"x"))
    with pytest.raises(E.EventNotAllowed):
        E.advance(plan, dataclasses.replace(E.VisitState(), outcome="done"), E.Next())


def test_state_repr_has_no_personal_data(mini_catalog):
    card = make_card()
    s = dataclasses.replace(E.VisitState(), card=card)
    assert card.name not in repr(s) and card.id_number not in repr(s)
    assert card.id_number not in repr(card)


def test_a_bundle_answers_its_members_questions_itself():
    """出生一件事: enrolling the baby in medical insurance does not ask again who is enrolled
    and what the baby is called; the packet still carries every member's answers."""
    from flows.catalog import load_catalog
    catalog = load_catalog()
    plan = E.plan_visit(catalog, catalog.get("NP-BIRTH-BUNDLE"))
    asked = {f.key for f in plan.form}
    assert {"child_name", "mobile"} <= asked
    assert not asked & {"insured_relation", "insured_name", "insured_id_number"}
    state = E.VisitState(form=(("child_name", "王小宝"), ("mobile", "13800138000")))
    answers = E.form_answers(plan, state)
    assert answers["insured_relation"] == "newborn"
    assert answers["insured_name"] == "王小宝"
    assert answers["insured_id_number"] == ""
    assert answers["mobile"] == "13800138000"


def test_a_bundle_never_asks_for_what_one_of_its_matters_issues():
    """出生一件事 issues the 出生医学证明 itself (its member NP-BIRTH-CERT): the applicant is not
    asked for it, though the hukou, vaccination and insurance matters on their own are. The same
    for the business licence the company registration of 开办企业一件事 issues."""
    from flows.catalog import load_catalog
    catalog = load_catalog()
    assert catalog.get("NP-BIRTH-CERT").issues == ("birth_medical_certificate",)
    birth = E.plan_visit(catalog, catalog.get("NP-BIRTH-BUNDLE"))
    assert "birth_medical_certificate" not in {m.code for m in birth.materials}
    assert {"delivery_discharge_summary", "household_register"} <= {m.code for m in birth.materials}
    for code in ("NP-BIRTH-HUKOU", "NP-BIRTH-VACCINE", "NP-BIRTH-MEDINS"):
        alone = E.plan_visit(catalog, catalog.get(code))
        assert "birth_medical_certificate" in {m.code for m in alone.materials}, code
    opening = E.plan_visit(catalog, catalog.get("LP-EST-OPEN-BUNDLE"))
    assert "business_licence" not in {m.code for m in opening.materials}
    assert "business_licence" in {m.code for m in
                                  E.plan_visit(catalog, catalog.get("LP-EST-SEAL")).materials}
