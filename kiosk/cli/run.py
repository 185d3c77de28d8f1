"""`kiosk run`: start the touchscreen app (on a terminal, or `--demo` on any laptop).

`--demo` emulates every device at the wire level (ID-card reader and printer on ptys, camera
and document camera emulators), starts an embedded back office on 127.0.0.1, enrols this demo
terminal with a one-time token, and runs the outbox uploader in-process, so a whole visit can
be tried end to end. At start it prints where the app is drawn and how to see it, how to stop
it, and the URL of the back-office console with a reviewer login made for this run. Everything
lives in one temporary folder, removed when the demo stops (normal exit, Ctrl+C, SIGTERM).
`--autopilot CODE --screenshots DIR` then drives one visit through the real UI by simulated
touches and exits 0 once the receipt is printed.
"""
from __future__ import annotations

import contextlib
import logging
import os
import secrets
import shutil
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
DEMO_REVIEWER = "demo"


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
        # a console login for this run only (the data folder goes with the demo)
        self.reviewer = (DEMO_REVIEWER, secrets.token_urlsafe(9))
        self.services.reviewers.add(*self.reviewer)
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


def _remove_demo_folder(work: Path) -> None:
    shutil.rmtree(work, ignore_errors=True)
    log.info("demo folder removed path=%s", work)


# Waits, in a session of its own (no Ctrl+C reaches it), until its stdin closes, which happens
# when the demo process ends in any way (also killed, or its X server gone), then removes the
# folder; a second pass catches files a worker process wrote while it went down.
REAPER = """import shutil, sys, time
sys.stdin.buffer.read()
for _ in range(2):
    shutil.rmtree(sys.argv[1], ignore_errors=True)
    time.sleep(1)
"""


@contextlib.contextmanager
def _reaper(work: Path):
    """A helper process that removes the demo's folder once this process has gone."""
    import subprocess
    proc = subprocess.Popen([sys.executable, "-I", "-S", "-c", REAPER, str(work)],
                            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        yield proc
    finally:        # a normal exit: the folder is removed in-process; let the helper go
        with contextlib.suppress(OSError):
            proc.stdin.close()


def _stop_on_signals() -> None:
    """Until the app takes them over, Ctrl+C and SIGTERM unwind the start (so cleanup runs);
    also when started in the background, which ignores SIGINT (`./dev run` does so)."""
    def leave(signum, _frame):
        raise SystemExit(128 + signum)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, leave)


def _xvfb_serves(display: str) -> bool:
    """True when the X server of `display` (":99" or ":99.0") is an Xvfb, a screen nobody sees:
    the one `./dev run` started (it says so in KIOSK_VIRTUAL_DISPLAY), or xvfb-run's."""
    if display and os.environ.get("KIOSK_VIRTUAL_DISPLAY") == display:
        return True
    number = display.partition(":")[2].partition(".")[0]
    if display.partition(":")[0] not in ("", "localhost", "127.0.0.1") or not number.isdigit():
        return False
    try:    # a local X server writes its process id in /tmp/.X<n>-lock
        pid = int(Path(f"/tmp/.X{number}-lock").read_text(encoding="ascii").strip())
        return Path(f"/proc/{pid}/comm").read_text(encoding="utf-8").strip() == "Xvfb"
    except (OSError, ValueError):
        return False


def _dev_script() -> str:
    from devices.assets import REPOSITORY
    return "./dev" if Path.cwd() == REPOSITORY else str(REPOSITORY / "dev")


def watch_hint(windowed: bool) -> list[str]:
    """Where the app is drawn and how to see it, in plain words (lines of the start banner)."""
    display, driver = os.environ.get("DISPLAY", ""), os.environ.get("SDL_VIDEODRIVER", "")
    dev = _dev_script()
    if driver and driver != "x11":
        return [f"the app is drawn on this machine's own screen (SDL video driver {driver})"]
    if not display:
        return ["no display is set (DISPLAY): start it from a desktop session, "
                f"or with {dev} run, which starts a virtual screen when there is none"]
    if _xvfb_serves(display):
        auth = os.environ.get("XAUTHORITY")
        env = f"DISPLAY={display}" + (f" XAUTHORITY={auth}" if auth else "")
        return [f"the app is drawn on display {display}, a virtual screen (Xvfb) that nobody "
                "can see.",
                "To take a picture of it, in another shell:",
                f"    {env} {dev} screenshot demo.png",
                "To watch it live, stop it and start it in a window from a terminal of a "
                "desktop session (where DISPLAY is set):",
                f"    {dev} run --windowed"]
    if windowed:
        return [f"the app is drawn in a 1280x800 window on display {display}"]
    return [f"the app is drawn full screen on display {display} "
            "(add --windowed for a 1280x800 window)"]


def demo_banner(backoffice: "EmbeddedBackoffice", work: Path, windowed: bool) -> str:
    """What a newcomer needs to try the demo, printed once at start."""
    user, password = backoffice.reviewer
    watch = watch_hint(windowed)
    lines = ["kiosk demo: every device is emulated; each finished visit sends its packet to the "
             "embedded back office.",
             f"  watch:   {watch[0]}",
             *(f"           {line}" for line in watch[1:]),
             f"  stop:    press Ctrl+C here (or kill -TERM {os.getpid()}); the demo's temporary "
             f"folder {work} is removed then",
             f"  console: {backoffice.url}/console  (the embedded back office)",
             f"  login:   reviewer {user}, password {password}  (valid for this run); a finished "
             "visit's case appears under 办件 Cases",
             f"  technician PIN: {DEMO_PIN} (five taps on the top-left corner of the attract "
             "screen)"]
    return "\n".join(lines)


def _no_sound_card() -> bool:
    try:
        return "no soundcards" in Path("/proc/asound/cards").read_text()
    except OSError:
        return True


def _run(ctx, demo, autopilot_code, answers, screenshots, windowed, no_voice, elder, language):
    from kiosk.ui.bootstrap import configure_kivy
    configure_kivy(1280, 800, fullscreen=not windowed)

    from devices.assets import exit_on_missing_asset
    from kiosk.visit import intents as I
    from kiosk.config import load_config
    from kiosk.link.outbox import Outbox
    from kiosk.ui.pinyin_ime import PinyinIME
    from kiosk.link.progress_client import ProgressClient
    from kiosk.ops.technician import hash_pin
    from kiosk.app.terminal import DemoDevices, Terminal, choose_card, switch_demo_card
    from kiosk.link.updates import load_active_catalog, load_config_or_roll_back
    from kiosk.link.uploader import (Uploader, attach_updater, enrol, load_backoffice_public_key,
                                write_health)
    from protocol.keys import load_signing_key

    stack = contextlib.ExitStack()
    demo_devices = None
    uploader_stop = threading.Event()
    config_path = (ctx.find_root().obj or {}).get("config_path")
    overrides = None
    banner = None       # what the demo prints once the app is about to draw
    with stack:
        if demo:
            work = Path(tempfile.mkdtemp(prefix="kiosk-demo-"))
            stack.callback(_remove_demo_folder, work)      # registered first: runs last
            stack.enter_context(_reaper(work))
            _stop_on_signals()
            # every temporary file of the demo, ours and the libraries' (python-escpos makes a
            # folder at each import), and of its worker processes goes in the demo's folder
            tempfile.tempdir = str(work)
            os.environ["TMPDIR"] = str(work)
            demo_devices = DemoDevices(work / "devices")
            stack.callback(demo_devices.stop)
            with exit_on_missing_asset():
                urls = demo_devices.start()
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
            banner = demo_banner(backoffice, work, windowed)
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
    from kiosk.cli.simulate import load_answers
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
    from kiosk.ui.from_threads import stop_app_soon
    signals: list[int] = []

    def leave(signum, _frame):
        signals.append(signum)
        if len(signals) > 1:
            raise KeyboardInterrupt
        stop_app_soon(app)
    signal.signal(signal.SIGTERM, leave)
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


def _faulty(card) -> bool:
    f = card.faults
    return any((f.pull_mid_read, f.pull_with_status, f.read_fails, f.corrupt_checksum_once,
                f.garbage_before_reply))
