"""Build the immutable `Snapshot` a screen draws from the session's current visit.

Kept apart from `kiosk/visit/session.py` so the session stays about control flow; this is only the
projection of the visit state into what a screen needs (field views, material views, the
applicant summary for the review screen with the ID number masked).
"""
from __future__ import annotations

from flows import engine as E
from kiosk.visit import intents as I
from kiosk.visit.packet import mask_id_number


def build_snapshot(s, seq: int, countdown: int | None) -> I.Snapshot:
    base = dict(seq=seq, handled=s._handled, language=s._language, elder=s._elder,
                audio_first=s._audio_first, idle_countdown=countdown,
                params=tuple(sorted(s._params.items())), alerts=s._alerts)
    if s._service is not None:          # 办件查询 / 补件 (kiosk/visit/returning.py)
        return I.Snapshot(**{**base, **s._service.snapshot_fields()})
    if s.plan is None:
        screen = s._screen
        return I.Snapshot(screen=screen, matter_code=s._matter_code,
                          prompt_key=f"step.{screen}" if screen != "refused" else None,
                          reason_key=s._reason, case_number=s._case_number,
                          receipt_printed=s._receipt_printed,
                          reprint=(s._reprint or "available") if s.reprint_offered() else "",
                          closed_matters=s.closed_matters() if screen == "attract" else (),
                          **base)
    plan, state = s.plan, s.state
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
            mat = s.catalog.materials[m.code]
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
        reason_key=state.reason_key, busy=s._job is not None, progress_key=s._progress_key,
        fields=fields, materials=materials, applicant=applicant,
        face_attempts=state.face_attempts, case_number=state.case_number,
        receipt_printed=state.receipt_printed, **base)
