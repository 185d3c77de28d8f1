"""What a screen function may use (`ctx`): texts, the theme, intents, and the app's local
state (which catalogue page is open, the field being typed, kept widgets, camera previews)."""
from __future__ import annotations

from typing import Callable

from kivy.uix.widget import Widget

from kiosk.visit import intents as I
from kiosk.ui import theme as T


class ScreenContext:
    """What a screen function may use: texts, the theme, intents, and the app's local state."""

    def __init__(self, app, snap: I.Snapshot):     # app: the KioskApp
        self.app, self.snap = app, snap
        self.lang = snap.language
        self.theme = T.Theme.for_display(getattr(app.kiosk_config, "display", None), snap.elder)
        self.catalog, self.config = app.catalog, app.kiosk_config
        self.browse_state = app.browse_state
        self.form_state = app.form_state
        self.ime = app.ime
        self.camera_read = app.camera_read
        self.doc_read = app.doc_read

    def t(self, key: str | None, **params) -> str:
        return self.app.text(key, self.lang, **params)

    def send(self, intent) -> None:
        self.app.send(intent)

    def browse(self, **state) -> None:
        self.app.browse_state = state
        self.app.rerender()

    def preview(self, kind: str, read: Callable[[], object], fps: float = 10.0, **layout):
        """The live camera preview of `kind`, kept across redraws of the same screen."""
        return self.app.preview(kind, read, fps, **layout)

    def kept(self, key: tuple, build: Callable[[], Widget], owner: object) -> Widget:
        """See `KioskApp.kept`; `key` should include everything `build` depends on."""
        return self.app.kept((self.theme.elder,) + key, build, owner)

    def on_leave(self, fn: Callable[[], None]) -> None:
        self.app.leave_hooks.append(fn)

    def edit_field(self, key: str, value: str) -> None:
        self.app.form_state.update(editing=key, draft=value)
        self.app.rerender()

    def type_draft(self, text: str) -> None:
        """A key typed into the field being edited: only the widgets showing the draft change
        (rebuilding the whole form with its keyboard for every key would lag behind a finger)."""
        self.app.form_state["draft"] = text[:60]
        if not self.app.draft_views:
            self.app.rerender()
        for widget, render in self.app.draft_views:
            widget.text = render(self.app.form_state["draft"])

    def draft_view(self, widget, render: Callable[[str], str]) -> None:
        """`widget.text` shows the draft being typed, as `render(draft)`."""
        self.app.draft_views.append((widget, render))

    def confirm_field(self, key: str, value: str) -> None:
        self.app.form_state.update(editing=None, draft="")
        self.send(I.EnterField(key, value))
