"""`kiosk run`: start the touchscreen app (on a terminal, or `--demo` on any laptop).

`--demo` emulates every device at the wire level (ID-card reader and printer on ptys, camera
and document camera emulators), starts an embedded back office on 127.0.0.1, enrols this demo
terminal with a one-time token, and runs the outbox uploader in-process, so a whole visit can
be tried end to end. `--autopilot CODE --screenshots DIR` then drives one visit through the real
UI by simulated touches and exits 0 once the receipt is printed.
"""
from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

import click

log = logging.getLogger(__name__)
DEMO_PIN = "123456"


@click.command()
@click.option("--demo", is_flag=True, help="Emulated devices and an embedded back office.")
@click.option("--autopilot", "autopilot_code", metavar="CODE",
              help="Drive one visit of matter CODE through the UI by simulated touches.")
@click.option("--answers", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Applicant answers for the autopilot (see kiosk/autopilot.py).")
@click.option("--screenshots", type=click.Path(file_okay=False, path_type=Path),
              help="Save a PNG of every screen the autopilot passes.")
@click.option("--windowed", is_flag=True, help="A 1280x800 window instead of locked-down full screen.")
@click.option("--no-voice", is_flag=True, help="Do not speak (voice is recorded by a null backend).")
@click.option("--elder", is_flag=True, help="Start visits in elder mode (autopilot).")
@click.option("--language", type=click.Choice(["zh", "en"]), help="Start language (autopilot).")
@click.option("--naive-baseline", is_flag=True, hidden=True,
              help="Autopilot, for benchmarks/ui_responsiveness.py: after the visit, do one page "
                   "capture on the UI thread and measure the stall it causes.")
@click.pass_context
def run(ctx, demo, autopilot_code, answers, screenshots, windowed, no_voice, elder, language,
        naive_baseline):
    """Start the kiosk app."""
    from kiosk.config import ConfigInvalid
    if autopilot_code and not demo:
        raise click.UsageError("--autopilot needs --demo")
    ctx.obj["naive_baseline"] = naive_baseline
    try:
        code = _run(ctx, demo, autopilot_code, answers, screenshots, windowed or bool(
            autopilot_code), no_voice, elder, language)
    except ConfigInvalid as exc:
        click.echo(f"configuration invalid:\n{exc}", err=True)
        sys.exit(2)
    sys.exit(code)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class EmbeddedBackoffice:
    """The real back office (FastAPI + SQLite) served by uvicorn in a thread on loopback."""

    def __init__(self, data_dir: Path):
        import uvicorn

        from backoffice.app import Services, create_app
        from backoffice.settings import Settings
        self.settings = Settings.for_data_dir(data_dir)
        self.services = Services.start(self.settings)
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(create_app(self.settings), host="127.0.0.1", port=self.port,
                                log_level="warning", access_log=False)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="backoffice", daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started and time.monotonic() < deadline:
            time.sleep(0.05)

    def token(self, terminal_id: str, site: str) -> str:
        return self.services.fleet.create_token(terminal_id, site, 1.0)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=5)


def _no_sound_card() -> bool:
    try:
        return "no soundcards" in Path("/proc/asound/cards").read_text()
    except OSError:
        return True


def _run(ctx, demo, autopilot_code, answers, screenshots, windowed, no_voice, elder, language):
    from kiosk.ui.bootstrap import configure_kivy
    configure_kivy(1280, 800, fullscreen=not windowed)

    from kiosk import intents as I
    from kiosk.config import load_config
    from kiosk.outbox import Outbox
    from kiosk.packet import load_signing_key
    from kiosk.pinyin_ime import PinyinIME
    from kiosk.progress import ProgressClient
    from kiosk.technician import hash_pin
    from kiosk.terminal import DemoDevices, Terminal, choose_card, switch_demo_card
    from kiosk.updates import load_active_catalog, load_config_or_roll_back
    from kiosk.uploader import (Uploader, attach_updater, enrol, load_backoffice_public_key,
                                write_health)

    stack = contextlib.ExitStack()
    demo_devices = None
    uploader_stop = threading.Event()
    config_path = (ctx.find_root().obj or {}).get("config_path")
    overrides = None
    with stack:
        if demo:
            work = Path(tempfile.mkdtemp(prefix="kiosk-demo-"))
            demo_devices = DemoDevices(work / "devices")
            urls = demo_devices.start()
            stack.callback(demo_devices.stop)
            backoffice = EmbeddedBackoffice(work / "backoffice")
            stack.callback(backoffice.stop)
            overrides = {"terminal_id": "DEMO-0001", "state_dir": str(work / "state"),
                         "devices": urls, "backoffice": {"url": backoffice.url},
                         "site": {"id": "demo-site", "name": {
                             "zh": "市民中心 7×24 小时自助受理站",
                             "en": "Civic Centre 24/7 self-service station"},
                             "branding": "演示模式 · 所有设备均为模拟 / Demo: all devices emulated"},
                         "maintenance": {"pin_hash": hash_pin(DEMO_PIN)},
                         "timeouts": {"receipt_take_s": 4}}
            if no_voice or _no_sound_card():
                overrides["voice"] = {"audio_device": "null"}
            config = load_config_or_roll_back(load_config, config_path, overrides)
            keys = config.state_dir / "keys"
            enrol(backoffice.url, backoffice.token(config.terminal_id, config.site.id),
                  config.terminal_id, keys)
            log.info("demo terminal enrolled with the embedded back office url=%s", backoffice.url)
        else:
            config = load_config_or_roll_back(load_config, config_path)
            keys = config.state_dir / "keys"
        catalog = load_active_catalog(config.state_dir)   # a signed update in use, else flows/
        signing = load_signing_key(keys / "terminal.key")
        outbox = Outbox(config.state_dir, config.terminal_id, config.site.id, signing,
                        load_backoffice_public_key(keys), config.outbox.retention_days,
                        config.outbox.min_free_mb * 2**20)
        if demo:
            uploader = Uploader(outbox, config.backoffice.url, config.terminal_id, signing,
                                config.state_dir, heartbeat_s=10)
            attach_updater(uploader, keys, config.site.id)
            t = threading.Thread(target=uploader.run, args=(uploader_stop,), daemon=True,
                                 name="uploader")
            t.start()
            stack.callback(uploader_stop.set)
        progress = ProgressClient(config.backoffice.url, config.terminal_id, signing)
        terminal = Terminal(config, catalog, outbox, progress=progress).start()
        stack.callback(terminal.close)
        speaker = _speaker(config, no_voice)
        if speaker is not None:
            stack.callback(speaker.close)
        _health_writer(terminal, config, write_health, uploader_stop)
        _update_applier(terminal, config, lambda: load_config(config_path, overrides),
                        uploader_stop)
        if elder:
            terminal.session.send(I.SetElderMode(True))
        if language:
            terminal.session.send(I.SetLanguage(language))
        return _run_app(terminal, catalog, config, speaker, demo_devices, autopilot_code,
                        answers, screenshots, windowed, PinyinIME, choose_card, switch_demo_card)


def _speaker(config, no_voice: bool):
    from voice import NullBackend, Speaker, VoiceSettings
    settings = VoiceSettings.from_config(config.voice, cache_dir=config.state_dir / "voice-cache")
    if no_voice:
        backend = NullBackend()
        return Speaker(settings, synthesizer=backend, player=backend)
    speaker = Speaker(settings)
    speaker.prewarm()
    return speaker


def _health_writer(terminal, config, write_health, stop: threading.Event) -> None:
    """Device health for the uploader's heartbeats (health.json, atomic; no personal data)."""
    from kiosk import __version__

    def loop():
        while not stop.wait(10):
            devices, paper = terminal.heartbeat_health()
            try:
                write_health(config.state_dir, devices, paper, {"app": __version__})
            except OSError as exc:
                log.warning("health file not written error=%s", type(exc).__name__)
    threading.Thread(target=loop, daemon=True, name="health").start()


def _update_applier(terminal, config, reload_config, stop: threading.Event) -> None:
    """Signed updates staged by the uploader go in between visits (see kiosk/updates.py); the
    new catalogue or site profile is then handed to the screens on the Kivy thread."""
    from kivy.app import App
    from kivy.clock import Clock

    from kiosk.updates import UpdateApplier

    def to_screens(**attrs):
        def assign(_dt):
            app = App.get_running_app()
            if app is not None:
                for name, value in attrs.items():
                    setattr(app, name, value)
                app.rerender()
        Clock.schedule_once(assign)

    def new_catalog(catalog):
        terminal.catalog = catalog
        to_screens(catalog=catalog)

    applier = UpdateApplier(config.state_dir, reload_config, on_catalog=new_catalog,
                            on_profile=lambda cfg: to_screens(kiosk_config=cfg))

    def loop():
        while not stop.wait(10):
            applier.poll(terminal.session)
    threading.Thread(target=loop, daemon=True, name="updates").start()


def _run_app(terminal, catalog, config, speaker, demo_devices, autopilot_code, answers,
             screenshots, windowed, ime_factory, choose_card, switch_demo_card) -> int:
    from kiosk.cli_simulate import load_answers
    from kiosk.sdnotify import MainLoopWatchdog, Notifier, ReadyOnce
    from kiosk.ui.app import KioskApp
    from kiosk.ui.face_overlay import face_preview_reader
    from kiosk.ui.maintenance import Maintenance

    demo_cards, place = None, None
    if demo_devices is not None:
        demo_cards = [(name, card.record.name) for name, card in demo_devices.cards.items()
                      if not _faulty(card)]
        place = lambda name: switch_demo_card(terminal, demo_devices, name)  # noqa: E731
    demo_receipt = None if demo_devices is None else \
        (lambda: threading.Thread(target=demo_devices.place_last_receipt, daemon=True).start())
    app_box: list = []
    maintenance = Maintenance(lambda: app_box[0], terminal, config.maintenance.pin_hash,
                              outbox_status=terminal.sink.status)
    camera = terminal.supervisors["camera"].proxy
    # systemd (Type=notify): READY once the attract screen is drawn; the Kivy clock ticks the
    # watchdog (on_frame), so a frozen UI is restarted.
    notifier = Notifier()
    watchdog = MainLoopWatchdog(notifier, "UI main loop")
    def verifying() -> bool:
        snap = app_box[0].snapshot if app_box else None
        return snap is not None and snap.screen == "face" and snap.busy

    face_read = face_preview_reader(terminal.face_verifier, camera.read, verifying)
    app = KioskApp(terminal.session, catalog, config, speaker=speaker, camera_read=face_read,
                   doc_read=terminal.supervisors["doc_camera"].proxy.preview,
                   ime_factory=ime_factory, lockdown=not windowed, maintenance=maintenance,
                   demo_cards=demo_cards, place_demo_card=place, demo_receipt=demo_receipt,
                   on_frame=watchdog.tick)
    app.rendered_listeners.append(ReadyOnce(notifier, lambda snap, _name: snap.screen == "attract"))
    app_box.append(app)
    pilot = None
    if autopilot_code:
        from kiosk.ui.autopilot import UiAutopilot
        catalog.get(autopilot_code)
        card = choose_card(catalog, autopilot_code, demo_devices.cards)
        naive = None
        if (click.get_current_context().find_root().obj or {}).get("naive_baseline"):
            naive = terminal.supervisors["doc_camera"].proxy.capture_page
        pilot = UiAutopilot(app, autopilot_code, load_answers(answers), screenshots,
                            demo_card=card, naive_work=naive)
        pilot.start()
    watchdog.start()
    # systemctl stop: leave the Kivy loop cleanly, so STOPPING=1 is sent and devices close
    signal.signal(signal.SIGTERM, lambda *_: app.stop())
    try:
        app.run()
    finally:
        watchdog.stop()
        notifier.stopping()
    if pilot is not None:
        log.info("autopilot screens=%s result=%s", pilot.screens, pilot.result)
        return pilot.result if pilot.result is not None else 2
    return 0


def _faulty(card) -> bool:
    f = card.faults
    return any((f.pull_mid_read, f.pull_with_status, f.read_fails, f.corrupt_checksum_once,
                f.garbage_before_reply))
