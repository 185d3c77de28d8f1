"""Audio-first mode: a way through a visit without sight and without touch.

A press on the USB numeric keypad (or headphones plugged into a jack that reports it) turns
audio-first mode on for the visit (`I.SetAudioFirst`; the session forgets it when the visit is
wiped, and so does the speaker's volume). Then:

- Every element of the screen a person could touch, and every text on it, can be focused:
  2/8/4/6 or the arrows move (`kiosk.ui.keypad.move`: the nearest element that way, else the
  next/previous in reading order), and the focused element is spoken: its text, "button", a
  disabled one as unavailable, a selected choice as selected, and its place in its list
  ("第2项，共5项" / "item 2 of 5": elements whose idents share a prefix, as `matter:`,
  `choice:`, `capture:`). The content comes first, then the bottom bar, then the header.
- 5 or Enter activates the focused element (as its on-screen button would), 0 says it again
  (or the screen's prompt, when nothing is focused), * goes back, # asks for help, + and -
  change the volume.
- A number field (mobile, ID number, date, amount) is typed with the digits once chosen; a
  choice field moves focus onto its choices; a text field onto the on-screen keyboard, whose
  keys and pinyin candidates are focused and chosen like any button.
- A touch on the screen speaks the touched element and does nothing else; touching the same
  element again within `TOUCH_AGAIN_S` seconds uses it.
- The commitment screen reads the commitment and offers "按5确认签字" instead of the
  signature pad; the packet records the confirmation (commitment.method = voice_keypad).

The focused element is outlined on the screen, for anyone helping who can see. What is said
of it is worded in kiosk/ui/focus_speech.py.
"""
from __future__ import annotations

import logging
import time

from kivy.clock import Clock
from kivy.core.window import Window
from kivy.graphics import Color, Line
from kivy.uix.button import Button
from kivy.uix.label import Label

from kiosk.visit import intents as I
from kiosk.ui import keypad as K
from kiosk.ui.focus_speech import KEY_WORDS, FocusSpeech
from kiosk.ui.screen_context import ScreenContext
from kiosk.ui.widgets import scroll_view_around

log = logging.getLogger(__name__)
TOUCH_AGAIN_S = 5.0          # a second touch on the same element within this uses it
START_GRACE_S = 3.0          # audio-first counts as on while the session takes the intent
KEEP_ALIVE_S = 5.0           # key presses tell the session someone is there, this often
VOLUME_STEP = 0.1
NOT_FOCUSED = ("corner",)    # the technician's hidden corner
NO_KEYS_ON = ("maintenance", "progress")   # the technician's screen; the QR scanner types there
FOCUS_RING = (1, 0.75, 0, 1)   # amber outline around the focused element


class FocusNavigator:
    """Keys and touches in audio-first mode, for one `KioskApp` (see the module docstring)."""

    def __init__(self, app, jack=None):
        self.app = app
        self.jack = jack                  # a kiosk.ui.jack.JackSensor, or None
        self.speech = FocusSpeech(app)    # what is said, and saying it
        self.focused: str | None = None   # ident (or "text:N") of the focused element
        self.typing: str | None = None    # the key of the number field being typed
        self.touches = 0                  # touches seen in audio-first mode
        self.keys = 0
        self._screen = ""
        self._requested = 0.0
        self._alive_sent = 0.0
        self._touched: tuple[str, float] | None = None
        self._after_render: str | None = None   # focus the first element with this prefix
        self._described = ""              # what was said of the focused element
        self._outline: Line | None = None
        self._watcher = None

    # -- wiring ---------------------------------------------------------------------------------
    def install(self) -> "FocusNavigator":
        Window.bind(on_key_down=self._on_key_down, on_touch_down=self._on_touch_down)
        self.app.rendered_listeners.append(self._rendered)
        if self.jack is not None:
            from kiosk.ui.jack import JackWatcher
            self._watcher = JackWatcher(self.jack, lambda: Clock.schedule_once(
                lambda _dt: self.start("jack"))).start()
        return self

    def uninstall(self) -> None:
        Window.unbind(on_key_down=self._on_key_down, on_touch_down=self._on_touch_down)
        if self._watcher is not None:
            self._watcher.stop()

    @property
    def on(self) -> bool:
        snap = self.app.snapshot
        return bool(snap is not None and snap.audio_first) or \
            time.monotonic() - self._requested < START_GRACE_S

    def start(self, how: str) -> None:
        """Turn audio-first mode on (a key, the headphone jack) and say how it works."""
        if self.on or self.app.current_screen in NO_KEYS_ON:
            return
        log.info("audio-first mode started by=%s", how)
        self._requested = time.monotonic()
        self.focused, self.typing = None, None
        self.app.send(I.SetAudioFirst(True))
        self.speech.say_key("keypad.started")

    # -- what can be focused --------------------------------------------------------------------
    def items(self) -> list:
        """The screen's focusable elements in reading order: the content, the bottom bar, then
        the header's buttons."""
        root = self.app.root_box
        parts = list(reversed(root.children))
        if len(parts) < 2:
            return []
        header, rest = parts[0], parts[1:]
        out = []
        for part in rest + [header]:
            for w in part.walk(restrict=True):
                if self._focusable(w, in_header=part is header):
                    out.append(w)
        return out

    @staticmethod
    def _focusable(w, in_header: bool) -> bool:
        if w.width <= 1 or w.height <= 1 or getattr(w, "opacity", 1) == 0:
            return False
        ident = getattr(w, "ident", None)
        if isinstance(w, Button):
            return bool(ident) and ident not in NOT_FOCUSED
        if isinstance(w, Label) and not in_header and not isinstance(w.parent, Button):
            return bool(w.text.strip()) and w.text.strip() not in ("…", "拼音")
        return False

    @staticmethod
    def key_of(w, i: int) -> str:
        return getattr(w, "ident", None) or f"text:{i}:{w.text[:20]}"

    @staticmethod
    def rects(items: list) -> list[K.Rect]:
        """Where the elements are, as if every list were scrolled to its top (so moving focus,
        which scrolls, does not change where anything is)."""
        out = []
        for w in items:
            x, y = w.to_window(w.x, w.y)
            view = scroll_view_around(w)
            if view is not None and view.children:
                content = view.children[0]
                top = content.to_window(content.x, content.top)[1]
                y -= top - view.to_window(view.x, view.top)[1]
            out.append((x, y, w.width, w.height))
        return out

    def index(self, items: list) -> int | None:
        for i, w in enumerate(items):
            if self.key_of(w, i) == self.focused:
                return i
        return None

    # -- focus ----------------------------------------------------------------------------------
    def focus(self, items: list, i: int | None, speak: bool = True) -> None:
        if i is None:
            self.focused = None
            self._draw_outline(None)
            return
        w = items[i]
        self.focused = self.key_of(w, i)
        view = scroll_view_around(w)
        if view is not None:
            view.scroll_to(w, padding=10, animate=False)
        Clock.schedule_once(lambda _dt: self._draw_outline(w))
        self._described = self.speech.describe(items, i)
        if speak:
            self.speech.say(self._described)

    def _draw_outline(self, w) -> None:
        canvas = self.app.root_box.canvas.after
        if self._outline is None:
            with canvas:
                Color(*FOCUS_RING)
                self._outline = Line(width=4)
        if w is None or w.get_root_window() is None:
            self._outline.rectangle = (0, 0, 0, 0)
            return
        x, y = w.to_window(w.x, w.y)
        x, y = self.app.root_box.to_widget(x, y)
        self._outline.rectangle = (x - 3, y - 3, w.width + 6, w.height + 6)

    def _rendered(self, snap, name: str) -> None:
        """After every redraw: a new screen starts with nothing focused (its prompt is being
        said); the same screen keeps the focused element, or focuses what activating asked."""
        if not snap.audio_first and time.monotonic() - self._requested >= START_GRACE_S:
            if self.focused is not None or self.typing is not None:
                self.focused, self.typing = None, None     # the visit ended: mode off
                self._draw_outline(None)
            self._screen = name
            return
        items = self.items()
        if name != self._screen:
            self._screen, self.focused, self.typing = name, None, None
            self._draw_outline(None)
            if name == "commitment" and snap.matter_code:
                text = self.app.catalog.get(snap.matter_code).commitment.get(self.speech.lang)
                self.speech.say_key("keypad.commitment", {"text": text}, interrupt=False)
            return
        if self._after_render is not None:
            prefix, self._after_render = self._after_render, None
            idents = [getattr(w, "ident", None) or "" for w in items]
            if prefix.startswith("field:") and prefix not in idents:    # elder mode's chips
                prefix = "question:" + prefix.split(":", 1)[1]
            first = idents.index(prefix) if prefix in idents else next(
                (i for i, ident in enumerate(idents) if ident.startswith(prefix)), None)
            if first is not None:
                self.focus(items, first)
                return
        i = self.index(items)
        if i is None and self.focused is not None:
            i = _same_thing(items, self.focused)    # "capture:x" became "retake:x"
            if i is not None:
                self.focus(items, i)
                return
            self.focused = None
        self._draw_outline(items[i] if i is not None else None)
        if i is not None and self.typing is None and not snap.busy:
            said = self.speech.describe(items, i)
            if said != self._described:     # it changed under focus (a page captured)
                self._described = said
                self.speech.say(said, interrupt=False)

    # -- keys -----------------------------------------------------------------------------------
    def _on_key_down(self, _window, key, _scancode=None, codepoint=None, _modifiers=None):
        if self.app.current_screen in NO_KEYS_ON or self.app.snapshot is None:
            return False
        action = K.action_for(key, codepoint, typing=self.typing is not None)
        if action is None:
            return False
        self.keys += 1
        if not self.on:
            self.start("keypad")
            return True
        now = time.monotonic()
        if now - self._alive_sent >= KEEP_ALIVE_S:
            self._alive_sent = now
            self.app.session.keep_alive()       # listening is not idling
        self.act(action)
        return True

    def act(self, action: K.Action) -> None:
        name = action.name
        items = self.items()
        current = self.index(items)
        if name in ("up", "down", "left", "right"):
            self.typing = None
            target = K.move(self.rects(items), current, name)
            self.focus(items, target)
        elif name == "activate":
            self._activate(items, current)
        elif name == "repeat":
            if current is not None:
                self.speech.say(self.speech.describe(items, current))
            else:
                self.app.repeat()
        elif name == "back":
            self._press("back") or self._browse_back() or self.speech.say_key("nav.back_not_here")
        elif name == "help":
            self._press("help") or self.speech.say_key(
                "ui.phone", {"phone": self.app.kiosk_config.site.phone})
        elif name in ("volume_up", "volume_down"):
            self._volume(VOLUME_STEP if name == "volume_up" else -VOLUME_STEP)
        else:
            self._type(action)

    def _activate(self, items: list, i: int | None) -> None:
        if i is None:
            self.speech.say_key("keypad.start_here")
            return
        w = items[i]
        if not isinstance(w, Button):
            self.speech.say(self.speech.describe(items, i))
            return
        if w.disabled:
            self.speech.say(self.speech.describe(items, i))
            return
        field = self.speech.field_of(w.ident)
        editing = self.app.form_state.get("editing")
        if w.ident.startswith("choice:") and editing:
            self._after_render = f"field:{editing}"     # back on the question, answered
        if field is not None:           # where focus goes once the field's editor is drawn
            from kiosk.ui.screens.form import keyboard_spec
            if field.type in ("choice", "yes_no"):
                self._after_render = "choice:"
            elif keyboard_spec(field.type, False)[0] == "keypad":
                self.typing = field.key
            else:
                self._after_render = "key:"
        w.trigger_action(0)
        if w.ident.startswith(("key:", "cand:")) and w.ident not in KEY_WORDS:
            self.speech.say(self.speech.typed_echo(w))   # a letter, or the word chosen and the text
        if self.typing is not None and field is not None:
            label = field.label_en if self.speech.lang == "en" else field.label_zh
            self.speech.say_key("keypad.typing", {"label": label})

    def _press(self, ident: str) -> bool:
        for w in self.items():
            if getattr(w, "ident", None) == ident and not w.disabled:
                w.trigger_action(0)
                return True
        return False

    def _browse_back(self) -> bool:
        if self.app.current_screen != "browse":
            return False
        self.app.browse_state = {}
        self.app.rerender()
        return True

    def _volume(self, step: float) -> None:
        speaker = self.app.speaker
        if speaker is None:
            return
        volume = round(min(1.0, max(0.1, speaker.volume + step)), 2)
        speaker.set_volume(volume)
        self.speech.say_key("keypad.volume", {"level": str(round(volume * 10))})

    def _type(self, action: K.Action) -> None:
        """Typing a number field with the digits (and "." for its extra character)."""
        from kiosk.ui.screens.form import KEYPAD_EXTRA
        field = self.speech.field_of(f"field:{self.typing}")
        if field is None or self.app.snapshot is None:
            self.typing = None
            return
        ctx = ScreenContext(self.app, self.app.snapshot)
        draft = self.app.form_state.get("draft") or ""
        if action.name == "type":
            ctx.type_draft(draft + action.char)
            self.speech.say(action.char)
        elif action.name == "extra":
            extra = KEYPAD_EXTRA.get(field.type, "")[:1]
            if extra:
                ctx.type_draft(draft + extra)
                self.speech.say(extra)
        elif action.name == "delete":
            ctx.type_draft(draft[:-1])
            self.speech.say_key("keypad.deleted")
        elif action.name == "confirm":
            key, self.typing = self.typing, None
            if draft:
                self.speech.say_key("keypad.typed", {"text": " ".join(draft)})
            else:
                self.speech.say_key("keypad.nothing_typed")
            ctx.confirm_field(key, draft)

    # -- touches --------------------------------------------------------------------------------
    def _on_touch_down(self, _window, touch) -> bool:
        """In audio-first mode the first touch on an element says what it is; a second touch
        on it within TOUCH_AGAIN_S uses it."""
        if not self.on or self.app.current_screen in NO_KEYS_ON:
            return False
        self.touches += 1
        items = self.items()
        hit = None
        for i, w in enumerate(items):
            x, y = w.to_window(w.x, w.y)
            if x <= touch.x <= x + w.width and y <= touch.y <= y + w.height:
                view = scroll_view_around(w)
                if view is None or view.collide_point(*view.to_widget(touch.x, touch.y)):
                    hit = i
        if hit is None:
            return False
        key, now = self.key_of(items[hit], hit), time.monotonic()
        if self._touched is not None and self._touched[0] == key and \
                now - self._touched[1] <= TOUCH_AGAIN_S and isinstance(items[hit], Button):
            self._touched = None
            return False            # the second touch: the button acts as usual
        self._touched = (key, now)
        self.focus(items, hit, speak=False)
        text = self.speech.describe(items, hit)
        if isinstance(items[hit], Button) and not items[hit].disabled:
            text += self.speech.sep(full_stop=True) + self.speech.t("keypad.touch_again")
        self.speech.say(text)
        return True


def _same_thing(items: list, ident: str) -> int | None:
    """The element that took the place of `ident` (another action on the same material)."""
    if ":" not in ident or ident.startswith("text:"):
        return None
    thing = ident.split(":", 1)[1]
    return next((i for i, w in enumerate(items)
                 if (getattr(w, "ident", None) or "").split(":", 1)[-1] == thing
                 and ":" in (getattr(w, "ident", None) or "")), None)
