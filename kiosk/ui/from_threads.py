"""Reaching the running Kivy app from other threads, for code outside kiosk/ui (the `kiosk run`
command's update applier and signal handlers), so that only kiosk/ui imports Kivy.

Both schedule the work on the Kivy clock: it runs on the UI thread at the next frame.
"""
from __future__ import annotations

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


def stop_app_soon(app) -> None:
    """Leave the app's loop at the next frame (also when the loop has not begun yet)."""
    Clock.schedule_once(lambda _dt: app.stop())
