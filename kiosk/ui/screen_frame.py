"""The bars around every screen: the header (title, repeat, elder mode, language, and the
technician's hidden corner), the idle warning in the header's place, alert banners, and the
footer's navigation buttons. Headers and footers are kept widgets (kiosk/ui/kept_widgets.py):
their buttons call the app, never a screen's context, so a kept bar holds no visit's data."""
from __future__ import annotations

from kivy.uix.widget import Widget

from kiosk.visit import intents as I
from kiosk.ui import theme as T
from kiosk.ui.screen_context import ScreenContext
from kiosk.ui.widgets import BigButton, Panel, heading_label, text_label

NAV = {"back": ("nav.back", "secondary"), "help": ("nav.help", "secondary"),
       "cancel": ("nav.cancel", "danger"), "next": ("nav.next", "primary"),
       "home": ("ui.home", "primary")}


def screen_title(app, ctx: ScreenContext, snap: I.Snapshot, name: str) -> str:
    title = ctx.t(f"title.{name}") if f"title.{name}" in app.catalog.prompts else ""
    if snap.matter_code and snap.matter_code in app.catalog.matters:
        title = app.catalog.matters[snap.matter_code].name.get(ctx.lang) + \
            (f" · {title}" if title else "")
    return title


def header_bar(app, ctx: ScreenContext) -> Widget:
    """The bar on top of every screen, one per language and text size, kept: only its
    title changes from screen to screen (`header.title.text`)."""
    th = ctx.theme
    bar = Panel(color=T.PRIMARY, size_hint_y=None, height=th.target + 8,
                padding=(8, 4), spacing=10)
    corner = BigButton("", "corner", app.corner_tap, th, kind="primary", size_hint_x=None,
                       width=th.target, height=th.target)
    bar.add_widget(corner)
    bar.title = heading_label(th.title, T.PRIMARY_TEXT, theme=th)
    bar.add_widget(bar.title)
    elder = th.elder
    bar.add_widget(BigButton("♪ " + ctx.t("ui.repeat"), "repeat", app.repeat, th,
                             kind="secondary", size_hint_x=None, width=150 * th.scale,
                             height=th.target, font_size=th.small))
    bar.add_widget(BigButton(ctx.t("ui.elder_off" if elder else "ui.elder_on"), "elder",
                             lambda: app.send(I.SetElderMode(not elder)), th,
                             kind="secondary", size_hint_x=None, width=150 * th.scale,
                             height=th.target, font_size=th.small))
    other = "en" if ctx.lang == "zh" else "zh"      # (no closure over ctx: kept widgets
    bar.add_widget(BigButton("English" if other == "en" else "中文", "language",  # outlive
                             lambda: app.send(I.SetLanguage(other)), th,      # the visit)
                             kind="secondary", size_hint_x=None, width=140 * th.scale,
                             height=th.target, font_size=th.small))
    return bar


def idle_banner(app, ctx: ScreenContext, snap: I.Snapshot):
    """The idle warning with its countdown and "more time", in the header's own space (as
    tall as the header): it covers neither the instruction nor the keypad, and the screen
    below does not move."""
    if snap.idle_countdown is None:
        return None
    th = ctx.theme
    b = Panel(color=T.BANNER, size_hint_y=None, height=th.target + 8, padding=(8, 4),
              spacing=10)
    b.add_widget(heading_label(th.body, T.TEXT, theme=th, text=f"{T.WARN_MARK} " + ctx.t(
        "idle.warning", seconds=snap.idle_countdown)))
    b.add_widget(BigButton(ctx.t("nav.more_time"), "more_time",
                           lambda: app.send(I.MoreTime()), th, kind="ok",
                           size_hint_x=0.35, height=th.target))
    return b


def alert_banners(ctx: ScreenContext, snap: I.Snapshot):
    th = ctx.theme
    out = []
    for alert in snap.alerts:
        b = Panel(color=T.BANNER, size_hint_y=None, height=th.button_height, padding=8)
        b.add_widget(text_label(f"{T.WARN_MARK} {ctx.t(alert)}", th.instruction, T.DANGER,
                                "center", theme=th, bold=True))
        out.append(b)
    return out


def footer_bar(app, ctx: ScreenContext, nav: list[str]) -> Widget:
    th = ctx.theme
    bar = Panel(color=T.PANEL, size_hint_y=None, height=th.button_height + 8, padding=4,
                spacing=12)
    for key in nav:
        label, kind = NAV[key]
        bar.add_widget(BigButton(ctx.t(label), key, lambda key=key: app.navigate(key), th,
                                 kind=kind))
    return bar
