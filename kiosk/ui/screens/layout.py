"""What every screen is built from: a column with the screen's padding, a scroll view, a stack
of widgets as tall as they are together, the screen's instruction and its problem line."""
from __future__ import annotations

from kivy.uix.boxlayout import BoxLayout
from kivy.uix.gridlayout import GridLayout
from kivy.uix.scrollview import ScrollView
from kivy.uix.widget import Widget

from kiosk.ui import theme as T
from kiosk.ui.widgets import text_label


def column(ctx, *widgets):
    box = BoxLayout(orientation="vertical", spacing=14, padding=ctx.theme.padding)
    for w in widgets:
        if w is not None:
            box.add_widget(w)
    return box


def scroll(widget):
    sv = ScrollView(do_scroll_x=False)
    sv.add_widget(widget)
    return sv


def stack(*widgets, spacing=10):
    """Widgets of fixed or text height one above the other, as tall as they are together: put
    in a scroll view, a column with more than the screen holds scrolls instead of squeezing."""
    box = GridLayout(cols=1, spacing=spacing, size_hint_y=None)
    box.bind(minimum_height=box.setter("height"))
    for w in widgets:
        if w is not None:
            box.add_widget(w)
    return box


def instruction(ctx, snap):
    th = ctx.theme
    return text_label(ctx.t(snap.prompt_key), th.instruction, T.PRIMARY, theme=th, bold=True)


def problem(ctx, snap, key=None):
    key = key or snap.reason_key
    if not key:
        return Widget(size_hint_y=None, height=4)
    return text_label(f"{T.WARN_MARK} {ctx.t(key, **dict(snap.params))}", ctx.theme.body,
                      T.WARN, theme=ctx.theme, bold=True)
