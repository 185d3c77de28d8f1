"""Drive one whole visit with the numeric keypad alone, as a blind citizen would, and log what
was spoken at each key press (`kiosk run --demo --autopilot CODE --keypad`).

The decisions are the touch autopilot's (`kiosk.ui.autopilot.UiAutopilot`, from the headless
`kiosk.visit.scripted_applicant.ScriptedApplicant`); only the hands differ: a first key press
turns audio-first mode on, and each widget the touch autopilot would tap is reached by pressing
2/4/6/8 — the shortest path through the same focus moves the app makes (`kiosk.ui.keypad.move`)
— then activated with 5. Number fields are typed with the digits, the signature is the keypad
confirmation. No touch event is made; the app counts the touches it sees (`touches`).

`autopilot.json` gets `spoken_log`: one entry per key press {key, screen, spoken: [texts]},
the texts being everything the app asked the speaker to say after that press (screen prompts,
focus announcements with their list counts, typed digits), and `keys` / `touches`.
"""
from __future__ import annotations

import json
import logging
from collections import deque

from kivy.core.window import Window

from kiosk.visit import intents as I
from kiosk.ui import keypad as K
from kiosk.ui.autopilot import UiAutopilot

log = logging.getLogger(__name__)
KEYS = {"2": 258, "4": 260, "5": 261, "6": 262, "8": 264, "0": 256, ".": 266,
        "enter": 271, "*": 268, "+": 270, "-": 269}
DIGIT_KEYS = {str(n): 256 + n for n in range(10)}
DIRECTION_KEYS = {"down": "2", "up": "8", "left": "4", "right": "6"}
MAX_PRESSES_TO_REACH = 400


class KeypadAutopilot(UiAutopilot):
    def __init__(self, app, matter_code: str, *args, **kw):
        super().__init__(app, matter_code, *args, **kw)
        self.spoken_log: list[dict] = [{"key": None, "screen": "attract", "spoken": []}]
        self.presses = 0
        self._reaching: tuple[str, int] | None = None

    def start(self) -> None:
        super().start()
        speaker = self.app.speaker
        if speaker is None:
            raise RuntimeError("the keypad autopilot needs a speaker (a null one with --no-voice)")
        say, say_text = speaker.say, speaker.say_text

        def logged_say(key, params=None, language="zh", interrupt=True):
            utterance = say(key, params, language=language, interrupt=interrupt)
            self._heard(utterance.text)
            return utterance

        def logged_say_text(text, language="zh", cache=False, interrupt=True):
            utterance = say_text(text, language=language, cache=cache, interrupt=interrupt)
            self._heard(utterance.text)
            return utterance
        speaker.say, speaker.say_text = logged_say, logged_say_text

    def _heard(self, text: str) -> None:
        self.spoken_log[-1]["spoken"].append(text)

    # -- the keypad -----------------------------------------------------------------------------
    def press(self, name: str) -> None:
        """One key press and release, as the keypad's HID reports reach Kivy."""
        key = KEYS.get(name) or DIGIT_KEYS[name]
        self.presses += 1
        self.spoken_log.append({"key": name, "screen": self.app.current_screen, "spoken": []})
        char = name if len(name) == 1 else ""
        Window.dispatch("on_key_down", key, 0, char, [])
        Window.dispatch("on_key_up", key, 0)

    def _plan_start(self) -> None:
        self._started = True
        self.actions.append(lambda: self._count_start())
        super()._plan_start()
        self._started = True

    def _count_start(self) -> None:
        self.press("5")             # any key: audio-first mode starts, nothing else happens
        self.sent += 1              # the session handles I.SetAudioFirst
        self.actions.appendleft(lambda: self.press("+"))    # a little louder, please

    def tap(self, ident: str, scrolled: int = 0) -> bool:
        """Reach `ident` with the arrow digits, then activate it with 5 (one press a step)."""
        nav = self.app.focus
        items = nav.items()
        target = next((i for i, w in enumerate(items) if getattr(w, "ident", None) == ident
                       and not getattr(w, "disabled", False)), None)
        if target is None:
            log.warning("keypad autopilot: no %s on screen %s; planning again", ident,
                        self.app.current_screen)
            self.actions.clear()
            self._reaching = None
            return False
        current = nav.index(items)
        if current == target:
            self._reaching = None
            self.press("5")
            return True
        presses = self._reaching[1] + 1 if self._reaching and self._reaching[0] == ident else 1
        if presses > MAX_PRESSES_TO_REACH:
            log.warning("keypad autopilot: cannot reach %s", ident)
            self.actions.clear()
            self._reaching = None
            return False
        self._reaching = (ident, presses)
        first = path_to(nav.rects(items), current, target)
        self.press(DIRECTION_KEYS[first])
        self.actions.appendleft(lambda: self.tap(ident))
        return True

    def _plan(self, intent, snap: I.Snapshot) -> None:
        if isinstance(intent, I.Sign):          # audio-first: confirmed on the keypad
            self.actions.append(lambda: self._count(self.tap("confirm_keypad")))
            return
        super()._plan(intent, snap)

    def _plan_field(self, intent: I.EnterField, snap: I.Snapshot) -> None:
        field = next(f for f in snap.fields if f.key == intent.key)
        from kiosk.ui.screens.form import keyboard_spec
        if field.type in ("choice", "yes_no") or keyboard_spec(field.type, False)[0] != "keypad":
            super()._plan_field(intent, snap)       # choices and keyboards: by focus
            return
        add = self.actions.append
        add(lambda: self.tap(f"field:{intent.key}" if self.find(f"field:{intent.key}")
                             else f"question:{intent.key}"))
        for ch in intent.value:
            add(lambda ch=ch: self.press(ch if ch.isdigit() else "."))
        add(lambda: self._count(self._press_counted("enter")))

    def _press_counted(self, name: str) -> bool:
        self.press(name)
        return True

    def _scribble(self) -> None:
        raise AssertionError("the keypad autopilot never draws")

    # -- report ---------------------------------------------------------------------------------
    def _report(self) -> None:
        super()._report()
        if self.shots_dir is None:
            return
        path = self.shots_dir / "autopilot.json"
        report = json.loads(path.read_text(encoding="utf-8"))
        report.update(mode="keypad", keys=self.presses, touches=self.app.focus.touches,
                      spoken_log=[e for e in self.spoken_log if e["key"] or e["spoken"]])
        path.write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")


def path_to(rects: list[K.Rect], start: int | None, target: int) -> str:
    """The first direction of the shortest sequence of focus moves from `start` to `target`
    (breadth first over `kiosk.ui.keypad.move`)."""
    seen = {start}
    queue: deque = deque([(start, None)])
    while queue:
        node, first = queue.popleft()
        for direction in ("down", "right", "up", "left"):
            nxt = K.move(rects, node, direction)
            if nxt == target:
                return first or direction
            if nxt not in seen:
                seen.add(nxt)
                queue.append((nxt, first or direction))
    return "down"
