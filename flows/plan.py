"""A visit's plan: which steps, form fields and materials one matter (or bundle) needs.

`plan_visit(catalog, matter)` is the first half of the visit engine (flows/engine.py runs the
plan); a plan is immutable and says nothing about any one applicant.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass

from flows.catalog import Catalog, FormField, Matter


DEFAULT_MAX_FACE_ATTEMPTS = 3    # a plan made without the site's `[face] max_attempts`


class Step(str, enum.Enum):
    GUIDE = "guide"
    CONSENT = "consent"
    ID_CARD = "id_card"
    FACE = "face"
    ELIGIBILITY = "eligibility"
    ROLE = "role"
    FORM = "form"
    MATERIALS = "materials"
    REVIEW = "review"
    COMMITMENT = "commitment"
    SUBMIT = "submit"
    RECEIPT = "receipt"
    EVALUATION = "evaluation"
    DONE = "done"


CAPABILITIES = {
    Step.ID_CARD: "id_card.read",
    Step.FACE: "face.verify",
    Step.MATERIALS: "doc.capture",
    Step.SUBMIT: "outbox.submit",
    Step.RECEIPT: "receipt.print",
}
KNOWN_CAPABILITIES = frozenset(CAPABILITIES.values())
ROLES = ("legal_representative", "authorised_agent")


@dataclass(frozen=True)
class PlannedMaterial:
    code: str
    pages: int
    required: bool
    missing_allowed: bool
    lookup: bool
    for_matters: tuple[str, ...]


@dataclass(frozen=True)
class VisitPlan:
    matter: Matter
    members: tuple[Matter, ...]
    steps: tuple[Step, ...]
    form: tuple[FormField, ...]
    materials: tuple[PlannedMaterial, ...]
    answers: tuple = ()          # BundleAnswer: member questions the bundle answers itself
    max_face_attempts: int = DEFAULT_MAX_FACE_ATTEMPTS   # failed attempts before staff check

    @property
    def capabilities(self) -> frozenset[str]:
        return frozenset(CAPABILITIES[s] for s in self.steps if s in CAPABILITIES)

    def prompt_key(self, step: Step) -> str:
        return f"step.{step.value}"


def plan_visit(catalog: Catalog, matter: Matter,
               max_face_attempts: int = DEFAULT_MAX_FACE_ATTEMPTS) -> VisitPlan:
    """The steps, form and materials of a visit; `max_face_attempts` (the site's `[face]
    max_attempts`) is how many failed face checks the visit allows before it offers staff
    check instead."""
    if max_face_attempts < 1:
        raise ValueError("max_face_attempts must be at least 1")
    members = tuple(catalog.members(matter))
    form: dict[str, FormField] = {}
    answered = {a.key for a in matter.answers}
    for m in members + ((matter,) if matter.kind == "bundle" else ()):
        for f in m.form:
            if f.key not in answered:
                form.setdefault(f.key, f)
    mats: dict[str, PlannedMaterial] = {}
    issued = {code for m in members for code in m.issues}   # a bundle makes these itself
    for m in members:
        for ref in m.materials:
            if ref.material in issued:
                continue
            prev = mats.get(ref.material)
            if prev is None:
                mats[ref.material] = PlannedMaterial(ref.material, ref.pages, ref.required,
                                                     ref.missing_allowed, ref.lookup, (m.code,))
            else:  # captured once: most pages, required if any requires, 容缺 only if all allow
                mats[ref.material] = PlannedMaterial(
                    ref.material, max(prev.pages, ref.pages), prev.required or ref.required,
                    prev.missing_allowed and ref.missing_allowed, prev.lookup and ref.lookup,
                    prev.for_matters + (m.code,))
    steps = [Step.GUIDE, Step.CONSENT]
    if matter.identity.id_card:
        # eligibility is decided from the card alone: a card that cannot use the matter
        # (expired, too young or too old) is refused before the camera ever opens
        steps += [Step.ID_CARD, Step.ELIGIBILITY]
        if matter.identity.face:
            steps.append(Step.FACE)
    if matter.applicant == "legal_person":
        steps.append(Step.ROLE)
    if form:
        steps.append(Step.FORM)
    if mats:
        steps.append(Step.MATERIALS)
    steps += [Step.REVIEW, Step.COMMITMENT, Step.SUBMIT]
    if matter.receipt:
        steps.append(Step.RECEIPT)
    steps.append(Step.EVALUATION)
    return VisitPlan(matter, members, tuple(steps), tuple(form.values()), tuple(mats.values()),
                     matter.answers, max_face_attempts)
