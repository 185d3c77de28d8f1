"""Widgets the app builds once and reuses across redraws: keyboards, headers, footers, a
bundle's material rows (`KeptWidgets`), the live camera previews (`CameraPreviews`), and the
form's keyboards built before the first citizen needs one (`build_input_method`,
`build_form_keyboards`).

A screen is redrawn on every snapshot, and on a Pi-class CPU building a keyboard anew costs
100-300 ms of frozen screen; a camera preview built anew would flash empty at each redraw.
"""
from __future__ import annotations

import gc
from collections import OrderedDict
from typing import Callable

from kivy.clock import Clock
from kivy.uix.widget import Widget

from kiosk.ui import theme as T
from kiosk.ui.camera_preview import CameraPreview
from kiosk.ui.garbage_collection import full_gc_between_visits
from kiosk.ui.screens.form import FORM_KEYBOARDS, build_keyboard

VISIT_SCOPED_KEPT = {"material_row"}   # kept widgets dropped when a visit ends
KEPT_WIDGETS_MAX = 48       # headers, footers, keyboards kept for reuse (least recent dropped)


class KeptWidgets:
    """Kept widgets by key, least recently used first."""

    def __init__(self):
        self._widgets: OrderedDict[tuple, Widget] = OrderedDict()

    def get(self, key: tuple, build: Callable[[], Widget], owner: object) -> Widget:
        """A widget built once and reused by every redraw that asks for `key`: a keyboard is
        40-odd buttons, and building them anew costs 100-300 ms of frozen screen on a Pi-class
        CPU. Whatever it holds (half-typed pinyin) is forgotten when its `owner` changes."""
        widget = self._widgets.get(key)
        if widget is None:
            widget = self._widgets[key] = build()
            evictable = [k for k, w in self._widgets.items() if not hasattr(w, "reset")]
            for old_key in evictable[:max(0, len(self._widgets) - KEPT_WIDGETS_MAX)]:
                del self._widgets[old_key]      # least recently used header or footer;
                # keyboards (the ones with `reset`) are a small fixed set and stay
        self._widgets.move_to_end(key)
        if widget.parent is not None:
            widget.parent.remove_widget(widget)
        if getattr(widget, "kept_owner", None) != owner:
            if hasattr(widget, "reset"):
                widget.reset()
            widget.kept_owner = owner
        return widget

    def new_screen(self) -> None:
        """A new screen starts with nothing half-typed, and no callback of the last screen
        keeps its snapshot (an applicant's data) alive."""
        for widget in self._widgets.values():
            widget.kept_owner = None
            if hasattr(widget, "reset"):
                widget.reset()

    def visit_ended(self) -> None:
        """Drop the visit's material rows."""
        for key in [k for k in self._widgets if VISIT_SCOPED_KEPT & set(k[:2])]:
            del self._widgets[key]


class CameraPreviews:
    """The live camera previews by kind ("camera", "doc_camera"), kept across redraws."""

    def __init__(self):
        self._previews: dict[str, CameraPreview] = {}
        self._used: set[str] = set()

    def get(self, kind: str, read: Callable[[], object], fps: float, **layout) -> CameraPreview:
        """A screen is redrawn on every snapshot (face guidance changes several times a second);
        its camera preview must survive that, or it would flash empty at each redraw."""
        widget = self._previews.get(kind)
        if widget is None:
            widget = self._previews[kind] = CameraPreview(read, fps=fps)
        elif widget.parent is not None:
            widget.parent.remove_widget(widget)
        for name, value in layout.items():
            setattr(widget, name, value)
        self._used.add(kind)
        return widget

    def redraw_started(self) -> None:
        self._used = set()

    def drop_unused(self) -> None:
        """Stop the previews the screen just drawn did not ask for."""
        for kind in set(self._previews) - self._used:
            self._previews.pop(kind).stop()


def build_input_method(app, ime_factory) -> None:
    """On its own thread: build the input method, then (on the UI thread) the keyboards."""
    ime = ime_factory()
    # The input method's index (and the models and caches loaded at start) are millions of
    # long-lived objects; left to the cyclic GC, every full collection walks them all and
    # freezes the screen for hundreds of milliseconds while a screen is being built.
    gc.collect()
    gc.freeze()
    app.ime = ime
    Clock.schedule_once(lambda _dt: build_form_keyboards(app, list(FORM_KEYBOARDS)))


def build_form_keyboards(app, specs: list[tuple]) -> None:
    """Build the form's keyboards (normal and elder) before the first citizen needs one, one
    per frame while the attract screen waits: built on demand, each froze the screen for
    50-150 ms in the middle of a visit."""
    if not specs:
        app.keyboards_ready = True
        full_gc_between_visits(freeze=True)
        Clock.schedule_interval(lambda _dt: full_gc_between_visits()
                                if app.current_screen == "attract" else None, 600)
        return
    spec = specs.pop()
    for elder in (False, True):
        app.kept((elder,) + spec, lambda: build_keyboard(
            spec, T.Theme.for_display(getattr(app.kiosk_config, "display", None), elder),
            app.ime), None)
    Clock.schedule_once(lambda _dt: build_form_keyboards(app, specs))
