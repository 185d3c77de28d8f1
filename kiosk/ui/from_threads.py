"""Reaching the running Kivy app from other threads and from signal handlers, for code outside
kiosk/ui (the `kiosk run` command's update applier and its SIGINT/SIGTERM), so that only
kiosk/ui imports Kivy.

`set_on_running_app` schedules its work on the Kivy clock: it runs on the UI thread at the next
frame. `StopOnRequest` does not touch Kivy from a signal handler at all. The handler runs in
the UI thread between two bytecodes, wherever that thread is, possibly in the middle of the
clock's own bookkeeping; so the handler only sets a flag, which a clock interval looks at.
(This did not cure the CI failure where the demo ran on 45 s after Ctrl+C, its loop idling:
that happened again with the flag; its cause is not known yet.)
"""
from __future__ import annotations

import threading

from kivy.app import App
from kivy.clock import Clock


def set_on_running_app(**attrs) -> None:
    """Set these attributes of the running app and redraw it (on the UI thread); nothing when
    no app is running by then."""
    def assign(_dt):
        app = App.get_running_app()
        if app is not None:
            for name, value in attrs.items():
                setattr(app, name, value)
            app.rerender()
    Clock.schedule_once(assign)


class StopOnRequest:
    """Leave the app's loop within `every_s` of `request()`, which is safe to call from a signal
    handler or any thread (also before the loop has begun: it stops at its first frames)."""

    def __init__(self, app, every_s: float = 0.1):
        self._app = app
        self._requested = threading.Event()
        self._event = Clock.schedule_interval(self._look, every_s)

    def request(self) -> None:
        self._requested.set()

    def _look(self, _dt) -> bool | None:
        if not self._requested.is_set():
            return None
        self._app.stop()
        return False                # done: no more looking
