"""Drive one whole visit through the real UI with simulated touches, saving every screen.

The decisions come from the headless `kiosk.visit.scripted_applicant.ScriptedApplicant` (what
a citizen would do on each snapshot); here each decision becomes taps on the widgets a finger
would touch — matter buttons, the keypad, pinyin candidates, the signature pad — found by their
`ident`, scrolled into view and touched at their centre with real touch events. A PNG of every
new screen is saved. Each drawn screen is checked (kiosk/ui/screen_checks.py): its layout (text
cut off or shortened, a column too full for the screen) and its accessibility
(`accessibility_check`: every touch target's size in mm on the configured panel, at least
15 mm either way, 20 mm in elder mode; every text's contrast against what it is drawn on, at
least 7:1). How responsive the app stays is measured by kiosk/ui/responsiveness.py. `result` is
set when the visit ends: 0 only if a receipt was printed (or the matter needs none), the visit
completed and no screen broke a rule; 3 when the visit completed but a screen broke a size or
contrast rule.
"""
from __future__ import annotations

import json
import logging
import time
from collections import deque
from pathlib import Path

from kivy.clock import Clock
from kivy.core.window import Window
from kivy.tests.common import UnitTestTouch
from pypinyin import lazy_pinyin

from kiosk.visit import intents as I
from kiosk.visit.scripted_applicant import ScriptedApplicant
from kiosk.ui import theme as T
from kiosk.ui.camera_preview import CameraPreview
from kiosk.ui.responsiveness import ResponsivenessMeter
from kiosk.ui.screen_checks import accessibility_check, layout_problems
from kiosk.ui.widgets import scroll_view_around

log = logging.getLogger(__name__)
STEP_S = 0.12
SETTLE_S = 0.2          # a screen redrawn this recently may not be laid out yet
LIVE_PREVIEW_SCREENS = ("face", "materials")   # looked at once the camera picture shows


class UiAutopilot:
    def __init__(self, app, matter_code: str, answers: dict | None = None,
                 screenshots: Path | None = None, timeout_s: float = 240.0,
                 demo_card: str | None = None, naive_work=None, on_done=None):
        self.app = app
        self.on_done = on_done      # called instead of stopping the app (visits in a row)
        self._events: list = []
        self.code = matter_code
        self.pilot = ScriptedApplicant(answers or {})
        self.shots_dir = Path(screenshots) if screenshots else None
        self.timeout_s = timeout_s
        self.actions: deque = deque()
        self.sent = 0
        self.result: int | None = None
        self.screens: list[str] = []
        self.saved: list[Path] = []
        self.layout_problems: list[str] = []
        self.accessibility_problems: list[str] = []
        self.accessibility: list[dict] = []   # per screen: targets (mm) and texts (contrast)
        self.controls: list[tuple[str, list[str]]] = []    # what could be touched, per screen
        self.transient: list[str] = []      # screens that went by too fast to be drawn and checked
        self._looks_pending = 0             # a finger waits until the new screen has been seen
        self._picture_since: float | None = None
        self._last_render = 0.0
        self._ticks = 0
        self._receipt_printed = None
        self._started = False
        self.demo_card = demo_card
        # measurements for benchmarks/ui_responsiveness.py
        self.timings = ResponsivenessMeter(app, lambda: self._started and self.result is None)
        self.naive_work = naive_work
        self.naive_stall: float | None = None
        self._card_placed = False

    def start(self) -> None:
        self.app.rendered_listeners.append(self._rendered)
        # how much of a frame Kivy's drawing (the canvas turned into GL calls) and the GL
        # driver's buffer swap take, frame by frame and over the visit
        self.timings.install()
        self._events = [Clock.schedule_interval(self.timings.frame, 0),
                        Clock.schedule_interval(self._step, STEP_S),
                        Clock.schedule_once(self._give_up, self.timeout_s)]

    def stop(self) -> None:
        """Let go of the app (another visit may be driven next in the same app)."""
        for event in self._events:
            event.cancel()
        if self._rendered in self.app.rendered_listeners:
            self.app.rendered_listeners.remove(self._rendered)
        self.timings.uninstall()

    def _end(self) -> None:
        if self.on_done is not None:
            self.stop()
            self.on_done(self)
        else:
            self.app.stop()

    # -- observation ---------------------------------------------------------------------------
    def _rendered(self, snap: I.Snapshot, name: str) -> None:
        self._last_render = Clock.get_time()
        if not self.screens or self.screens[-1] != name:
            self.screens.append(name)
            self.timings.screen_changes.append(self.app.screen_changed_at)
            path = None
            if self.shots_dir is not None:
                path = self.shots_dir / f"{len(self.screens):02d}-{name}.png"
                self.saved.append(path)
            delay = 0.08                        # the next frame
            self._looks_pending += 1
            Clock.schedule_once(lambda _dt, p=path, n=name: self._look(n, p), delay)
        if snap.receipt_printed is not None:
            self._receipt_printed = snap.receipt_printed

    def _look(self, name: str, path: Path | None, tries: int = 0) -> None:
        """Check the drawn screen's layout (and save its picture) once it has settled."""
        if self.app.current_screen == name and tries < 25 and (
                Clock.get_time() - self._last_render < SETTLE_S       # redrawn just now
                or (self.app.pacer is not None and self.app.pacer.holding)  # not drawn yet
                or (name in LIVE_PREVIEW_SCREENS and not self._camera_picture_shown())):
            Clock.schedule_once(lambda _dt: self._look(name, path, tries + 1), SETTLE_S / 2)
            return
        self._looks_pending -= 1
        if self.app.current_screen != name:     # gone before it could be looked at (a
            self.transient.append(name)         # submission into the local outbox is quick)
            if path is not None:
                self.saved.remove(path)
            return
        self.timings.own_work = True    # this frame's check and screenshot are not the app's
        for problem in layout_problems(self.app.root):
            self.layout_problems.append(f"{name}: {problem}")
            log.warning("autopilot layout problem screen=%s %s", name, problem)
        theme = T.Theme.for_display(getattr(self.app.kiosk_config, "display", None),
                                    bool(self.app.snapshot and self.app.snapshot.elder))
        found = accessibility_check(self.app.root, theme)
        self.accessibility.append({"screen": name, "elder": theme.elder, **found})
        for problem in found["problems"]:
            self.accessibility_problems.append(f"{name}: {problem}")
            log.warning("autopilot accessibility problem screen=%s %s", name, problem)
        self.controls.append((name, sorted(
            w.ident for w in self.app.root.walk(restrict=True)
            if getattr(w, "ident", None) and not w.ident.startswith(("key:", "cand:")))))
        if path is not None:
            self._save(path)

    def _camera_picture_shown(self) -> bool:
        """A camera frame has been on screen for a frame or two (so it is in the framebuffer)."""
        shown = any(isinstance(w, CameraPreview) and w.texture is not None
                    for w in self.app.root.walk(restrict=True))
        if not shown:
            self._picture_since = None
            return False
        now = Clock.get_time()
        if self._picture_since is None:
            self._picture_since = now
        return now - self._picture_since >= 0.1

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
        if self._looks_pending and self._started:
            return
        if self.actions:
            action = self.actions.popleft()
            action()
            return
        snap = self.app.snapshot
        self._ticks += 1
        if self._ticks % 25 == 0:
            log.debug("autopilot waiting snap=%s ime=%s current=%s sent=%d handled=%s",
                      snap and snap.screen, self.app.ime is not None, self.app.current_screen,
                      self.sent, snap and snap.handled)
        if snap is None:
            return
        if not self._started:
            if self.app.ime is None or not self.app.keyboards_ready:
                return      # the pinyin index and the on-screen keyboards are still being built
            speaker = self.app.speaker
            if speaker is not None and speaker.prewarming:
                return  # a terminal's voice cache is warm long before a citizen comes; so here
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
        # the form's list of fields; in elder mode, the numbered question chips
        add(lambda: self.tap(f"field:{intent.key}" if self.find(f"field:{intent.key}")
                             else f"question:{intent.key}"))
        if field.type in ("choice", "yes_no"):
            add(lambda: self._count(self.tap(f"choice:{intent.value}")))
            return
        if field.type == "text":
            for piece in _ime_pieces(intent.value, self.app.ime):
                for letter in piece[0]:
                    add(lambda ch=letter: self.tap(f"key:{ch}"))
                add(lambda word=piece[1]: self._choose_candidate(word))
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

    def tap(self, ident: str, scrolled: int = 0) -> bool:
        """Touch the widget `ident` at its centre, as a finger would: first scroll it into view
        (a finger cannot touch what is scrolled away), then touch on the next step, once the
        scroll view has moved its content. True if the touch was made or is on its way."""
        w = self.find(ident)
        if w is None:
            # The screen is not what the plan expected: drop the rest of the plan (typing on into
            # the wrong screen would only make things worse) and decide again from what is shown.
            log.warning("autopilot: no widget %s on screen %s; planning again", ident,
                        self.app.current_screen)
            self.actions.clear()
            return False
        x, y = w.to_window(w.center_x, w.center_y)
        view = scroll_view_around(w)
        if view is not None and not _inside(view, x, y):
            if scrolled >= 3:
                log.warning("autopilot: %s stays out of view on screen %s; planning again",
                            ident, self.app.current_screen)
                self.actions.clear()
                return False
            view.scroll_to(w, padding=10, animate=False)
            self.actions.appendleft(lambda: self.tap(ident, scrolled + 1))
            return True
        touch = UnitTestTouch(x, y)
        touch.touch_down()
        touch.touch_up()
        return True

    def _choose_candidate(self, word: str, turns: int = 0) -> None:
        """Tap `word` among the pinyin candidates, turning the candidate pages like a person."""
        if self.find(f"cand:{word}") is None and turns < 16 and self.find("cand:next") is not None:
            self.actions.appendleft(lambda: self._choose_candidate(word, turns + 1))
            self.tap("cand:next")   # (a touch after scrolling into view goes before the look)
            return
        self.tap(f"cand:{word}")

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
        self.result = 1 if not ok else 3 if self.accessibility_problems else 0
        log.info("autopilot finished outcome=%s receipt=%s", self.pilot.outcome, printed)
        if self.naive_work is not None:
            Clock.schedule_once(self._naive, 0.5)
            return
        self._report()
        Clock.schedule_once(lambda _dt: self._end(), 1.0)

    def _naive(self, _dt) -> None:
        """The baseline: what one device call made on the UI thread would freeze it for."""
        started = time.perf_counter()
        try:
            self.naive_work()
        except Exception as exc:  # noqa: BLE001 - the stall is measured either way
            log.info("naive baseline call failed error=%s", type(exc).__name__)
        self.naive_stall = time.perf_counter() - started
        self._report()
        Clock.schedule_once(lambda _dt: self.app.stop(), 1.0)

    def _report(self) -> None:
        """autopilot.json beside the screenshots: what the tests and the contact sheet read."""
        if self.shots_dir is None:
            return
        self.shots_dir.mkdir(parents=True, exist_ok=True)
        (self.shots_dir / "autopilot.json").write_text(json.dumps({
            "code": self.code, "result": self.result, "outcome": self.pilot.outcome,
            "receipt_printed": self._receipt_printed, "screens": self.screens,
            "saved": [p.name for p in self.saved], "transient": self.transient,
            "layout_problems": self.layout_problems,
            "accessibility_problems": self.accessibility_problems,
            "accessibility": self.accessibility, "controls": self.controls,
            "measurements": self.timings.measurements(self.screens, self.naive_stall)},
            ensure_ascii=False, indent=1), encoding="utf-8")

    def _give_up(self, _dt) -> None:
        if self.result is None:
            log.error("autopilot timed out on screen %s", self.app.current_screen)
            self.result = 2
            self._report()
            self._end()


def _inside(w, x: float, y: float) -> bool:
    """Whether the window point (x, y) lies on widget w as drawn."""
    wx, wy = w.to_window(w.x, w.y)
    return wx <= x <= wx + w.width and wy <= y <= wy + w.height


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
