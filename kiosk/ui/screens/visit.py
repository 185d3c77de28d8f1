"""Screens of a visit, one function per session screen: each draws a snapshot, sends intents.

A screen function returns (content widget, the navigation buttons it wants). Nothing here
decides business rules: which step comes next, what is valid, what is missing — all of that
arrives in the snapshot. Here: the table of the visit's screens, and the screens that are read
and confirmed (guide, consent, role, review, commitment); the device steps are in
device_steps.py, the form in form.py, the end of the visit in ending.py.
"""
from __future__ import annotations

from kivy.uix.boxlayout import BoxLayout
from kivy.uix.gridlayout import GridLayout
from kivy.uix.widget import Widget

from kiosk.visit import intents as I
from kiosk.visit.guide import guide_body
from kiosk.ui import theme as T
from kiosk.ui.screens.device_steps import face, id_card, materials
from kiosk.ui.screens.ending import done, evaluation, help_screen, refused, waiting
from kiosk.ui.screens.form import answer_lines, form
from kiosk.ui.screens.layout import column, instruction, problem, scroll, stack
from kiosk.ui.signature_pad import SignaturePad
from kiosk.ui.widgets import BigButton, text_label


def guide(ctx, snap):
    th = ctx.theme
    matter = ctx.catalog.get(snap.matter_code)
    text = guide_body(ctx.catalog, matter, ctx.lang)
    # A label a paragraph: a bundle's whole guide in one label took 40-60 ms to render in one
    # go (FramePacer can spread labels over frames, not one label), and a long one could
    # outgrow the largest texture a terminal's GPU takes.
    body = GridLayout(cols=1, size_hint_y=None)
    body.bind(minimum_height=body.setter("height"))
    body.add_widget(text_label(matter.name.get(ctx.lang), th.instruction, theme=th, bold=True))
    for paragraph in text.split("\n\n"):
        body.add_widget(text_label(paragraph + "\n", th.body, theme=th))
    return column(ctx, instruction(ctx, snap), scroll(body)), ["cancel", "help", "next"]


def consent(ctx, snap):
    th = ctx.theme
    row = BoxLayout(spacing=24, size_hint_y=None, height=th.button_height)
    row.add_widget(BigButton(ctx.t("nav.disagree"), "disagree",
                             lambda: ctx.send(I.Agree(False)), th, kind="secondary"))
    row.add_widget(BigButton(ctx.t("nav.agree"), "agree", lambda: ctx.send(I.Agree(True)), th,
                             kind="ok"))
    body = text_label(ctx.t("consent.body"), th.body, theme=th)
    return column(ctx, instruction(ctx, snap), scroll(body), row), ["back", "help", "cancel"]


def role(ctx, snap):
    th = ctx.theme
    col = column(ctx, instruction(ctx, snap))
    for r in ("legal_representative", "authorised_agent"):
        col.add_widget(BigButton(ctx.t(f"role.{r}"), f"role:{r}",
                                 lambda r=r: ctx.send(I.ChooseRole(r)), th,
                                 height=th.button_height * 1.4))
    col.add_widget(problem(ctx, snap))
    col.add_widget(Widget())
    return col, ["back", "help", "cancel"]


def review(ctx, snap):
    th = ctx.theme
    lines = [f"{ctx.t(k)}：{ctx.t(v) if v.startswith('role.') else v}" for k, v in snap.applicant]
    lines += answer_lines(ctx, snap.fields)
    lines.append("")
    for m in snap.materials:
        name = m.name_en if ctx.lang == "en" else m.name_zh
        state = (ctx.t("materials.missing_allowed") if m.status == "missing_allowed"
                 else f"{m.pages_have}/{m.pages_needed}")
        lines.append(f"{T.OK_MARK if m.status in ('complete', 'missing_allowed') else '·'} "
                     f"{name}：{state}")
    body = text_label("\n".join(lines), th.body, theme=th)
    return column(ctx, instruction(ctx, snap), scroll(body)), ["back", "help", "cancel", "next"]


def _commitment_by_keypad(ctx, snap):
    """Audio-first mode: the commitment (read aloud by kiosk/ui/focus.py) and one button,
    "按5确认签字", in place of the signature pad; the packet says it was confirmed so."""
    th = ctx.theme
    matter = ctx.catalog.get(snap.matter_code)
    text = text_label(matter.commitment.get(ctx.lang), th.body, theme=th)
    confirm = BigButton(ctx.t("keypad.commitment_button"), "confirm_keypad",
                        lambda: ctx.send(I.ConfirmByKeypad()), th, kind="ok")
    return column(ctx, instruction(ctx, snap), scroll(text), confirm), \
        ["back", "help", "cancel"]


def commitment(ctx, snap):
    if snap.audio_first:
        return _commitment_by_keypad(ctx, snap)
    th = ctx.theme
    matter = ctx.catalog.get(snap.matter_code)
    pad = SignaturePad(size_hint_y=None, height=th.px(45))   # the same 45 mm in elder mode
    row = BoxLayout(spacing=16, size_hint_y=None, height=th.button_height)
    row.add_widget(BigButton(ctx.t("ui.clear_signature"), "clear_signature", pad.clear, th,
                             kind="secondary"))
    row.add_widget(BigButton(ctx.t("ui.sign_submit"), "sign_submit",
                             lambda: pad.signed(lambda png: ctx.send(I.Sign(png))), th,
                             kind="ok"))
    text = text_label(matter.commitment.get(ctx.lang), th.body, theme=th)
    signing = BoxLayout(orientation="vertical", spacing=14, size_hint_x=1.1)
    signing.add_widget(pad)          # the promise to read beside the box to sign in: both keep
    signing.add_widget(row)          # their size in elder mode, the promise scrolls
    both = BoxLayout(spacing=16)
    both.add_widget(scroll(stack(text, problem(ctx, snap))))
    both.add_widget(signing)
    return column(ctx, instruction(ctx, snap), both), ["back", "help", "cancel"]


SCREENS = {"guide": guide, "consent": consent, "id_card": id_card, "face": face, "role": role,
           "form": form, "materials": materials, "review": review, "commitment": commitment,
           "submit": waiting, "receipt": waiting, "evaluation": evaluation, "done": done,
           "refused": refused, "help": help_screen}
