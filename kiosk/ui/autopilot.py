"""Drive one whole visit through the real UI with simulated touches, saving every screen.

The decisions come from the headless `kiosk.autopilot.Autopilot` (what a citizen would do on
each snapshot); here each decision becomes taps on the widgets a finger would touch — matter
buttons, the keypad, pinyin candidates, the signature pad — found by their `ident`, scrolled
into view and touched at their centre with real touch events. A PNG of every new screen is
saved. `result` is set when the visit ends: the exit code is 0 only if a receipt was printed
(or the matter needs none) and the visit completed.
"""
from __future__ import annotations

import logging
from collections import deque
from pathlib import Path

from kivy.clock import Clock
from kivy.core.window import Window
from kivy.tests.common import UnitTestTouch
from kivy.uix.scrollview import ScrollView
from pypinyin import lazy_pinyin

from kiosk import intents as I
from kiosk.autopilot import Autopilot

log = logging.getLogger(__name__)
STEP_S = 0.12
LIVE_PREVIEW_SCREENS = {"face": 2.5, "materials": 1.2}   # seconds before the screenshot


class UiAutopilot:
    def __init__(self, app, matter_code: str, answers: dict | None = None,
                 screenshots: Path | None = None, timeout_s: float = 240.0,
                 demo_card: str | None = None):
        self.app = app
        self.code = matter_code
        self.pilot = Autopilot(answers or {})
        self.shots_dir = Path(screenshots) if screenshots else None
        self.timeout_s = timeout_s
        self.actions: deque = deque()
        self.sent = 0
        self.result: int | None = None
        self.screens: list[str] = []
        self.saved: list[Path] = []
        self._last_saved = None
        self._receipt_printed = None
        self._started = False
        self.demo_card = demo_card
        self._card_placed = False

    def start(self) -> None:
        self.app.rendered_listeners.append(self._rendered)
        Clock.schedule_interval(self._step, STEP_S)
        Clock.schedule_once(self._give_up, self.timeout_s)

    # -- observation ---------------------------------------------------------------------------
    def _rendered(self, snap: I.Snapshot, name: str) -> None:
        if not self.screens or self.screens[-1] != name:
            self.screens.append(name)
            if self.shots_dir is not None:
                path = self.shots_dir / f"{len(self.saved) + 1:02d}-{name}.png"
                self.saved.append(path)
                delay = LIVE_PREVIEW_SCREENS.get(name, 0.25)   # wait for the camera's frames
                Clock.schedule_once(lambda _dt, p=path: self._save(p), delay)
        if snap.receipt_printed is not None:
            self._receipt_printed = snap.receipt_printed

    def _save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        Window.screenshot(name=str(path))
        # Window.screenshot appends a counter; keep the name we promised
        produced = sorted(path.parent.glob(path.stem + "*.png"), key=lambda p: p.stat().st_mtime)
        if produced and produced[-1] != path:
            produced[-1].replace(path)

    # -- acting --------------------------------------------------------------------------------
    def _step(self, _dt) -> None:
        if self.result is not None:
            return
        if self.actions:
            action = self.actions.popleft()
            action()
            return
        snap = self.app.snapshot
        self._ticks = getattr(self, "_ticks", 0) + 1
        if self._ticks % 25 == 0:
            log.debug("autopilot waiting snap=%s ime=%s current=%s sent=%d handled=%s",
                      snap and snap.screen, self.app.ime is not None, self.app.current_screen,
                      self.sent, snap and snap.handled)
        if snap is None:
            return
        if not self._started:
            if self.app.ime is None:   # the pinyin keyboard is still being built
                return
            if snap.screen == "attract" and self.app.current_screen == "attract":
                self._plan_start()
            return
        if snap.handled < self.sent:
            return
        if snap.screen == "attract":
            return
        if snap.screen == "id_card" and self.demo_card and not self._card_placed:
            self._card_placed = self.tap(f"democard:{self.demo_card}")
            return
        intents = self.pilot.decide(snap)
        if self.pilot.finished:
            self._finish(snap)
            return
        for intent in intents:
            self._plan(intent, snap)

    def _plan_start(self) -> None:
        self._started = True
        m = self.app.catalog.get(self.code)
        if m.kind == "bundle":
            self.actions.append(lambda: self.tap("bundles"))
        else:
            self.actions.append(lambda: self.tap(f"tree:{m.tree}"))
            self.actions.append(lambda: self.tap(f"stage:{m.stage}"))
        self.actions.append(lambda: self._count(self.tap(f"matter:{self.code}")))

    def _count(self, tapped: bool) -> None:
        if tapped:
            self.sent += 1

    def _plan(self, intent, snap: I.Snapshot) -> None:
        add = self.actions.append
        simple = {I.Next: "next", I.RetryFace: "retry_face", I.DeclineFace: "decline_face"}
        if type(intent) in simple:
            add(lambda i=simple[type(intent)]: self._count(self.tap(i)))
        elif isinstance(intent, I.Agree):
            add(lambda: self._count(self.tap("agree" if intent.accepted else "disagree")))
        elif isinstance(intent, I.ChooseRole):
            add(lambda: self._count(self.tap(f"role:{intent.role}")))
        elif isinstance(intent, I.CapturePage):
            add(lambda: self._count(self.tap(f"capture:{intent.material}")))
        elif isinstance(intent, I.MarkMissing):
            add(lambda: self._count(self.tap(f"missing:{intent.material}")))
        elif isinstance(intent, I.Rate):
            add(lambda: self._count(self.tap(f"rate:{intent.level or 'skip'}")))
        elif isinstance(intent, I.Sign):
            add(self._scribble)
            add(lambda: self._count(self.tap("sign_submit")))
        elif isinstance(intent, I.EnterField):
            self._plan_field(intent, snap)
        else:
            log.warning("autopilot cannot touch for %s", type(intent).__name__)

    def _plan_field(self, intent: I.EnterField, snap: I.Snapshot) -> None:
        add = self.actions.append
        field = next(f for f in snap.fields if f.key == intent.key)
        add(lambda: self.tap(f"field:{intent.key}"))
        if field.type in ("choice", "yes_no"):
            add(lambda: self._count(self.tap(f"choice:{intent.value}")))
            return
        if field.type == "text":
            for piece in _ime_pieces(intent.value, self.app.ime):
                for letter in piece[0]:
                    add(lambda ch=letter: self.tap(f"key:{ch}"))
                add(lambda word=piece[1]: self.tap(f"cand:{word}"))
        else:
            for ch in intent.value.lower() if field.type == "credit_code" else intent.value:
                add(lambda ch=ch: self.tap(f"key:{ch}"))
        add(lambda: self._count(self.tap("confirm_field")))

    # -- touching ------------------------------------------------------------------------------
    def find(self, ident: str):
        for w in self.app.root.walk(restrict=True):
            if getattr(w, "ident", None) == ident and not getattr(w, "disabled", False):
                return w
        return None

    def tap(self, ident: str) -> bool:
        w = self.find(ident)
        if w is None:
            log.warning("autopilot: no widget %s on screen %s", ident, self.app.current_screen)
            return False
        parent = w.parent
        while parent is not None and not isinstance(parent, ScrollView):
            if parent is Window or parent.parent is parent:
                parent = None       # the window is its own parent: no scroll view around w
                break
            parent = parent.parent
        if parent is not None:
            parent.scroll_to(w, padding=10, animate=False)
            parent._update_effect_bounds()
        x, y = w.to_window(w.center_x, w.center_y)
        touch = UnitTestTouch(x, y)
        touch.touch_down()
        touch.touch_up()
        return True

    def _scribble(self) -> None:
        pad = self.find("signature")
        if pad is None:
            return
        x0, y0 = pad.to_window(pad.x, pad.y)
        touch = UnitTestTouch(x0 + pad.width * 0.15, y0 + pad.height * 0.5)
        touch.touch_down()
        for i in range(1, 30):
            touch.touch_move(x0 + pad.width * (0.15 + 0.024 * i),
                             y0 + pad.height * (0.5 + 0.25 * ((i % 6) - 3) / 3))
        touch.touch_up()

    # -- ending --------------------------------------------------------------------------------
    def _finish(self, snap: I.Snapshot) -> None:
        matter = self.app.catalog.get(self.code)
        printed = self._receipt_printed if matter.receipt else True
        ok = self.pilot.outcome == "done" and bool(printed)
        self.result = 0 if ok else 1
        log.info("autopilot finished outcome=%s receipt=%s", self.pilot.outcome, printed)
        Clock.schedule_once(lambda _dt: self.app.stop(), 1.0)

    def _give_up(self, _dt) -> None:
        if self.result is None:
            log.error("autopilot timed out on screen %s", self.app.current_screen)
            self.result = 2
            self.app.stop()


def _ime_pieces(text: str, ime) -> list[tuple[str, str]]:
    """How to type `text` with the pinyin keyboard: (pinyin to type, candidate to tap), taking
    the longest word the input method offers among its first eight candidates."""
    text = "".join(text.split())
    pieces, pos = [], 0
    while pos < len(text):
        for end in range(min(len(text), pos + 4), pos, -1):
            word = text[pos:end]
            typed = "".join(lazy_pinyin(word)).replace("ü", "v")
            if ime is None or word in ime.candidates(typed, limit=8) or end == pos + 1:
                pieces.append((typed, word))
                pos = end
                break
    return pieces
