"""What audio-first mode says of the screen (kiosk/ui/focus.py moves the focus): the focused
element's text, "button", a disabled one as unavailable, a selected choice as selected, the
texts in its row, what a numbered chip stands for, a field's error, and its place in its list
("第2项，共5项" / "item 2 of 5": elements whose idents share a prefix, as `matter:`, `choice:`,
`capture:`); what a key of the on-screen keyboard typed. Marks and line breaks become pauses.
"""
from __future__ import annotations

from kivy.uix.button import Button
from kivy.uix.label import Label

from kiosk.ui import keypad as K
from kiosk.ui import theme as T

KEY_WORDS = {"key:back": "keypad.key_delete", "cand:next": "keypad.page_next",
             "cand:prev": "keypad.page_prev"}     # keys whose face is a symbol
LIST_ALIASES = {"closed": "matter", "question": "field"}
UNCOUNTED = ("key",)         # the keyboard's keys are found by where they are, not counted
SELECTED_MARK = getattr(T, "SELECTED_MARK", "▶")   # the chosen tab, choice, question


def spoken_marks(text: str, sep: str = "，") -> str:
    """Screen text as it is read: the marks and line breaks become pauses."""
    for mark in (T.OK_MARK, T.WARN_MARK, T.BAD_MARK, SELECTED_MARK, "♪", "★", "⬇", "—"):
        text = text.replace(mark, " ")
    return sep.join(part.strip() for part in text.splitlines() if part.strip())


class FocusSpeech:
    """The words and the voice of audio-first mode, for one `KioskApp`."""

    def __init__(self, app):
        self.app = app

    @property
    def lang(self) -> str:
        snap = self.app.snapshot
        return snap.language if snap is not None else "zh"

    def t(self, key: str, **params) -> str:
        return self.app.text(key, self.lang, **params)

    def say_key(self, key: str, params: dict | None = None, interrupt: bool = True) -> None:
        if self.app.speaker is not None:
            self.app.speaker.say(key, params, language=self.lang, interrupt=interrupt)

    def say(self, text: str, interrupt: bool = True) -> None:
        if self.app.speaker is not None and text.strip():
            self.app.speaker.say_text(text, language=self.lang, interrupt=interrupt)

    def describe(self, items: list, i: int) -> str:
        """What is said when element `i` of `items` gets focus."""
        w = items[i]
        words = KEY_WORDS.get(getattr(w, "ident", None) or "")
        text = self.t(words) if words else getattr(w, "spoken", None) or w.text
        parts = [spoken_marks(text, self.sep())] + self._chip_words(getattr(w, "ident", None))
        if isinstance(w, Button):
            if w.parent is not self.app.root_box.children[-1]:     # not the header's buttons
                parts[:0] = [spoken_marks(label, self.sep()) for label in _row_labels(w)]
            parts.append(self.t("keypad.button"))
            if w.disabled:
                parts.append(self.t("keypad.unavailable"))
            elif w.text.lstrip().startswith(SELECTED_MARK):
                parts.append(self.t("keypad.selected"))
        field = self.field_of(getattr(w, "ident", None) or "")
        if field is not None and field.error_key:
            parts.append(self.t(field.error_key))
        where = K.list_position(i, self._group(items, i))
        if where is not None:
            parts.append(self.t("keypad.item_of", n=where[0], total=where[1]))
        return self.sep().join(p for p in parts if p)

    def sep(self, full_stop: bool = False) -> str:
        if self.lang == "en":
            return ". " if full_stop else ", "
        return "。" if full_stop else "，"

    def _group(self, items: list, i: int) -> list[int]:
        prefix = _list_prefix(getattr(items[i], "ident", None))
        if prefix is None:
            return []
        return [j for j, w in enumerate(items) if _list_prefix(getattr(w, "ident", None)) == prefix]

    def _chip_words(self, ident: str | None) -> list[str]:
        """A numbered chip (elder mode's "1 ✓" for a question or a material) also says what it
        stands for: the question and its answer, the material."""
        snap, en = self.app.snapshot, self.lang == "en"
        if not ident or snap is None:
            return []
        if ident.startswith("question:"):
            f = self.field_of(ident)
            if f is None:
                return []
            from kiosk.ui.screens.form import YES_NO
            shown = next(((en_ if en else zh) for code, zh, en_ in (f.choices or YES_NO)
                          if code == f.value), f.value) if f.type in ("choice", "yes_no") \
                else f.value
            return [f.label_en if en else f.label_zh] + ([shown] if shown else [])
        if ident.startswith("material:"):
            code = ident.split(":", 1)[1]
            return [m.name_en if en else m.name_zh for m in snap.materials if m.code == code]
        return []

    def field_of(self, ident: str):
        snap = self.app.snapshot
        if snap is None or not ident.startswith(("field:", "question:")):
            return None
        key = ident.split(":", 1)[1]
        return next((f for f in snap.fields if f.key == key), None)

    def typed_echo(self, key) -> str:
        """What a key of the on-screen keyboard typed: the letter, or the word chosen and the
        whole text so far."""
        if key.ident.startswith("key:"):
            return key.text
        draft = self.app.form_state.get("draft") or ""
        return self.sep().join((key.text, self.t("keypad.typed", text=draft))) if draft \
            else key.text


def _row_labels(button) -> list[str]:
    """The texts in the same row as `button` (a material's name and state beside its "capture"
    button): said first, or the button alone would not say what it is for."""
    row = button.parent
    if row is None or getattr(row, "orientation", None) != "horizontal":
        return []
    return [c.text for c in reversed(row.children)
            if isinstance(c, Label) and not isinstance(c, Button) and c.text.strip()]


def _list_prefix(ident: str | None) -> str | None:
    if not ident or ":" not in ident:
        return None
    prefix = ident.split(":", 1)[0]
    prefix = LIST_ALIASES.get(prefix, prefix)
    return None if prefix in UNCOUNTED else prefix

