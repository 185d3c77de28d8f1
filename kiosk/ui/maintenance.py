"""The technician's maintenance screen, behind a PIN: device states, outbox depth, self-tests,
and the only way out of the locked-down app.

Opened by five taps on the top-left corner of the attract screen, then the PIN on a keypad.
Self-tests run in a worker thread; results come back through the Clock. There is no reprint
here: the screen opens only between visits, and the printer forgets each receipt with its
visit, so a reprint could only ever show a previous citizen's receipt to the technician.
"""
from __future__ import annotations

import threading

from kivy.clock import Clock
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.gridlayout import GridLayout
from kivy.uix.widget import Widget

from devices.slots import SLOT_NAMES as KINDS
from kiosk.ops.selftest import run_self_test
from kiosk.ops.technician import check_pin
from kiosk.ui import theme as T
from kiosk.ui.keyboards import Keypad
from kiosk.ui.widgets import BigButton, text_label

MAX_PIN_TRIES = 5


class Maintenance:
    def __init__(self, app_ref, terminal, pin_hash: str, outbox_status=None):
        self._app = app_ref            # a callable returning the KioskApp
        self.terminal = terminal
        self.pin_hash = pin_hash
        self.outbox_status = outbox_status or (lambda: {})
        self.active = False
        self.logged_in = False
        self.pin = ""
        self.tries = 0
        self.messages: list[str] = []

    def request_login(self) -> None:
        if not self.pin_hash or self.tries >= MAX_PIN_TRIES:
            return
        self.active, self.logged_in, self.pin = True, False, ""

    def build(self, ctx):
        return self._dashboard(ctx) if self.logged_in else self._pin_pad(ctx)

    def _refresh(self) -> None:
        Clock.schedule_once(lambda _dt: self._app().rerender())

    def _pin_pad(self, ctx):
        th = ctx.theme
        box = BoxLayout(orientation="vertical", spacing=10, padding=th.padding)
        box.add_widget(text_label(ctx.t("title.maintenance") + " · PIN", th.title, bold=True,
                                  theme=th))
        box.add_widget(text_label("●" * len(self.pin) or " ", th.huge, theme=th))

        def key(k):
            self.pin = self.pin[:-1] if k == "←" else (self.pin + k)[:12]
            self._refresh()
        box.add_widget(Keypad(key, theme=th, size_hint_x=0.5, pos_hint={"center_x": 0.5}))
        row = BoxLayout(spacing=12, size_hint_y=None, height=th.button_height)
        row.add_widget(BigButton("取消 Cancel", "maint:cancel", self.leave, th, kind="secondary"))
        row.add_widget(BigButton("进入 Enter", "maint:enter", self._check, th, kind="ok"))
        box.add_widget(row)
        return box, []

    def _check(self) -> None:
        if check_pin(self.pin, self.pin_hash):
            self.logged_in, self.tries = True, 0
        else:
            self.tries += 1
            if self.tries >= MAX_PIN_TRIES:
                self.leave()
                return
        self.pin = ""
        self._refresh()

    def leave(self) -> None:
        self.active = self.logged_in = False
        self.pin = ""
        self.messages = []
        self._refresh()

    def _dashboard(self, ctx):
        th = ctx.theme
        box = BoxLayout(orientation="vertical", spacing=10, padding=th.padding)
        box.add_widget(text_label(ctx.t("title.maintenance"), th.title, bold=True, theme=th))
        grid = GridLayout(cols=2, spacing=8, size_hint_y=None)
        grid.bind(minimum_height=grid.setter("height"))
        for kind, h in self.terminal.health().items():
            state = (f"{T.OK_MARK} ok" if h["available"] else f"{T.BAD_MARK} {h['fault']}") + \
                (f"  {T.WARN_MARK} {h['maintenance']}" if h.get("maintenance") else "")
            grid.add_widget(text_label(kind, th.body, theme=th))
            grid.add_widget(text_label(state, th.body, T.OK if h["available"] else T.DANGER,
                                       theme=th))
        outbox = self.outbox_status()
        grid.add_widget(text_label("outbox", th.body, theme=th))
        grid.add_widget(text_label(", ".join(f"{k}={v}" for k, v in outbox.items()) or "—",
                                   th.body, theme=th))
        box.add_widget(grid)
        tests = BoxLayout(spacing=8, size_hint_y=None, height=th.button_height)
        for kind in KINDS:
            tests.add_widget(BigButton(f"自检 {kind}", f"maint:test:{kind}",
                                       lambda k=kind: self._run(self._test, k), th,
                                       kind="secondary", font_size=th.small))
        box.add_widget(tests)
        row = BoxLayout(spacing=8, size_hint_y=None, height=th.button_height)
        row.add_widget(BigButton("返回服务 Back to service", "maint:leave", self.leave, th))
        row.add_widget(BigButton("退出程序 Exit app", "maint:exit", self._exit, th,
                                 kind="danger"))
        box.add_widget(row)
        for line in self.messages[-4:]:
            box.add_widget(text_label(line, th.small, T.MUTED, theme=th))
        box.add_widget(Widget())
        return box, []

    def _run(self, fn, *args) -> None:
        def work():
            try:
                msg = fn(*args)
            except Exception as exc:  # shown to the technician, never fatal
                msg = f"{T.BAD_MARK} {getattr(exc, 'reason_key', type(exc).__name__)}: {exc}"
            self.messages.append(msg)
            self._refresh()
        threading.Thread(target=work, daemon=True, name="maintenance").start()

    def _test(self, kind: str) -> str:
        sup = self.terminal.supervisors[kind]
        r = run_self_test(kind, sup.proxy, self.terminal.config.terminal_id,
                          self.terminal.config.site.name.get("zh"), card_timeout=10)
        return f"{T.OK_MARK if r.ok else T.BAD_MARK} {kind}: {r.detail} ({r.seconds} s)"

    def _exit(self) -> None:
        app = self._app()
        app.technician_exit = True
        app.stop()
