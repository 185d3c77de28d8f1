"""Screens of 办件查询 and 补件: a citizen back about an earlier case (session service mode).

The session (kiosk/visit/returning.py via kiosk/visit/session.py) decides everything: which cases, their
status, what a reviewer asked for, whether the card read owns the case. These screens only draw
the snapshot and send intents. A receipt's QR code is read by a scanner that types like a
keyboard (it "types" the progress URL and Enter); the case number can also be typed.
"""
from __future__ import annotations

from kivy.core.window import Window
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.gridlayout import GridLayout
from kivy.uix.widget import Widget

from kiosk.visit import intents as I
from kiosk.ui.screens.device_steps import id_card, materials
from kiosk.ui.screens.ending import waiting
from kiosk.ui.screens.layout import column, instruction, problem, scroll
from kiosk.ui import theme as T
from kiosk.ui.keyboards import LetterKeyboard
from kiosk.ui.widgets import BigButton, text_label

ENTER_KEYS = (13, 271)          # Enter, keypad Enter: a QR scanner ends its input with one


def progress(ctx, snap):
    """Scan the receipt's QR code or type its case number; or use the ID card."""
    th = ctx.theme
    if snap.progress_key == "progress.scanning_code":
        return _scanning_receipt(ctx, snap), ["cancel"]
    typed = lambda: ctx.form_state.get("draft") or ""   # noqa: E731 - read at tap time
    draft = typed()
    submit = lambda: ctx.send(I.EnterCaseNumber(typed()))  # noqa: E731
    _listen_for_scanner(ctx, typed, submit)
    top = BoxLayout(spacing=12, size_hint_y=None, height=th.target)
    top.add_widget(text_label(draft or ctx.t("progress.case_number_hint"), th.title,
                              T.TEXT if draft else T.MUTED, bold=bool(draft), theme=th))
    top.add_widget(BigButton("-", "key:-", lambda: ctx.type_draft(typed() + "-"), th,
                             kind="secondary", size_hint_x=None, width=th.target,
                             font_size=th.title, size_hint_y=1))
    top.add_widget(BigButton(ctx.t("progress.by_case_number"), "lookup_case", submit, th,
                             kind="ok", size_hint_x=0.25, disabled=snap.busy or not draft,
                             size_hint_y=1))
    keys = ctx.kept(("case-number-letters",), lambda: LetterKeyboard(
        None, None, digits=True, theme=th), "case-number")
    keys.on_text = lambda s: ctx.type_draft(typed() + s.upper())
    keys.on_back = lambda: ctx.type_draft(typed()[:-1])
    ways = BoxLayout(spacing=12, size_hint_y=None, height=th.target)   # rows of the least
    # target height: the keyboard below needs the height for keys a finger can hit
    if ctx.doc_read:
        ways.add_widget(BigButton(ctx.t("progress.scan_code"), "scan_receipt_code",
                                  lambda: ctx.send(I.ScanReceiptCode()), th, disabled=snap.busy,
                                  size_hint_y=1))
    ways.add_widget(BigButton(ctx.t("progress.by_id_card"), "progress_by_card",
                              lambda: ctx.send(I.ReadCardForProgress()), th, disabled=snap.busy,
                              size_hint_y=1))
    keys.size_hint_y = 1        # the rest of the screen: what does not fit there scrolls
    col = column(ctx, instruction(ctx, snap), problem(ctx, snap), ways, top, keys)
    col.spacing = 8
    return col, ["cancel"]


def _scanning_receipt(ctx, snap):
    """The document camera looks for the receipt's QR code: its live picture, what to do, and
    a way back to typing the number."""
    th = ctx.theme
    side = BoxLayout(orientation="vertical", spacing=14, size_hint_x=0.5 if th.elder else 0.4)
    side.add_widget(text_label(ctx.t("progress.scanning_code"), th.instruction, T.PRIMARY,
                               theme=th, bold=True))
    side.add_widget(Widget())
    if ctx.app.demo_receipt is not None:    # demo only: lay the last printed receipt down
        side.add_widget(BigButton(ctx.t("progress.demo_receipt"), "demo_receipt",
                                  ctx.app.demo_receipt, th, kind="secondary",
                                  font_size=th.small))
    side.add_widget(BigButton(ctx.t("nav.back"), "back", lambda: ctx.send(I.Back()), th,
                              kind="secondary"))
    box = BoxLayout(spacing=20, padding=th.padding)
    box.add_widget(ctx.preview("doc_camera", ctx.doc_read, fps=5))
    box.add_widget(side)
    return box


def _listen_for_scanner(ctx, typed, submit) -> None:
    """Text a keyboard-wedge QR scanner types goes into the draft; its Enter submits."""
    def on_text(_window, text):
        ctx.type_draft(typed() + text)

    def on_key(_window, key, *_args):
        if key in ENTER_KEYS:
            submit()
    Window.bind(on_textinput=on_text, on_key_down=on_key)
    ctx.on_leave(lambda: Window.unbind(on_textinput=on_text, on_key_down=on_key))


def result(ctx, snap):
    """Each case: matter, number, status in words; what to supply, with a button to do it."""
    th = ctx.theme
    rows = GridLayout(cols=1, spacing=12, size_hint_y=None)
    rows.bind(minimum_height=rows.setter("height"))
    for c in snap.cases:
        matter = c.matter_en if ctx.lang == "en" else c.matter_zh
        mark = T.WARN_MARK if c.requested else T.OK_MARK
        rows.add_widget(text_label(f"{matter}\n{c.case_number}", th.body, bold=True, theme=th))
        rows.add_widget(text_label(f"{mark} {ctx.t(c.status_key)} · "
                                   f"{ctx.t('progress.updated', when=c.updated_at)}",
                                   th.body, T.WARN if c.requested else T.OK, theme=th))
        if c.requested:
            wanted = "；".join(f"{en if ctx.lang == 'en' else zh}" + (f"（{why}）" if why else "")
                              for _code, zh, en, why in c.requested)
            rows.add_widget(text_label(ctx.t("progress.requested") + " " + wanted, th.body,
                                       theme=th))
            rows.add_widget(BigButton(ctx.t("progress.supplement_this"),
                                      f"supplement:{c.case_number}",
                                      lambda n=c.case_number: ctx.send(I.StartSupplement(n)),
                                      th, kind="ok", disabled=snap.busy))
    return column(ctx, instruction(ctx, snap), problem(ctx, snap),
                  scroll(rows)), ["back", "help", "cancel"]


def supplement_done(ctx, snap):
    th = ctx.theme
    col = column(ctx, Widget(), text_label(f"{T.OK_MARK} " + ctx.t("step.supplement_done"),
                                           th.title, T.OK, "center", theme=th, bold=True),
                 problem(ctx, snap))
    if snap.case_number:
        col.add_widget(text_label(ctx.t("ui.case_number", case=snap.case_number), th.huge,
                                  halign="center", theme=th, bold=True))
    col.add_widget(Widget())
    col.add_widget(BigButton(ctx.t("ui.home"), "home", lambda: ctx.send(I.Next()), th))
    return col, []


SCREENS = {"progress": progress, "progress_card": id_card, "progress_result": result,
           "supplement_card": id_card, "supplement": materials,
           "supplement_submit": waiting, "supplement_done": supplement_done}
