"""Build the immutable `Snapshot` a screen draws from the current visit.

Kept apart from kiosk/visit/session.py so the session stays about control flow; this is only the
projection of the visit (kiosk/visit/context.py) into what a screen needs (field views, material
views, the applicant summary for the review screen with the ID number masked). What belongs to
the session rather than the visit comes in as arguments.
"""
from __future__ import annotations

from typing import Callable

from flows import engine as E
from flows.catalog import Catalog
from kiosk.visit import intents as I
from kiosk.visit.context import VisitContext
from kiosk.visit.packet import mask_id_number


def build_snapshot(ctx: VisitContext, catalog: Catalog, *, seq: int, handled: int,
                   countdown: int | None, reprint_offered: bool,
                   closed_matters: Callable[[], tuple[tuple[str, str], ...]]) -> I.Snapshot:
    """`handled`: intents the session took so far; `closed_matters()`: asked on the attract
    screen only (matters whose devices are down now)."""
    base = dict(seq=seq, handled=handled, language=ctx.language, elder=ctx.elder,
                audio_first=ctx.audio_first, idle_countdown=countdown,
                params=tuple(sorted(ctx.params.items())), alerts=ctx.alerts)
    if ctx.service is not None:         # 办件查询 / 补件 (kiosk/visit/returning.py)
        return I.Snapshot(**{**base, **ctx.service.snapshot_fields()})
    if ctx.plan is None:
        screen = ctx.screen
        return I.Snapshot(screen=screen, matter_code=ctx.matter_code,
                          prompt_key=f"step.{screen}" if screen != "refused" else None,
                          reason_key=ctx.reason, case_number=ctx.case_number,
                          receipt_printed=ctx.receipt_printed,
                          reprint=(ctx.reprint or "available") if reprint_offered else "",
                          closed_matters=closed_matters() if screen == "attract" else (),
                          **base)
    plan, state = ctx.plan, ctx.state
    step = E.current_step(plan, state)
    fields = ()
    if step in (E.Step.FORM, E.Step.REVIEW):
        pre = E.prefill(plan, state.card)
        values = {**pre, **state.form_values}
        errors = dict(state.form_errors)
        ask = {f.key for f in E.fields_to_ask(plan, state)}
        fields = tuple(
            I.FieldView(key=f.key, label_zh=f.label.zh, label_en=f.label.en, type=f.type,
                        required=f.required, value=values.get(f.key, ""),
                        error_key=errors.get(f.key),
                        choices=tuple((c.value, c.zh, c.en) for c in f.choices),
                        prefilled=f.key not in ask)
            for f in plan.form)
    materials = ()
    if step in (E.Step.MATERIALS, E.Step.REVIEW):
        views = []
        for m in plan.materials:
            mat = catalog.materials[m.code]
            have = len(state.pages_of(m.code))
            status = ("missing_allowed" if m.code in state.missing else
                      "complete" if have >= m.pages else
                      "todo" if m.required or have else "optional")
            views.append(I.MaterialView(code=m.code, name_zh=mat.name.zh, name_en=mat.name.en,
                                        pages_needed=m.pages, pages_have=have,
                                        required=m.required, missing_allowed=m.missing_allowed,
                                        lookup=m.lookup, status=status))
        materials = tuple(views)
    applicant = ()
    if state.card is not None and step in (E.Step.REVIEW, E.Step.FORM, E.Step.COMMITMENT):
        c = state.card
        applicant = (("field.name", c.name), ("field.id_number", mask_id_number(c.id_number)),
                     ("field.birth_date", c.birth_date.isoformat()))
        if state.role:
            applicant += (("field.role", f"role.{state.role}"),)
    return I.Snapshot(
        screen=step.value, matter_code=plan.matter.code, prompt_key=plan.prompt_key(step),
        reason_key=state.reason_key, busy=ctx.job is not None, progress_key=ctx.face_guidance,
        fields=fields, materials=materials, applicant=applicant,
        face_attempts=state.face_attempts, case_number=state.case_number,
        receipt_printed=state.receipt_printed, **base)
