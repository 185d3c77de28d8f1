"""The headless visit engine: a pure state machine over a matter definition.

`plan_visit(catalog, matter)` turns a matter (or a one-visit bundle) into the steps of a visit,
the union of its form fields and materials. `advance(plan, state, event)` takes the state of a
visit and one thing that happened (the applicant pressed next, the card was read, a page was
captured...) and returns the new state. Nothing here touches a device, a clock or a file:
steps that need hardware name a capability (`id_card.read`, `face.verify`, `doc.capture`,
`receipt.print`, `outbox.submit`) and `kiosk/visit/session.py` performs it and feeds the result back.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass, field

from devices.interfaces import CardRecord, FaceDecision, FaceResult
from flows.catalog import FormField
# The events `advance` takes live in flows/events.py; they are part of this module's API.
from flows.events import (  # noqa: F401
    Next, Back, Consent, CardRead, FaceAttempt, FaceFailed, FaceDeclined, RoleChosen,
    FormValue, PageCaptured, PageRejected, RetakeMaterial, MaterialMissing, Signed,
    ConfirmedByKeypad, Submitted, ReceiptDone, Evaluated)
# Plans are made in flows/plan.py; its names are part of this module's API.
from flows.plan import (  # noqa: F401
    CAPABILITIES, DEFAULT_MAX_FACE_ATTEMPTS, KNOWN_CAPABILITIES, ROLES, PlannedMaterial, Step,
    VisitPlan, plan_visit)
from flows.validators import FIELD_VALIDATORS, FieldInvalid

# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class VisitState:
    index: int = 0
    outcome: str | None = None          # None (running) | "done" | "refused"
    reason_key: str | None = None       # why refused, or the last problem on this step
    consent: bool = False
    card: CardRecord | None = None
    today: dt.date | None = None          # the date the card was read, for eligibility
    face: FaceResult | None = None
    face_attempts: int = 0
    face_declined: bool = False
    role: str | None = None
    form: tuple[tuple[str, str], ...] = ()
    form_errors: tuple[tuple[str, str], ...] = ()
    pages: tuple[tuple[str, bytes], ...] = ()      # (material code, jpeg) in capture order
    missing: tuple[str, ...] = ()                  # 容缺 materials
    signature_png: bytes | None = None
    confirmed_by_keypad: bool = False   # the commitment confirmed by voice + keypad, not drawn
    packet_id: str | None = None
    case_number: str | None = None
    receipt_printed: bool | None = None
    evaluation: int | None = None
    evaluation_comment: str = ""
    events: int = field(default=0, compare=False)

    def __repr__(self) -> str:  # never print personal data
        return f"VisitState(index={self.index}, outcome={self.outcome}, reason={self.reason_key})"

    @property
    def form_values(self) -> dict[str, str]:
        return dict(self.form)

    def pages_of(self, material: str) -> list[bytes]:
        return [j for m, j in self.pages if m == material]


def current_step(plan: VisitPlan, state: VisitState) -> Step:
    return Step.DONE if state.index >= len(plan.steps) else plan.steps[state.index]


def prefill(plan: VisitPlan, card: CardRecord | None) -> dict[str, str]:
    if card is None:
        return {}
    sources = {"card.name": card.name, "card.id_number": card.id_number,
               "card.address": card.address, "card.birth_date": card.birth_date.isoformat(),
               "card.sex": card.sex, "card.nation": card.nation}
    return {f.key: sources[f.prefill] for f in plan.form if f.prefill and sources.get(f.prefill)}


def form_answers(plan: VisitPlan, state: VisitState) -> dict[str, str]:
    """Every answer of the form, for the packet: the card's, the applicant's, and those the
    bundle gives itself (a fixed value, or the same as another answer)."""
    values = {**prefill(plan, state.card), **dict(state.form)}
    for a in plan.answers:
        values[a.key] = a.value if a.value is not None else values.get(a.same_as, "")
    return values


def fields_to_ask(plan: VisitPlan, state: VisitState) -> list[FormField]:
    """Only what the card did not answer is asked."""
    pre = prefill(plan, state.card)
    return [f for f in plan.form if f.key not in pre]


def validate_field(f: FormField, raw: str) -> str:
    if not raw.strip():
        if f.required:
            raise FieldInvalid("validate.required")
        return ""
    if f.type == "choice":
        if raw not in {c.value for c in f.choices}:
            raise FieldInvalid("validate.choice")
        return raw
    if f.type == "yes_no":
        if raw not in ("yes", "no"):
            raise FieldInvalid("validate.choice")
        return raw
    return FIELD_VALIDATORS[f.type](raw)


def check_eligibility(plan: VisitPlan, card: CardRecord, today: dt.date) -> str | None:
    """Return the reason_key why this card holder cannot use the matter, or None."""
    for m in (plan.matter,) + plan.members:
        for r in m.eligibility:
            if r.rule == "card_not_expired" and card.is_expired(today):
                return "eligibility.card_expired"
            if r.rule == "card_types" and card.card_type.value not in r.value:
                return "eligibility.card_type"
            if r.rule == "min_age" and card.age_on(today) < r.value:
                return "eligibility.too_young"
            if r.rule == "max_age" and card.age_on(today) > r.value:
                return "eligibility.too_old"
            if r.rule == "sex" and card.sex != r.value:
                return "eligibility.sex"
    return None


def missing_pages(plan: VisitPlan, state: VisitState) -> list[tuple[str, int]]:
    """(material, pages still needed) for every material not yet complete or marked 容缺."""
    out = []
    for m in plan.materials:
        if m.code in state.missing:
            continue
        have = len(state.pages_of(m.code))
        if have < m.pages and (m.required or have > 0):
            out.append((m.code, m.pages - have))
    return out


def _move(plan: VisitPlan, state: VisitState, delta: int, **changes) -> VisitState:
    index = state.index + delta
    nxt = dataclasses.replace(state, index=index, reason_key=None, events=state.events + 1, **changes)
    if index >= len(plan.steps):
        nxt = dataclasses.replace(nxt, outcome="done")
    return nxt


def _stay(state: VisitState, reason_key: str | None, **changes) -> VisitState:
    return dataclasses.replace(state, reason_key=reason_key, events=state.events + 1, **changes)


BACK_ALLOWED = {Step.CONSENT, Step.ROLE, Step.FORM, Step.MATERIALS, Step.REVIEW, Step.COMMITMENT}


class EventNotAllowed(Exception):
    """An event that does not fit the current step (a UI bug, never the applicant's fault)."""


def advance(plan: VisitPlan, state: VisitState, event) -> VisitState:
    if state.outcome is not None:
        raise EventNotAllowed(f"visit already ended ({state.outcome})")
    step = current_step(plan, state)
    if isinstance(event, Back):
        if step not in BACK_ALLOWED:
            return _stay(state, "nav.back_not_here")
        prev = state.index - 1
        # never step back onto an automatic or device step; go to the previous interactive one
        while prev > 0 and plan.steps[prev] in (Step.ELIGIBILITY, Step.ID_CARD, Step.FACE):
            prev -= 1
        return dataclasses.replace(state, index=prev, reason_key=None, events=state.events + 1)

    handler = _HANDLERS.get((step, type(event)))
    if handler is None:
        raise EventNotAllowed(f"{type(event).__name__} does not fit step {step.value}")
    return handler(plan, state, event)


def _next_plain(plan, state, event):
    return _move(plan, state, 1)


def _consent(plan, state, event: Consent):
    if not event.accepted:
        return dataclasses.replace(state, outcome="refused", reason_key="consent.declined")
    return _move(plan, state, 1, consent=True)


def _card(plan, state, event: CardRead):
    nxt = _move(plan, state, 1, card=event.card, today=event.today)
    # the eligibility step follows the card: evaluate it at once when we reach it
    return _auto(plan, nxt)


def _auto(plan, state):
    """Run the automatic eligibility step if the visit has reached it."""
    if current_step(plan, state) is Step.ELIGIBILITY:
        reason = check_eligibility(plan, state.card, state.today)
        if reason:
            return dataclasses.replace(state, outcome="refused", reason_key=reason)
        return _move(plan, state, 1)
    return state


def _face(plan, state, event: FaceAttempt):
    attempts = state.face_attempts + 1
    if event.result.decision is FaceDecision.MATCH and event.result.liveness.value != "failed":
        return _move(plan, state, 1, face=event.result, face_attempts=attempts)
    reason = event.result.reason_key or ("face.no_match" if event.result.decision is
                                         FaceDecision.NO_MATCH else "face.undecided")
    return _face_not_verified(plan, state, reason, face=event.result)


def _face_failed(plan, state, event: FaceFailed):
    reason = event.reason_key if event.retry_possible else "face.offer_alternative"
    return _face_not_verified(plan, state, reason)


def _face_not_verified(plan, state, reason_key: str, **changes):
    """One more failed attempt; at the plan's limit, offer staff check instead."""
    attempts = state.face_attempts + 1
    if attempts >= plan.max_face_attempts:
        reason_key = "face.offer_alternative"
    return _stay(state, reason_key, face_attempts=attempts, **changes)


def _face_declined(plan, state, event):
    return _move(plan, state, 1, face_declined=True)


def _role(plan, state, event: RoleChosen):
    if event.role not in ROLES:
        return _stay(state, "validate.choice")
    return _move(plan, state, 1, role=event.role)


def _form_value(plan, state, event: FormValue):
    fields = {f.key: f for f in plan.form}
    f = fields.get(event.key)
    if f is None:
        raise EventNotAllowed(f"no form field {event.key!r}")
    values = dict(state.form)
    errors = dict(state.form_errors)
    try:
        values[f.key] = validate_field(f, event.raw)
        errors.pop(f.key, None)
    except FieldInvalid as exc:
        errors[f.key] = exc.reason_key
        values.pop(f.key, None)
    return _stay(state, errors.get(f.key), form=tuple(values.items()),
                 form_errors=tuple(errors.items()))


def _form_next(plan, state, event):
    values = {**prefill(plan, state.card), **dict(state.form)}
    errors = dict(state.form_errors)
    for f in fields_to_ask(plan, state):
        if f.required and not values.get(f.key) and f.key not in errors:
            errors[f.key] = "validate.required"
    if errors:
        return _stay(state, "form.fix_errors", form_errors=tuple(errors.items()))
    return _move(plan, state, 1, form=tuple(values.items()), form_errors=())


def _page(plan, state, event: PageCaptured):
    mat = {m.code: m for m in plan.materials}.get(event.material)
    if mat is None:
        raise EventNotAllowed(f"material {event.material!r} is not part of this visit")
    if len(state.pages_of(mat.code)) >= mat.pages:
        return _stay(state, "materials.already_complete")
    return _stay(state, None, pages=state.pages + ((mat.code, event.jpeg),),
                 missing=tuple(m for m in state.missing if m != mat.code))


def _page_rejected(plan, state, event: PageRejected):
    return _stay(state, event.reason_key)


def _retake(plan, state, event: RetakeMaterial):
    return _stay(state, None, pages=tuple(p for p in state.pages if p[0] != event.material))


def _missing(plan, state, event: MaterialMissing):
    mat = {m.code: m for m in plan.materials}.get(event.material)
    if mat is None:
        raise EventNotAllowed(f"material {event.material!r} is not part of this visit")
    if mat.required and not mat.missing_allowed and not mat.lookup:
        return _stay(state, "materials.cannot_be_missing")
    return _stay(state, None, missing=tuple(sorted(set(state.missing) | {mat.code})),
                 pages=tuple(p for p in state.pages if p[0] != mat.code))


def _materials_next(plan, state, event):
    if missing_pages(plan, state):
        return _stay(state, "materials.incomplete")
    return _move(plan, state, 1)


def _signed(plan, state, event: Signed):
    if not event.png:
        return _stay(state, "commitment.sign_first")
    return _move(plan, state, 1, signature_png=event.png, confirmed_by_keypad=False)


def _confirmed_by_keypad(plan, state, event: ConfirmedByKeypad):
    return _move(plan, state, 1, signature_png=None, confirmed_by_keypad=True)


def _submitted(plan, state, event: Submitted):
    return _move(plan, state, 1, packet_id=event.packet_id, case_number=event.case_number)


def _receipt(plan, state, event: ReceiptDone):
    return _move(plan, state, 1, receipt_printed=event.printed)


def _evaluated(plan, state, event: Evaluated):
    if event.level is not None and not 1 <= event.level <= 5:
        return _stay(state, "validate.choice")
    return _move(plan, state, 1, evaluation=event.level, evaluation_comment=event.comment[:200])


_HANDLERS = {
    (Step.GUIDE, Next): _next_plain,
    (Step.CONSENT, Consent): _consent,
    (Step.ID_CARD, CardRead): _card,
    (Step.FACE, FaceAttempt): _face,
    (Step.FACE, FaceFailed): _face_failed,
    (Step.FACE, FaceDeclined): _face_declined,
    (Step.ROLE, RoleChosen): _role,
    (Step.FORM, FormValue): _form_value,
    (Step.FORM, Next): _form_next,
    (Step.MATERIALS, PageCaptured): _page,
    (Step.MATERIALS, PageRejected): _page_rejected,
    (Step.MATERIALS, RetakeMaterial): _retake,
    (Step.MATERIALS, MaterialMissing): _missing,
    (Step.MATERIALS, Next): _materials_next,
    (Step.REVIEW, Next): _next_plain,
    (Step.COMMITMENT, Signed): _signed,
    (Step.COMMITMENT, ConfirmedByKeypad): _confirmed_by_keypad,
    (Step.SUBMIT, Submitted): _submitted,
    (Step.RECEIPT, ReceiptDone): _receipt,
    (Step.EVALUATION, Evaluated): _evaluated,
}
