"""The Kivy app: a locked-down full-screen window that draws session snapshots.

Snapshots arrive on the session thread and are handed to the UI thread with
`Clock.schedule_once`; the window is rebuilt from the snapshot (plus a little local state:
which catalogue page is open, the field being typed). Voice follows screen changes: the current
utterance is interrupted and the new screen's prompt spoken. Devices, face verification and
speech all run in their own threads; nothing here waits on them.

What a screen function may use is `kiosk.ui.screen_context.ScreenContext`; the bars around every
screen are built by kiosk/ui/screen_frame.py; keyboards, headers and camera previews are kept
across redraws by kiosk/ui/kept_widgets.py; audio-first mode is kiosk/ui/focus.py.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import threading
import time
from typing import Callable

from kivy.app import App
from kivy.clock import Clock
from kivy.core.window import Window
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.label import Label
from kivy.uix.scrollview import ScrollView
from kivy.uix.widget import Widget

from kiosk.visit import intents as I
from kiosk.app.terminal import voice_follows_visits
from kiosk.ui import theme as T
from kiosk.ui.focus import FocusNavigator
from kiosk.ui.frame_pacing import FramePacer
from kiosk.ui.garbage_collection import full_gc_between_visits
from kiosk.ui.kept_widgets import CameraPreviews, KeptWidgets, build_input_method
from kiosk.ui.screen_context import ScreenContext
from kiosk.ui.screen_frame import (alert_banners, footer_bar, header_bar, idle_banner,
                                   screen_title)
from kiosk.ui.screens import browse as screens_browse
from kiosk.ui.screens import progress as screens_progress
from kiosk.ui.screens import visit as screens_visit
from kiosk.ui.spoken import View, browse_prompt, plan_speech, snapshot_view
from kiosk.ui.text_measure import TextExtentsCache

log = logging.getLogger(__name__)


class KioskApp(App):
    title = "政务服务自助终端"

    def __init__(self, session, catalog, config, speaker=None, camera_read=None, doc_read=None,
                 ime_factory=None, lockdown: bool = True, on_frame: Callable | None = None,
                 on_ready: Callable | None = None, maintenance=None,
                 demo_cards: list[tuple[str, str]] | None = None,
                 place_demo_card: Callable[[str], None] | None = None,
                 demo_receipt: Callable[[], None] | None = None, headphone_jack=None, **kw):
        super().__init__(**kw)
        self.session, self.catalog, self.kiosk_config = session, catalog, config
        self.speaker = speaker
        if speaker is not None:     # elder rate, reset after each visit (before build subscribes)
            voice_follows_visits(session, speaker)
        self.camera_read, self.doc_read = camera_read, doc_read
        self.lockdown = lockdown
        self.on_frame, self.on_ready = on_frame, on_ready
        self.maintenance = maintenance
        self.demo_cards = demo_cards or []
        self.demo_receipt = demo_receipt     # demo: lay the last printed receipt under the camera
        self._place_demo_card = place_demo_card
        self.headphone_jack = headphone_jack    # kiosk.ui.jack sensor: plugging in starts audio-first
        self.focus: FocusNavigator | None = None
        self.browse_state: dict = {}
        self.form_state: dict = {"editing": None, "draft": ""}
        self.leave_hooks: list[Callable[[], None]] = []
        self.snapshot: I.Snapshot | None = None
        self.rendered_listeners: list[Callable[[I.Snapshot, str], None]] = []
        self.current_screen = ""
        self.screen_changed_at = 0.0
        self.build_s_in_frame = 0.0     # time spent building screens since the last frame
        self.pacer: FramePacer | None = None
        self.text_extents: TextExtentsCache | None = None
        self.draft_views: list[tuple[object, Callable[[str], str]]] = []
        self.previews = CameraPreviews()
        self.kept_widgets = KeptWidgets()
        self.ime = None
        self.keyboards_ready = ime_factory is None     # else built once the input method is
        self._heard: View | None = None       # what the voice last spoke for
        self._corner_taps: list[float] = []
        self.technician_exit = False
        if ime_factory:
            threading.Thread(target=build_input_method, args=(self, ime_factory), name="ime",
                             daemon=True).start()

    # -- lifecycle -----------------------------------------------------------------------------
    def build(self):
        from kiosk.ui.fonts import register_default_font
        register_default_font()
        from kivy.core.text import Label as CoreLabel
        self.text_extents = TextExtentsCache(CoreLabel).install()
        Window.clearcolor = T.BACKGROUND
        if self.lockdown:
            Window.borderless = True
            Window.fullscreen = "auto"
            Window.bind(on_request_close=lambda *a, **k: not self.technician_exit)
            Window.bind(on_keyboard=lambda *a: True)   # no key reaches the OS or closes the app
        self.root_box = BoxLayout(orientation="vertical")
        self.pacer = FramePacer(Window, self._textures_shown)
        self.focus = FocusNavigator(self, jack=self.headphone_jack).install()   # keypad, jack
        self.session.subscribe(lambda s: Clock.schedule_once(lambda _dt: self._on_snapshot(s)))
        if self.on_frame:
            Clock.schedule_interval(lambda _dt: self.on_frame(), 0.5)
        return self.root_box

    def _textures_shown(self):
        return (w.texture for w in self.root_box.walk(restrict=True)
                if isinstance(w, Label) and w.texture is not None)

    def on_stop(self):
        if self.text_extents is not None:
            self.text_extents.uninstall()

    def on_start(self):
        if self.on_ready:
            Clock.schedule_once(lambda _dt: self.on_ready(), 0.5)

    def send(self, intent) -> None:
        self.session.send(intent)

    def place_demo_card(self, name: str) -> None:
        if self._place_demo_card:
            threading.Thread(target=self._place_demo_card, args=(name,), daemon=True).start()

    def preview(self, kind: str, read: Callable[[], object], fps: float, **layout):
        """The live camera preview of `kind`, kept across redraws (see `CameraPreviews`)."""
        return self.previews.get(kind, read, fps, **layout)

    def kept(self, key: tuple, build: Callable[[], Widget], owner: object) -> Widget:
        """A widget built once and reused by every redraw that asks for `key`, reset when its
        `owner` changes (see `KeptWidgets.get`)."""
        return self.kept_widgets.get(key, build, owner)

    def text(self, key: str | None, lang: str, **params) -> str:
        if not key:
            return ""
        entry = self.catalog.prompts.get(key)
        if entry is None:
            log.warning("missing prompt key=%s", key)
            return key
        text = entry.get(lang)
        try:
            return text.format(**params) if params else text
        except (KeyError, IndexError):
            return text

    # -- rendering -----------------------------------------------------------------------------
    def _on_snapshot(self, snap: I.Snapshot) -> None:
        old = self.snapshot
        if old is not None and dataclasses.replace(snap, seq=old.seq, handled=old.handled) == old:
            self.snapshot = snap    # nothing to show has changed: no rebuild (it costs 50-400 ms
            return                  # on a Pi-class CPU and holds up speech and touches meanwhile)
        if self.snapshot is None or snap.screen != self.snapshot.screen:
            self.screen_changed_at = time.perf_counter()   # for the screen -> voice benchmark
            self.form_state.clear()             # which question, which material, the draft
            self.form_state.update(editing=None, draft="")
            self.kept_widgets.new_screen()      # nothing half-typed, no last screen's data
            if snap.screen != "attract":
                self.browse_state = {}
            elif self.snapshot is not None:         # a visit has just ended
                if self.text_extents is not None:
                    self.text_extents.clear()       # it measured what the applicant typed
                self.kept_widgets.visit_ended()     # the visit's material rows
                Clock.schedule_once(lambda _dt: full_gc_between_visits(), 2.0)
        self.snapshot = snap
        self.rerender()

    def screen_name(self, snap: I.Snapshot) -> str:
        if snap.screen == "attract":
            if self.maintenance is not None and self.maintenance.active:
                return "maintenance"
            if not self.kiosk_config.site.is_open(dt.datetime.now()):
                return "out_of_hours"
            return "browse" if self.browse_state else "attract"
        return snap.screen

    def rerender(self) -> None:
        self._speak(self.snapshot)       # before building: the voice starts while it is built
        started = time.perf_counter()
        self._rerender()
        took = time.perf_counter() - started
        self.build_s_in_frame += took
        if took > 0.05:
            log.info("screen drawn slowly screen=%s ms=%d", self.current_screen, took * 1000)

    def _rerender(self) -> None:
        snap = self.snapshot
        if snap is None:
            return
        for hook in self.leave_hooks:
            hook()
        self.leave_hooks = []
        self.draft_views = []
        self.previews.redraw_started()
        ctx = ScreenContext(self, snap)
        name = self.screen_name(snap)
        if name == "attract":
            content, nav = screens_browse.attract(ctx, snap)
        elif name == "browse":
            content, nav = screens_browse.browse(ctx, snap)
        elif name == "out_of_hours":
            content, nav = screens_browse.out_of_hours(
                ctx, snap, self.kiosk_config.site.next_opening(dt.datetime.now()))
        elif name == "maintenance":
            content, nav = self.maintenance.build(ctx)
        else:
            screen = screens_progress.SCREENS.get(name) or screens_visit.SCREENS[name]
            content, nav = screen(ctx, snap)
        kept_scroll = self._scroll_positions() if name == self.current_screen else []
        self.root_box.clear_widgets()
        header = self.kept(("header", ctx.lang, snap.elder), lambda: header_bar(self, ctx), None)
        header.title.text = screen_title(self, ctx, snap, name)
        # the idle warning takes the header's place: the screen below keeps its size
        self.root_box.add_widget(idle_banner(self, ctx, snap) or header)
        for banner in alert_banners(ctx, snap):
            self.root_box.add_widget(banner)
        self.root_box.add_widget(content)
        if nav:
            self.root_box.add_widget(self.kept(("footer", tuple(nav), ctx.lang, snap.elder),
                                               lambda: footer_bar(self, ctx, nav), None))
        self.previews.drop_unused()
        if kept_scroll:     # a redraw of the same screen must not jump the lists back to the top
            Clock.schedule_once(lambda _dt: self._restore_scroll(kept_scroll))
        self.current_screen = name
        if self.pacer is not None:
            self.pacer.screen_built()
        for listener in list(self.rendered_listeners):
            listener(snap, name)

    def _scroll_positions(self) -> list[float]:
        return [w.scroll_y for w in self.root_box.walk(restrict=True) if isinstance(w, ScrollView)]

    def _restore_scroll(self, positions: list[float]) -> None:
        views = [w for w in self.root_box.walk(restrict=True) if isinstance(w, ScrollView)]
        for view, scroll_y in zip(views, positions):
            view.scroll_y = scroll_y

    def navigate(self, key: str) -> None:
        """A button of the footer (`kiosk.ui.screen_frame.NAV`)."""
        if key == "home":
            self.browse_state = {}
            if self.snapshot and self.snapshot.screen in ("refused", "help", "done"):
                self.send(I.Next())
            self.rerender()
            return
        self.send({"back": I.Back, "help": I.Help, "cancel": I.Cancel, "next": I.Next}[key]())

    # -- voice ---------------------------------------------------------------------------------
    def _speak(self, snap: I.Snapshot | None) -> None:
        """Say what the picture now shows (rules in `kiosk.ui.spoken`)."""
        if self.speaker is None or snap is None:
            return
        view = self._voice_view(snap)
        if view == self._heard:
            return
        speech = plan_speech(self._heard, view)
        self._heard = view
        if speech.stop_first:
            self.speaker.interrupt()
        for say in speech.says:
            self.speaker.say(say.key, say.params or None, language=view.language,
                             interrupt=say.interrupt)

    def _voice_view(self, snap: I.Snapshot) -> View:
        lang = snap.language
        name = self.screen_name(snap)
        view = snapshot_view(snap, name, lambda key: self.text(key, lang))
        if name == "browse":
            stage_key, matters = screens_browse.listed_matters(
                self.catalog, self.kiosk_config.site, self.browse_state)
            stage = self.catalog.trees[self.browse_state["tree"]].stages[stage_key].name.get(
                lang) if stage_key else None
            return dataclasses.replace(view, prompt=browse_prompt(self.browse_state, stage,
                                                                  len(matters)))
        if name == "out_of_hours":
            site = self.kiosk_config.site
            opens = site.next_opening(dt.datetime.now())
            when = (("when", opens.strftime("%m-%d %H:%M") if opens else "—"),)
            return dataclasses.replace(view, prompt=(
                ("visit.out_of_hours_nearest", when + (("place", site.nearest_24h_station),))
                if site.nearest_24h_station else ("visit.out_of_hours", when)))
        if name == "maintenance":
            return dataclasses.replace(view, prompt=None)
        return view

    def repeat(self) -> None:
        """The header's "repeat": say the screen's prompt again."""
        self.send(I.Repeat())
        if self.speaker is not None:
            self.speaker.repeat()

    # -- technician entry: five taps on the top-left corner within three seconds ----------------
    def corner_tap(self) -> None:
        now = time.monotonic()
        self._corner_taps = [t for t in self._corner_taps if now - t < 3] + [now]
        if len(self._corner_taps) >= 5 and self.maintenance is not None and \
                self.snapshot is not None and self.snapshot.screen == "attract":
            self._corner_taps = []
            self.maintenance.request_login()
            self.rerender()
