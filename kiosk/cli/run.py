"""`kiosk run`: start the touchscreen app (on a terminal, or `--demo` on any laptop).

`--demo` emulates every device at the wire level (ID-card reader and printer on ptys, camera
and document camera emulators; kiosk/app/demo_devices.py), starts an embedded back office on 127.0.0.1, enrols this demo
terminal with a one-time token, and runs the outbox uploader in-process, so a whole visit can
be tried end to end. At start it prints where the app is drawn and how to see it, how to stop
it, and the URL of the back-office console with a reviewer login made for this run. Everything
lives in one temporary folder, removed when the demo stops (normal exit, Ctrl+C, SIGTERM).
`--autopilot CODE --screenshots DIR` then drives one visit through the real UI by simulated
touches and exits 0 once the receipt is printed.
"""
from __future__ import annotations

import contextlib
import faulthandler
import logging
import os
import signal
import sys
import threading
from pathlib import Path

import click

log = logging.getLogger(__name__)


@click.command()
@click.option("--demo", is_flag=True, help="Emulated devices and an embedded back office.")
@click.option("--autopilot", "autopilot_code", metavar="CODE",
              help="Drive one visit of matter CODE through the UI by simulated touches.")
@click.option("--answers", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Applicant answers for the autopilot (see kiosk/visit/scripted_applicant.py).")
@click.option("--screenshots", type=click.Path(file_okay=False, path_type=Path),
              help="Save a PNG of every screen the autopilot passes.")
@click.option("--windowed", is_flag=True, help="A 1280x800 window instead of locked-down full screen.")
@click.option("--no-voice", is_flag=True, help="Do not speak (voice is recorded by a null backend).")
@click.option("--keypad", is_flag=True,
              help="Autopilot by the numeric keypad alone (audio-first mode, no touches); "
                   "autopilot.json gets the spoken log.")
@click.option("--elder", is_flag=True, help="Start visits in elder mode (autopilot).")
@click.option("--language", type=click.Choice(["zh", "en"]), help="Start language (autopilot).")
@click.option("--naive-baseline", is_flag=True, hidden=True,
              help="Autopilot, for benchmarks/ui_responsiveness.py: after the visit, do one page "
                   "capture on the UI thread and measure the stall it causes.")
@click.pass_context
def run(ctx, demo, autopilot_code, answers, screenshots, windowed, no_voice, keypad, elder,
        language, naive_baseline):
    """Start the kiosk app."""
    from kiosk.config import ConfigInvalid
    if autopilot_code and not demo:
        raise click.UsageError("--autopilot needs --demo")
    if keypad and not autopilot_code:
        raise click.UsageError("--keypad drives the autopilot: give --autopilot CODE too")
    ctx.obj["naive_baseline"] = naive_baseline
    ctx.obj["keypad"] = keypad
    if logging.getLogger().getEffectiveLevel() > logging.INFO:   # Kivy as quiet as -v says
        os.environ.setdefault("KCFG_KIVY_LOG_LEVEL", "warning")
    try:
        code = _run(ctx, demo, autopilot_code, answers, screenshots, windowed or bool(
            autopilot_code), no_voice, elder, language)
    except ConfigInvalid as exc:
        click.echo(f"configuration invalid:\n{exc}", err=True)
        sys.exit(2)
    sys.exit(code)


def _run(ctx, demo, autopilot_code, answers, screenshots, windowed, no_voice, elder, language):
    from kiosk.app.allocator import steady_allocator
    steady_allocator()          # before the first frame: frames go back to the system
    from kiosk.ui.bootstrap import configure_kivy
    configure_kivy(1280, 800, fullscreen=not windowed)

    from kiosk.visit import intents as I
    from kiosk.config import load_config
    from kiosk.link.outbox import Outbox
    from kiosk.ui.pinyin_ime import PinyinIME
    from kiosk.link.progress_client import ProgressClient
    from kiosk.app.demo import start_demo, start_demo_uploader
    from kiosk.app.demo_devices import choose_card, switch_demo_card
    from kiosk.app.terminal import Terminal
    from kiosk.link.updates import load_active_catalog, load_config_or_roll_back
    from kiosk.link.enrolment import load_backoffice_public_key
    from kiosk.link.health import write_health
    from protocol.keys import load_signing_key

    stack = contextlib.ExitStack()
    demo_devices = None
    uploader_stop = threading.Event()
    config_path = (ctx.find_root().obj or {}).get("config_path")
    overrides = None
    banner = None       # what the demo prints once the app is about to draw
    with stack:
        if demo:
            started = start_demo(stack, config_path, no_voice=no_voice, windowed=windowed)
            config, overrides, demo_devices = started.config, started.overrides, started.devices
            banner = started.banner
        else:
            config = load_config_or_roll_back(load_config, config_path)
        keys = config.state_dir / "keys"
        catalog = load_active_catalog(config.state_dir)   # a signed update in use, else flows/
        signing = load_signing_key(keys / "terminal.key")
        outbox = Outbox(config.state_dir, config.terminal_id, config.site.id, signing,
                        load_backoffice_public_key(keys), config.outbox.retention_days,
                        config.outbox.min_free_mb * 2**20)
        if demo:
            start_demo_uploader(stack, outbox, config, signing, uploader_stop)
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
                        answers, screenshots, windowed, PinyinIME, choose_card, switch_demo_card,
                        banner)


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
    """Signed updates staged by the uploader go in between visits (see kiosk/link/updates.py); the
    new catalogue or site profile is then handed to the screens on the Kivy thread."""
    from kiosk.ui.from_threads import set_on_running_app
    from kiosk.link.updates import UpdateApplier

    def new_catalog(catalog):
        terminal.catalog = catalog
        set_on_running_app(catalog=catalog)

    applier = UpdateApplier(config.state_dir, reload_config, on_catalog=new_catalog,
                            on_profile=lambda cfg: set_on_running_app(kiosk_config=cfg))

    def loop():
        while not stop.wait(10):
            applier.poll(terminal.session)
    threading.Thread(target=loop, daemon=True, name="updates").start()


def _run_app(terminal, catalog, config, speaker, demo_devices, autopilot_code, answers,
             screenshots, windowed, ime_factory, choose_card, switch_demo_card,
             banner: str | None = None) -> int:
    from kiosk.app.demo_devices import faulty
    from kiosk.cli.simulate import load_answers
    from kiosk.sdnotify import MainLoopWatchdog, Notifier, ReadyOnce
    from kiosk.ui.app import KioskApp
    from kiosk.ui.face_overlay import face_preview_reader
    from kiosk.ui.maintenance import Maintenance

    demo_cards, place = None, None
    if demo_devices is not None:
        demo_cards = [(name, card.record.name) for name, card in demo_devices.cards.items()
                      if not faulty(card)]
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
                   on_frame=watchdog.tick, headphone_jack=_headphone_jack(config, demo_devices))
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
        pilot_class = UiAutopilot
        if (click.get_current_context().find_root().obj or {}).get("keypad"):
            from kiosk.ui.keypad_pilot import KeypadAutopilot as pilot_class
        pilot = pilot_class(app, autopilot_code, load_answers(answers), screenshots,
                            demo_card=card, naive_work=naive)
        pilot.start()
    watchdog.start()
    # systemctl stop or Ctrl+C: leave the Kivy loop cleanly, so STOPPING=1 is sent, devices
    # close and the demo's folder is removed (by the clock: also when the loop has not begun
    # yet); a second signal interrupts whatever is running
    from kiosk.ui.from_threads import StopOnRequest
    stopper = StopOnRequest(app)
    signals: list[int] = []

    def leave(signum, _frame):
        signals.append(signum)
        if len(signals) > 1:
            raise KeyboardInterrupt
        stopper.request()
    signal.signal(signal.SIGTERM, leave)
    # `kill -USR2 PID`: where every thread is, on stderr (the journal); code locations only
    faulthandler.register(signal.SIGUSR2, all_threads=True)
    if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:     # e.g. nohup ... &
        signal.signal(signal.SIGINT, leave)
    if banner:
        click.echo(banner)
        sys.stdout.flush()
    try:
        app.run()
    finally:
        watchdog.stop()
        notifier.stopping()
    if pilot is not None:
        log.info("autopilot screens=%s result=%s", pilot.screens, pilot.result)
        return pilot.result if pilot.result is not None else 2
    return 0


def _headphone_jack(config, demo_devices):
    """The sound card's headphone-jack detection (plugging in starts audio-first mode); none
    in the demo, whose sound card is the laptop's."""
    if demo_devices is not None:
        return None
    from kiosk.ui.jack import AlsaHeadphoneJack, card_of
    return AlsaHeadphoneJack(card_of(config.voice.audio_device))

