"""Reusable touch widgets: big buttons, wrapped labels, keypads, pinyin keyboard, signature pad,
and a camera preview fed from a background thread.

Every widget a person can touch has an `ident` ("next", "field:mobile", "key:7"...), which
the UI autopilot uses to find and tap it like a finger would.
"""
from __future__ import annotations

import logging
import threading
from typing import Callable

import cv2
import numpy as np
from kivy.clock import Clock
from kivy.graphics import Color, Line, Rectangle
from kivy.graphics.texture import Texture
from kivy.metrics import sp
from kivy.properties import NumericProperty
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.button import Button
from kivy.uix.gridlayout import GridLayout
from kivy.uix.image import Image
from kivy.uix.label import Label
from kivy.uix.scrollview import ScrollView
from kivy.uix.widget import Widget

from devices.line_breaking import break_lines
from kiosk.ui import theme as T

log = logging.getLogger(__name__)
PREVIEW_MAX_WIDTH = 640       # px of camera picture handed to the screen; plenty for a preview


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


def _ignore(*_args) -> None:
    """What a kept keyboard's keys do between two uses."""


class Keypad(GridLayout):
    """Digits (and optionally X, a decimal point, a dash) for numeric fields: three columns
    like a phone, each key at least the theme's target size (15 mm, 20 mm elder)."""

    def __init__(self, on_key: Callable[[str], None], extra: str = "", theme=T.Theme(), **kw):
        keys = list("123456789") + [extra[:1] or "", "0", "←"] + list(extra[1:])
        rows = -(-len(keys) // 3)
        super().__init__(cols=3, spacing=8, size_hint_y=None, row_force_default=True,
                         row_default_height=theme.target,
                         height=rows * theme.target + (rows - 1) * 8, **kw)
        self.on_key = on_key or _ignore   # reassigned when the app reuses it for a field
        for k in keys:
            if not k:
                self.add_widget(Widget())
                continue
            ident = "key:back" if k == "←" else f"key:{k}"
            self.add_widget(BigButton(k, ident, lambda k=k: self.on_key(k), theme,
                                      kind="secondary", font_size=theme.key, size_hint_y=1))

    def reset(self) -> None:
        """Forget the screen it was last used on (the app reuses keypads across screens)."""
        self.on_key = _ignore


class LetterKeyboard(BoxLayout):
    """Letters in alphabetical order (digits first with `digits`), in as many columns as the
    width takes at the theme's target size, so that no key is narrower than 15 mm (20 mm
    elder); with `ime`, typed pinyin shows Chinese candidates to tap, a page of as many as fit.
    As tall as its rows (a narrow column gets more rows: the screen scrolls, keys never shrink).
    """

    LETTERS = "abcdefghijklmnopqrstuvwxyz"

    PAGES = 16                  # candidate pages one can turn through

    def __init__(self, on_text: Callable[[str], None], on_back: Callable[[], None], ime=None,
                 digits: bool = False, theme=T.Theme(), **kw):
        kw.setdefault("size_hint_y", None)
        super().__init__(orientation="vertical", spacing=6, **kw)
        self.ime, self.theme = ime, theme
        self.on_text, self.on_back = on_text or _ignore, on_back or _ignore
        self.typed = ""
        self.page = 0
        self.per_page = 0
        self.candidates = BoxLayout(spacing=6, size_hint_y=None, height=theme.target)
        if ime is not None:         # without an input method the row would only take key height
            self.add_widget(self.candidates)
        keys = FlowGrid(theme.target, theme.target)
        for ch in ("1234567890" if digits else "") + self.LETTERS:
            keys.add_widget(BigButton(ch.upper() if digits else ch, f"key:{ch}",
                                      lambda ch=ch: self._letter(ch), theme, kind="secondary",
                                      font_size=theme.key, size_hint_y=1))
        keys.add_widget(BigButton("←", "key:back", self._back, theme, kind="secondary",
                                  font_size=theme.key, size_hint_y=1))
        if ime is not None:
            keys.add_widget(BigButton("空格 / space", "key:space", lambda: self._commit(" "),
                                      theme, kind="secondary", font_size=theme.small,
                                      size_hint_y=1))
        self.keys = keys            # in a view of their own: a keyboard given less height than
        view = ScrollView(do_scroll_x=False)    # it needs keeps its candidates in sight and
        view.add_widget(keys)                   # scrolls its keys (elder mode's column)
        self.add_widget(view)
        keys.bind(height=self._fit)
        self.candidates.bind(width=self._page_size)
        self._fit()
        self._refresh()

    def _fit(self, *_):
        self.height = self.keys_height + (self.theme.target + self.spacing
                                          if self.ime is not None else 0)

    @property
    def keys_height(self) -> float:
        return self.keys.height

    def _page_size(self, *_):
        """As many candidates a page as fit beside the typed pinyin and the two arrows."""
        th = self.theme
        room = self.candidates.width - 120 - 2 * (th.target + 6)
        per_page = max(1, int(room // (th.target + 6)))
        if per_page != self.per_page:
            self.per_page = per_page
            self._refresh()

    def reset(self) -> None:
        """Forget half-typed pinyin and the screen it was last used on: the keyboard is reused
        for the next field or visitor."""
        self.on_text, self.on_back = _ignore, _ignore
        if self.typed or self.page:         # (every screen change resets every kept keyboard)
            self.typed, self.page = "", 0
            self._refresh()

    def _letter(self, ch: str) -> None:
        if self.ime is None:
            self.on_text(ch.upper())
            return
        self.typed += ch
        self.page = 0
        self._refresh()

    def _back(self) -> None:
        if self.typed:
            self.typed = self.typed[:-1]
            self._refresh()
        else:
            self.on_back()

    def _commit(self, text: str) -> None:
        self.on_text(text)

    def _choose(self, word: str) -> None:
        self.typed = self.ime.consume(self.typed, word)
        self.page = 0
        self.on_text(word)
        self._refresh()

    def _refresh(self) -> None:
        self.candidates.clear_widgets()
        if self.ime is None:
            return
        self.candidates.add_widget(Label(text=self.typed or "拼音", color=T.MUTED,
                                         font_size=self.theme.body, size_hint_x=None, width=120))
        per = max(1, self.per_page)
        words = self.ime.candidates(self.typed, limit=per * self.PAGES) if self.typed else []
        pages = max(1, -(-len(words) // per))
        self.page = min(self.page, pages - 1)
        if self.page > 0:
            self.candidates.add_widget(self._turn("‹", "cand:prev", -1))
        for word in words[self.page * per:(self.page + 1) * per]:
            self.candidates.add_widget(BigButton(word, f"cand:{word}",
                                                 lambda w=word: self._choose(w), self.theme,
                                                 kind="primary", size_hint_y=1))
        if self.page < pages - 1:
            self.candidates.add_widget(self._turn("›", "cand:next", +1))

    def _turn(self, arrow: str, ident: str, step: int) -> BigButton:
        """More candidates: a citizen looking for 试 among the many "shi" must be able to find it."""
        def turn():
            self.page += step
            self._refresh()
        return BigButton(arrow, ident, turn, self.theme, kind="secondary", size_hint_y=1,
                         size_hint_x=None, width=self.theme.target)


class SignaturePad(Widget):
    """Draw with a finger; `strokes` keeps each stroke's points (pad coordinates, origin at the
    pad's bottom left) for `signature_png`, `empty` until touched."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self.ident = "signature"
        self.empty = True
        self.strokes: list[list[tuple[float, float]]] = []
        with self.canvas.before:
            Color(1, 1, 1, 1)
            self._bg = Rectangle(pos=self.pos, size=self.size)
            Color(*T.MUTED)
            self._frame = Line(rectangle=(*self.pos, *self.size), width=1.5)
        self.bind(pos=self._sync, size=self._sync)

    def _sync(self, *_):
        self._bg.pos, self._bg.size = self.pos, self.size
        self._frame.rectangle = (*self.pos, *self.size)

    def on_touch_down(self, touch):
        if not self.collide_point(*touch.pos):
            return False
        with self.canvas:
            Color(0, 0, 0, 1)
            touch.ud["line"] = Line(points=touch.pos, width=2.5)
        touch.ud["stroke"] = [(touch.x - self.x, touch.y - self.y)]
        self.strokes.append(touch.ud["stroke"])
        touch.grab(self)
        self.empty = False
        return True

    def on_touch_move(self, touch):
        if touch.grab_current is self and "line" in touch.ud:
            touch.ud["line"].points += touch.pos
            touch.ud["stroke"].append((touch.x - self.x, touch.y - self.y))
            return True
        return False

    def on_touch_up(self, touch):
        if touch.grab_current is self:
            touch.ungrab(self)
            return True
        return False

    def clear(self) -> None:
        self.canvas.clear()
        self.strokes = []
        self.empty = True

    def signed(self, deliver: Callable[[bytes], None]) -> None:
        """`deliver(png)` with the signature, drawn and encoded off the UI thread (on it, reading
        the canvas back and encoding it held up the screen for 30-50 ms); b"" if unsigned."""
        if self.empty:
            deliver(b"")
            return
        strokes, size = [list(s) for s in self.strokes], (int(self.width), int(self.height))
        threading.Thread(target=lambda: deliver(signature_png(strokes, size)), name="signature",
                         daemon=True).start()


def signature_png(strokes: list[list[tuple[float, float]]], size: tuple[int, int],
                  width_px: int = 3) -> bytes:
    """Black strokes on white, `size` (w, h) px, as drawn (pad coordinates: y grows upwards)."""
    w, h = max(1, size[0]), max(1, size[1])
    image = np.full((h, w), 255, np.uint8)
    for stroke in strokes:
        points = np.array([(x, h - 1 - y) for x, y in stroke], np.float64).round().astype(np.int32)
        if len(points) == 1:
            cv2.circle(image, tuple(int(v) for v in points[0]), width_px // 2 + 1, 0, -1,
                       cv2.LINE_AA)
        else:
            cv2.polylines(image, [points.reshape(-1, 1, 2)], False, 0, width_px, cv2.LINE_AA)
    ok, data = cv2.imencode(".png", image)
    if not ok:
        raise ValueError("signature could not be encoded")
    return data.tobytes()


class CameraPreview(Image):
    """Shows a camera's latest frame; frames are read in a background thread, never on the UI
    thread, and only the newest one is turned into a texture (~10 fps)."""

    def __init__(self, source_read: Callable[[], object], fps: float = 10.0, **kw):
        super().__init__(fit_mode="contain", **kw)
        self.color = (0.16, 0.18, 0.22, 1)      # a dark box, not a white flash, until a frame
        self._read = source_read
        self._interval = 1.0 / fps
        self._stop = threading.Event()
        self._latest = None
        self._overlay: Callable[[object], object] | None = None
        threading.Thread(target=self._grab, name="preview", daemon=True).start()
        self._ev = Clock.schedule_interval(self._show, self._interval)

    def set_overlay(self, fn) -> None:
        self._overlay = fn

    def _grab(self) -> None:
        failed = False
        while not self._stop.wait(self._interval):
            try:
                frame = self._read()
            except Exception as exc:  # an unplugged camera shows the last frame; the session
                if not failed:        # reports it. One log line per preview, not one per frame.
                    log.info("preview frame not read error=%s", type(exc).__name__)
                failed = True
                continue
            if frame is not None and self._overlay is not None:
                frame = self._overlay(frame)
            if frame is not None and frame.shape[1] > PREVIEW_MAX_WIDTH:   # scaled here, so the
                scale = PREVIEW_MAX_WIDTH / frame.shape[1]                 # UI thread uploads a
                frame = cv2.resize(frame, None, fx=scale, fy=scale,        # quarter of the bytes
                                   interpolation=cv2.INTER_AREA)
            self._latest = frame

    def _show(self, *_):
        frame, self._latest = self._latest, None
        if frame is None:
            return
        h, w = frame.shape[:2]
        if self.texture is None or self.texture.size != (w, h):
            self.texture = Texture.create(size=(w, h), colorfmt="bgr")
            self.texture.flip_vertical()
            self.color = (1, 1, 1, 1)
        self.texture.blit_buffer(frame.tobytes(), colorfmt="bgr", bufferfmt="ubyte")
        self.canvas.ask_update()

    def stop(self) -> None:
        self._stop.set()
        self._ev.cancel()
