"""The demo's embedded back office and start: `kiosk run --demo`, `kiosk simulate` and tests.

The emulated devices are in kiosk/app/demo_devices.py. `EmbeddedBackoffice` is the real back
office (FastAPI + SQLite) on loopback.

`start_demo` is what `kiosk run --demo` does before the app starts: one temporary folder for
everything (removed when the demo stops, also by a helper process if this one is killed), the
emulated devices, the embedded back office with a reviewer login for this run, the demo's
configuration, and this terminal enrolled with a one-time token; `start_demo_uploader` runs the
outbox uploader in-process. `demo_banner` is what the demo prints at start (where the app is
drawn and how to see it, how to stop it, the console and its login, the technician PIN).
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
from dataclasses import dataclass
from pathlib import Path

from kiosk.app.demo_devices import DemoDevices
from kiosk.config import KioskConfig

log = logging.getLogger(__name__)

DEMO_PIN = "123456"
DEMO_REVIEWER = "demo"


# ---- the embedded back office and the demo's start --------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class EmbeddedBackoffice:
    """The real back office (FastAPI + SQLite) served by uvicorn in a thread on loopback."""

    def __init__(self, data_dir: Path):
        import uvicorn

        from backoffice import schema
        from backoffice.app import Services, create_app
        from backoffice.settings import Settings
        self.settings = Settings.for_data_dir(data_dir)
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        schema.upgrade(self.settings.database_url)    # the demo makes its own tables
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


def _no_sound_card() -> bool:
    try:
        return "no soundcards" in Path("/proc/asound/cards").read_text()
    except OSError:
        return True


@dataclass
class DemoRun:
    """What `start_demo` started; everything is stopped and removed by the exit stack."""

    config: KioskConfig
    overrides: dict             # the demo's configuration over the packaged defaults
    devices: DemoDevices
    backoffice: EmbeddedBackoffice
    banner: str                 # what to print once the app is about to draw


def start_demo(stack: contextlib.ExitStack, config_path: str | None, *, no_voice: bool,
               windowed: bool) -> DemoRun:
    """Emulated devices, the embedded back office and an enrolled demo terminal, all in one
    temporary folder that `stack` removes (and a helper process, if this one is killed)."""
    from devices.assets import exit_on_missing_asset
    from kiosk.config import load_config
    from kiosk.link.enrolment import enrol
    from kiosk.link.updates import load_config_or_roll_back
    from kiosk.ops.technician import hash_pin

    work = Path(tempfile.mkdtemp(prefix="kiosk-demo-"))
    stack.callback(_remove_demo_folder, work)      # registered first: runs last
    stack.enter_context(_reaper(work))
    _stop_on_signals()
    # every temporary file of the demo, ours and the libraries' (python-escpos makes a
    # folder at each import), and of its worker processes goes in the demo's folder
    tempfile.tempdir = str(work)
    os.environ["TMPDIR"] = str(work)
    devices = DemoDevices(work / "devices")
    stack.callback(devices.stop)
    with exit_on_missing_asset():
        urls = devices.start()
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
    enrol(backoffice.url, backoffice.token(config.terminal_id, config.site.id),
          config.terminal_id, config.state_dir / "keys")
    log.info("demo terminal enrolled with the embedded back office url=%s", backoffice.url)
    return DemoRun(config, overrides, devices, backoffice, demo_banner(backoffice, work, windowed))


def start_demo_uploader(stack: contextlib.ExitStack, outbox, config: KioskConfig, signing,
                        stop: threading.Event) -> None:
    """The outbox uploader in a thread of this process (heartbeats every 10 s), with the update
    channel attached; it ends when `stop` is set, which `stack` does."""
    from kiosk.link.uploader import Uploader, attach_updater

    uploader = Uploader(outbox, config.backoffice.url, config.terminal_id, signing,
                        config.state_dir, heartbeat_s=10)
    attach_updater(uploader, config.state_dir / "keys", config.site.id)
    threading.Thread(target=uploader.run, args=(stop,), daemon=True, name="uploader").start()
    stack.callback(stop.set)


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


def demo_banner(backoffice: EmbeddedBackoffice, work: Path, windowed: bool) -> str:
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
