"""The Kivy app: a locked-down full-screen window that draws session snapshots.

Snapshots arrive on the session thread and are handed to the UI thread with
`Clock.schedule_once`; the window is rebuilt from the snapshot (plus a little local state:
which catalogue page is open, the field being typed). Voice follows screen changes: the current
utterance is interrupted and the new screen's prompt spoken. Devices, face verification and
speech all run in their own threads; nothing here waits on them.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import gc
import logging
import threading
import time
from collections import OrderedDict
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
from kiosk.ui.screens import browse as screens_browse, progress as screens_progress, visit as screens_visit
from kiosk.ui.screens.form import FORM_KEYBOARDS, build_keyboard
from kiosk.ui import theme as T
from kiosk.ui.focus import FocusNavigator
from kiosk.ui.frame_pacing import FramePacer
from kiosk.ui.spoken import View, browse_prompt, plan_speech, snapshot_view
from kiosk.ui.text_measure import TextExtentsCache
from kiosk.ui.camera_preview import CameraPreview
from kiosk.ui.widgets import BigButton, Panel, heading_label, text_label

log = logging.getLogger(__name__)
VISIT_SCOPED_KEPT = {"material_row"}   # kept widgets dropped when a visit ends
FULL_GC_NEVER = 1_000_000_000   # gen-2 threshold: full passes only in `_full_gc_between_visits`
KEPT_WIDGETS_MAX = 48       # headers, footers, keyboards kept for reuse (least recent dropped)

NAV = {"back": ("nav.back", "secondary"), "help": ("nav.help", "secondary"),
       "cancel": ("nav.cancel", "danger"), "next": ("nav.next", "primary"),
       "home": ("ui.home", "primary")}


class Ctx:
    """What a screen function may use: texts, the theme, intents, and the app's local state."""

    def __init__(self, app: "KioskApp", snap: I.Snapshot):
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
        self._previews: dict[str, object] = {}
        self.kept_widgets: OrderedDict[tuple, Widget] = OrderedDict()
        self._previews_used: set[str] = set()
        self.ime = None
        self.keyboards_ready = ime_factory is None     # else built once the input method is
        self._heard: View | None = None       # what the voice last spoke for
        self._corner_taps: list[float] = []
        self.technician_exit = False
        if ime_factory:
            threading.Thread(target=self._build_ime, args=(ime_factory,), name="ime",
                             daemon=True).start()

    def _build_ime(self, ime_factory) -> None:
        ime = ime_factory()
        # The input method's index (and the models and caches loaded at start) are millions of
        # long-lived objects; left to the cyclic GC, every full collection walks them all and
        # freezes the screen for hundreds of milliseconds while a screen is being built.
        gc.collect()
        gc.freeze()
        self.ime = ime
        Clock.schedule_once(lambda _dt: self._build_keyboards(list(FORM_KEYBOARDS)))

    def _build_keyboards(self, specs: list[tuple]) -> None:
        """Build the form's keyboards (normal and elder) before the first citizen needs one, one
        per frame while the attract screen waits: built on demand, each froze the screen for
        50-150 ms in the middle of a visit."""
        if not specs:
            self.keyboards_ready = True
            self._full_gc_between_visits(freeze=True)
            Clock.schedule_interval(lambda _dt: self._full_gc_between_visits()
                                    if self.current_screen == "attract" else None, 600)
            return
        spec = specs.pop()
        for elder in (False, True):
            self.kept((elder,) + spec, lambda: build_keyboard(
                spec, T.Theme.for_display(getattr(self.kiosk_config, "display", None), elder),
                self.ime), None)
        Clock.schedule_once(lambda _dt: self._build_keyboards(specs))

    def _full_gc_between_visits(self, freeze: bool = False) -> None:
        """Full garbage collections only while nobody is at the screen.

        A full pass of the cyclic GC walks every object the app has made since start-up (several
        hundred thousand: widget trees, the voice cache index, back-office replies...) and took
        100-250 ms each time it struck during a visit, mostly while the form or the materials
        list was being redrawn. The young generations are still collected as usual (a few ms);
        the full pass runs here: once start-up is done (whose survivors live as long as the app
        and are frozen out of later passes), each time a visit ends, and every ten minutes the
        attract screen is up (nobody browsing)."""
        gc.set_threshold(*gc.get_threshold()[:2], FULL_GC_NEVER)
        started = time.perf_counter()
        gc.collect()
        if freeze:
            gc.freeze()
        log.info("full garbage collection between visits ms=%d",
                 (time.perf_counter() - started) * 1000)

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
        """A screen is redrawn on every snapshot (face guidance changes several times a second);
        its camera preview must survive that, or it would flash empty at each redraw."""
        widget = self._previews.get(kind)
        if widget is None:
            widget = self._previews[kind] = CameraPreview(read, fps=fps)
        elif widget.parent is not None:
            widget.parent.remove_widget(widget)
        for name, value in layout.items():
            setattr(widget, name, value)
        self._previews_used.add(kind)
        return widget

    def kept(self, key: tuple, build: Callable[[], Widget], owner: object) -> Widget:
        """A widget built once and reused by every redraw that asks for `key`: a keyboard is
        40-odd buttons, and building them anew costs 100-300 ms of frozen screen on a Pi-class
        CPU. Whatever it holds (half-typed pinyin) is forgotten when its `owner` changes."""
        widget = self.kept_widgets.get(key)
        if widget is None:
            widget = self.kept_widgets[key] = build()
            evictable = [k for k, w in self.kept_widgets.items() if not hasattr(w, "reset")]
            for old_key in evictable[:max(0, len(self.kept_widgets) - KEPT_WIDGETS_MAX)]:
                del self.kept_widgets[old_key]      # least recently used header or footer;
                # keyboards (the ones with `reset`) are a small fixed set and stay
        self.kept_widgets.move_to_end(key)
        if widget.parent is not None:
            widget.parent.remove_widget(widget)
        if getattr(widget, "kept_owner", None) != owner:
            if hasattr(widget, "reset"):
                widget.reset()
            widget.kept_owner = owner
        return widget

    def _drop_unused_previews(self) -> None:
        for kind in set(self._previews) - self._previews_used:
            self._previews.pop(kind).stop()

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
            for widget in self.kept_widgets.values():
                widget.kept_owner = None         # a new screen starts with nothing half-typed,
                if hasattr(widget, "reset"):     # and no callback of the last screen keeps its
                    widget.reset()               # snapshot (an applicant's data) alive
            if snap.screen != "attract":
                self.browse_state = {}
            elif self.snapshot is not None:         # a visit has just ended
                if self.text_extents is not None:
                    self.text_extents.clear()       # it measured what the applicant typed
                for key in [k for k in self.kept_widgets if VISIT_SCOPED_KEPT & set(k[:2])]:
                    del self.kept_widgets[key]      # the visit's material rows
                Clock.schedule_once(lambda _dt: self._full_gc_between_visits(), 2.0)
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
        self._previews_used = set()
        ctx = Ctx(self, snap)
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
        header = self.kept(("header", ctx.lang, snap.elder), lambda: self._header(ctx), None)
        header.title.text = self._title(ctx, snap, name)
        # the idle warning takes the header's place: the screen below keeps its size
        self.root_box.add_widget(self._idle_banner(ctx, snap) or header)
        for banner in self._banners(ctx, snap):
            self.root_box.add_widget(banner)
        self.root_box.add_widget(content)
        if nav:
            self.root_box.add_widget(self.kept(("footer", tuple(nav), ctx.lang, snap.elder),
                                               lambda: self._footer(ctx, nav), None))
        self._drop_unused_previews()
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

    def _title(self, ctx: Ctx, snap: I.Snapshot, name: str) -> str:
        title = ctx.t(f"title.{name}") if f"title.{name}" in self.catalog.prompts else ""
        if snap.matter_code and snap.matter_code in self.catalog.matters:
            title = self.catalog.matters[snap.matter_code].name.get(ctx.lang) + \
                (f" · {title}" if title else "")
        return title

    def _header(self, ctx: Ctx) -> Widget:
        """The bar on top of every screen, one per language and text size, kept: only its
        title changes from screen to screen (`header.title.text`)."""
        th = ctx.theme
        bar = Panel(color=T.PRIMARY, size_hint_y=None, height=th.target + 8,
                    padding=(8, 4), spacing=10)
        corner = BigButton("", "corner", self._corner_tap, th, kind="primary", size_hint_x=None,
                           width=th.target, height=th.target)
        bar.add_widget(corner)
        bar.title = heading_label(th.title, T.PRIMARY_TEXT, theme=th)
        bar.add_widget(bar.title)
        elder = th.elder
        bar.add_widget(BigButton("♪ " + ctx.t("ui.repeat"), "repeat", self._repeat, th,
                                 kind="secondary", size_hint_x=None, width=150 * th.scale,
                                 height=th.target, font_size=th.small))
        bar.add_widget(BigButton(ctx.t("ui.elder_off" if elder else "ui.elder_on"), "elder",
                                 lambda: self.send(I.SetElderMode(not elder)), th,
                                 kind="secondary", size_hint_x=None, width=150 * th.scale,
                                 height=th.target, font_size=th.small))
        other = "en" if ctx.lang == "zh" else "zh"      # (no closure over ctx: kept widgets
        bar.add_widget(BigButton("English" if other == "en" else "中文", "language",  # outlive
                                 lambda: self.send(I.SetLanguage(other)), th,      # the visit)
                                 kind="secondary", size_hint_x=None, width=140 * th.scale,
                                 height=th.target, font_size=th.small))
        return bar

    def _idle_banner(self, ctx: Ctx, snap: I.Snapshot):
        """The idle warning with its countdown and "more time", in the header's own space (as
        tall as the header): it covers neither the instruction nor the keypad, and the screen
        below does not move."""
        if snap.idle_countdown is None:
            return None
        th = ctx.theme
        b = Panel(color=T.BANNER, size_hint_y=None, height=th.target + 8, padding=(8, 4),
                  spacing=10)
        b.add_widget(heading_label(th.body, T.TEXT, theme=th, text=f"{T.WARN_MARK} " + ctx.t(
            "idle.warning", seconds=snap.idle_countdown)))
        b.add_widget(BigButton(ctx.t("nav.more_time"), "more_time",
                               lambda: self.send(I.MoreTime()), th, kind="ok",
                               size_hint_x=0.35, height=th.target))
        return b

    def _banners(self, ctx: Ctx, snap: I.Snapshot):
        th = ctx.theme
        out = []
        for alert in snap.alerts:
            b = Panel(color=T.BANNER, size_hint_y=None, height=th.button_height, padding=8)
            b.add_widget(text_label(f"{T.WARN_MARK} {ctx.t(alert)}", th.instruction, T.DANGER,
                                    "center", theme=th, bold=True))
            out.append(b)
        return out

    def _footer(self, ctx: Ctx, nav: list[str]) -> Widget:
        th = ctx.theme
        bar = Panel(color=T.PANEL, size_hint_y=None, height=th.button_height + 8, padding=4,
                    spacing=12)
        for key in nav:
            label, kind = NAV[key]
            bar.add_widget(BigButton(ctx.t(label), key, lambda key=key: self._nav(key), th,
                                     kind=kind))
        return bar

    def _nav(self, key: str) -> None:
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

    def _repeat(self) -> None:
        self.send(I.Repeat())
        if self.speaker is not None:
            self.speaker.repeat()

    # -- technician entry: five taps on the top-left corner within three seconds ----------------
    def _corner_tap(self) -> None:
        now = time.monotonic()
        self._corner_taps = [t for t in self._corner_taps if now - t < 3] + [now]
        if len(self._corner_taps) >= 5 and self.maintenance is not None and \
                self.snapshot is not None and self.snapshot.screen == "attract":
            self._corner_taps = []
            self.maintenance.request_login()
            self.rerender()
