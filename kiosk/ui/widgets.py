"""The basic touch widgets: panels, big buttons, labels that wrap by Chinese rules, headings
that fit their bar, the framed field being typed into, and a grid that flows onto more rows.

Every widget a person can touch has an `ident` ("next", "field:mobile", "key:7"...), which
the UI autopilot uses to find and tap it like a finger would. The keyboards are in
kiosk/ui/keyboards.py, the signature pad in kiosk/ui/signature_pad.py, the camera preview in
kiosk/ui/camera_preview.py.
"""
from __future__ import annotations

from typing import Callable

from kivy.clock import Clock
from kivy.graphics import Color, Line, Rectangle
from kivy.metrics import sp
from kivy.properties import NumericProperty
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.button import Button
from kivy.uix.gridlayout import GridLayout
from kivy.uix.label import Label
from kivy.uix.scrollview import ScrollView

from devices.line_breaking import break_lines
from kiosk.ui import theme as T


class Panel(BoxLayout):
    """A BoxLayout with a solid background colour."""

    def __init__(self, color=T.PANEL, **kw):
        super().__init__(**kw)
        with self.canvas.before:
            self._c = Color(*color)
            self._r = Rectangle(pos=self.pos, size=self.size)
        self.bind(pos=self._sync, size=self._sync)

    def set_color(self, color) -> None:
        self._c.rgba = color

    def _sync(self, *_):
        self._r.pos, self._r.size = self.pos, self.size


class WrapsToWidth:
    """For a Label (or Button): the text wraps to the widget's width (less `wrap_margin`), its
    lines broken by Chinese rules (devices.line_breaking) before Kivy lays it out, so Kivy's
    own wrapping (which would start a line with "，") has nothing left to do; `text` stays the
    text as given.

    The text is wrapped (and rendered) in the frame after the layout settled on a width, not
    at each width a layout pass tries on the way: a kept keyboard moved into a new screen went
    through two or three widths in one frame, and each of its 30-odd keys rendered its text at
    every one of them. The frame after is the one FramePacer keeps for rendering text anyway."""

    wrap_margin = 0

    def __init__(self, **kw):
        super().__init__(**kw)
        self._rewrap = Clock.create_trigger(self._wrap_to_width, 0)
        self.bind(width=lambda *_: self._rewrap())
        self._rewrap()

    def _wrap_to_width(self, *_args) -> None:
        width = max(1, self.width - self.wrap_margin)
        if self.text_size[0] != width:
            self.text_size = (width, None)

    def texture_update(self, *args):
        width = self.text_size[0]
        if width is None:
            return                      # not laid out yet
        if self.text and not self.shorten and not self.markup:
            core = self._label
            core.resolve_font_name()
            core.text = break_lines(self.text, width, core.get_extents)
        super().texture_update(*args)


class WrappedLabel(WrapsToWidth, Label):
    pass


class HeadingLabel(WrappedLabel):
    """A heading in a box of fixed height (the header bar's title, "高龄津贴申请 · 放置身份证"):
    wrapped by Chinese rules like every label, and set smaller, down to `min_font_size`, when
    at its own size it needs more lines than the box holds. Never cut off, never shortened with
    an ellipsis (which showed "高龄津贴申…置身份证" in elder mode). The size is chosen by
    measuring (Kivy stacks lines as: first line's height + each further line's height times
    `line_height`, or each line's height times `line_height`; the larger is taken), so the text
    is rendered once."""

    min_font_size = NumericProperty(12)

    def __init__(self, **kw):
        super().__init__(**kw)
        self.bind(height=lambda *_: self._trigger_texture())

    def texture_update(self, *args):
        width = self.text_size[0]
        if width is not None and self.text:
            self._label.options["font_size"] = self._fitting_size(width)
        super().texture_update(*args)

    def _fitting_size(self, width: float) -> float:
        core = self._label
        core.resolve_font_name()
        size = self.font_size
        while size > self.min_font_size:
            core.options["font_size"] = size
            lines = break_lines(self.text, width, core.get_extents).count("\n") + 1
            line = core.get_extents(" ")[1]
            spaced = int(line * self.line_height)   # (Kivy spaces the first line too, at times)
            if max(line + (lines - 1) * spaced, lines * spaced) <= self.height:
                break
            size = max(self.min_font_size, size - 2)
        return size


class BigButton(WrapsToWidth, Button):
    """A button a finger can hit. An unavailable (disabled) one keeps its text readable (TEXT
    on DISABLED, 7:1 and more) and says so by its shape: a dashed outline instead of a fill
    colour alone."""

    wrap_margin = 16

    def __init__(self, text: str, ident: str, on_tap: Callable[[], None] | None = None,
                 theme: T.Theme = T.Theme(), kind: str = "primary", **kw):
        colors = {"primary": (T.PRIMARY, T.PRIMARY_TEXT), "secondary": (T.SECONDARY, T.TEXT),
                  "danger": (T.DANGER, T.PRIMARY_TEXT), "ok": (T.OK, T.PRIMARY_TEXT)}
        bg, fg = colors[kind]
        self._enabled_bg = bg
        kw.setdefault("size_hint_y", None)
        kw.setdefault("height", theme.button_height)
        disabled = kw.pop("disabled", False)
        super().__init__(text=text, font_size=kw.pop("font_size", theme.body), color=fg,
                         disabled_color=T.TEXT, background_normal="",
                         background_disabled_normal="", background_color=bg,
                         halign="center", valign="middle", **kw)
        with self.canvas.after:
            self._outline_colour = Color(*T.MUTED[:3], 0)
            self._outline = [Line(width=1, dash_length=10, dash_offset=6) for _ in range(3)]
        self.bind(pos=self._show_state, size=self._show_state, disabled=self._show_state)
        self.disabled = disabled
        self._show_state()
        self.ident = ident
        if on_tap:
            self.bind(on_release=lambda *_: on_tap())

    def _show_state(self, *_):
        self.background_color = T.DISABLED if self.disabled else self._enabled_bg
        self._outline_colour.a = 1 if self.disabled else 0
        for inset, line in enumerate(self._outline, 2):     # three 1-px dashed rectangles:
            line.rectangle = (self.x + inset, self.y + inset,  # a dashed line 3 px thick
                              max(0, self.width - 2 * inset), max(0, self.height - 2 * inset))


class FieldBox(BoxLayout):
    """The field being typed into: white, framed by a thick PRIMARY line (its shape says
    "this is where the keys type", not its colour alone)."""

    def __init__(self, **kw):
        super().__init__(**kw)
        with self.canvas.before:
            Color(*T.PANEL)
            self._bg = Rectangle(pos=self.pos, size=self.size)
            Color(*T.PRIMARY)
            self._frame = Line(rectangle=(*self.pos, *self.size), width=3)
        self.bind(pos=self._sync, size=self._sync)

    def _sync(self, *_):
        self._bg.pos, self._bg.size = self.pos, self.size
        self._frame.rectangle = (self.x + 2, self.y + 2, self.width - 4, self.height - 4)


def marked(text: str, selected: bool) -> str:
    """`text` with the selected mark (▶) when it is the selected / active / edited one: the
    state is never shown by colour alone."""
    return f"{T.SELECTED_MARK} {text}" if selected else text


class FlowGrid(GridLayout):
    """Buttons in as many columns as fit the width at `item_width` or more each, wrapping onto
    more rows rather than shrinking (a keyboard on a narrow column, twenty question chips);
    rows `row_height` high; the grid is as tall as its rows."""

    def __init__(self, item_width: float, row_height: float, **kw):
        kw.setdefault("spacing", 6)
        super().__init__(cols=1, size_hint_y=None, row_default_height=row_height,
                         row_force_default=True, **kw)
        self.item_width = item_width
        self.bind(minimum_height=self.setter("height"), width=self._reflow)

    def _reflow(self, *_):
        space = self.spacing[0] if isinstance(self.spacing, (list, tuple)) else self.spacing
        inner = self.width - self.padding[0] - self.padding[2]
        self.cols = max(1, int((inner + space) // (self.item_width + space)))


def text_label(text: str, font_size: str, color=T.TEXT, halign: str = "left", bold=False,
               theme: T.Theme = T.Theme(), **kw) -> Label:
    """A label that wraps to its width and grows to its text's height."""
    lbl = WrappedLabel(text=text, font_size=font_size, color=color, halign=halign, valign="top",
                       bold=bold, size_hint_y=None, line_height=theme.line_height, **kw)
    lbl.bind(texture_size=lambda w, v: setattr(w, "height", v[1] + 8))
    return lbl


def heading_label(font_size: str, color=T.TEXT, theme: T.Theme = T.Theme(), **kw) -> Label:
    """A heading that fills the height it is given (see HeadingLabel), centred on it."""
    return HeadingLabel(text=kw.pop("text", ""), font_size=font_size, color=color,
                        min_font_size=sp(theme.heading_min), valign="middle", bold=True,
                        line_height=theme.heading_line_height, **kw)


def scroll_view_around(w):
    """The scroll view `w` is in, or None."""
    parent = w.parent
    while parent is not None and not isinstance(parent, ScrollView):
        if parent.parent is parent:
            return None         # the window is its own parent: no scroll view around w
        parent = parent.parent
    return parent
