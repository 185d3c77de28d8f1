"""The on-screen keyboards: a numeric keypad, and letters with pinyin candidates (an input
method given) or capital letters and digits. Each key is at least the theme's target size."""
from __future__ import annotations

from typing import Callable

from kivy.uix.boxlayout import BoxLayout
from kivy.uix.gridlayout import GridLayout
from kivy.uix.label import Label
from kivy.uix.scrollview import ScrollView
from kivy.uix.widget import Widget

from kiosk.ui import theme as T
from kiosk.ui.widgets import BigButton, FlowGrid


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
