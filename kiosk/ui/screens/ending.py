"""Screens of a visit's end: waiting for the submission and the receipt, the evaluation, the
end screen with the case number (and a reprint), a refusal, and the help screen."""
from __future__ import annotations

from kivy.uix.boxlayout import BoxLayout
from kivy.uix.widget import Widget

from kiosk.visit import intents as I
from kiosk.ui import theme as T
from kiosk.ui.screens.layout import column, instruction
from kiosk.ui.widgets import BigButton, text_label


def waiting(ctx, snap):
    th = ctx.theme
    return column(ctx, Widget(), text_label(ctx.t(snap.prompt_key), th.huge, T.PRIMARY,
                                            "center", theme=th), Widget()), []


def evaluation(ctx, snap):
    th = ctx.theme
    head = text_label(ctx.t("ui.case_number", case=snap.case_number or ""), th.title, T.OK,
                      "center", theme=th, bold=True)
    note = text_label(ctx.t("ui.receipt_printed" if snap.receipt_printed else
                            "ui.receipt_not_printed"), th.body,
                      T.TEXT if snap.receipt_printed else T.WARN, "center", theme=th)
    row = BoxLayout(spacing=10, size_hint_y=None, height=th.button_height * 1.3)
    for level in range(1, 6):
        row.add_widget(BigButton(f"{'★' * level}\n{ctx.t(f'evaluation.{level}')}",
                                 f"rate:{level}", lambda lv=level: ctx.send(I.Rate(lv)), th,
                                 kind="ok" if level >= 4 else "secondary" if level == 3
                                 else "danger", height=th.button_height * 1.3,
                                 font_size=th.small))
    skip = BigButton(ctx.t("ui.skip"), "rate:skip", lambda: ctx.send(I.Rate(None)), th,
                     kind="secondary")
    return column(ctx, head, note, instruction(ctx, snap), row, skip, Widget()), []


def done(ctx, snap):
    th = ctx.theme
    col = column(ctx, Widget(),
                 text_label(f"{T.OK_MARK} " + ctx.t("step.done"), th.instruction, T.OK,
                            "center", theme=th, bold=True))
    if snap.case_number:
        col.add_widget(text_label(ctx.t("ui.case_number", case=snap.case_number),
                                  th.title if th.elder else th.huge, halign="center", theme=th,
                                  bold=True))
    if snap.reprint == "available":
        row = BoxLayout(size_hint_y=None, height=th.button_height)
        row.add_widget(Widget())
        row.add_widget(BigButton(ctx.t("ui.reprint"), "reprint",
                                 lambda: ctx.send(I.ReprintReceipt()), th, kind="secondary"))
        row.add_widget(Widget())
        col.add_widget(row)
    elif snap.reprint:
        col.add_widget(text_label(ctx.t(f"ui.reprint_{snap.reprint}"), th.body,
                                  T.WARN if snap.reprint == "failed" else T.TEXT, "center",
                                  theme=th))
    col.add_widget(Widget())
    return col, ["home"]


def refused(ctx, snap):
    th = ctx.theme
    reason = snap.reason_key or "device.failed"
    params = {k: ctx.t(v) if v.startswith("device.") else v for k, v in snap.params}
    col = column(ctx, Widget(),
                 text_label(f"{T.BAD_MARK} " + ctx.t("title.refused"), th.title, T.DANGER,
                            "center", theme=th, bold=True),
                 text_label(ctx.t(reason, **params), th.title, halign="center", theme=th),
                 text_label(ctx.t("ui.phone", phone=ctx.config.site.phone), th.body, T.MUTED,
                            "center", theme=th), Widget())
    return col, ["help", "home"]


def help_screen(ctx, snap):
    th = ctx.theme
    col = column(ctx, Widget(), text_label(ctx.t("step.help"), th.title, halign="center",
                                           theme=th),
                 text_label(ctx.t("ui.phone", phone=ctx.config.site.phone), th.huge, T.PRIMARY,
                            "center", theme=th, bold=True), Widget())
    return col, ["home"]
