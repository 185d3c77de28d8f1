"""The demo's emulated devices, for `kiosk run --demo`, `kiosk simulate`, the soak and tests.

`DemoDevices` starts the wire-level emulators (ID-card reader and printer on ptys, camera and
document camera emulators) and hands their URLs to the same drivers a terminal uses: the
driver under test is the driver that ships. `choose_card` picks an emulator card that may use a
matter; `switch_demo_card` puts another card on the reader and the same person before the
camera. The demo's back office and start are in kiosk/app/demo.py.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import logging
import tempfile
import threading
from pathlib import Path

from devices.clock import REAL_TIME, ScaledClock
from flows.catalog import Catalog
from flows.engine import check_eligibility, plan_visit
from kiosk.app.terminal import Terminal

log = logging.getLogger(__name__)


class DemoDevices:
    """All four devices emulated at the wire level, for the demo, `simulate` and tests."""

    def __init__(self, work_dir: Path | None = None, faces_dir: str | None = None,
                 printer_state: str = "ok", doc_sequence: str = "clean", scenario=None,
                 keep_paper: bool = True, clock: ScaledClock = REAL_TIME):
        """`scenario`: an already loaded emulator scenario (default: the packaged one);
        `keep_paper`: the printer emulator also saves every receipt as a PNG in paper/;
        `clock`: the ID-card emulator's (devices/clock.py; a soak's runs faster)."""
        self.work_dir = Path(work_dir or tempfile.mkdtemp(prefix="kiosk-demo-"))
        self.faces_dir = faces_dir
        self.printer_state = printer_state
        self.doc_sequence = doc_sequence
        self.scenario = scenario
        self.keep_paper = keep_paper
        self.clock = clock
        self.id_card = None
        self.printer = None
        self.current_card: str | None = None

    def start(self) -> dict[str, str]:
        from devices.id_card.emulator import EmulatorServer
        from devices.id_card.scenario import load_scenario
        from devices.printer.emulator import PrinterEmulator

        self.scenario = self.scenario or load_scenario(None, self.faces_dir)
        self.check_camera_photos()
        self.id_card = EmulatorServer(self.scenario, clock=self.clock)
        card_path = self.id_card.start_pty()
        self.id_card.remove_card()
        self.printer = PrinterEmulator(
            out_dir=self.work_dir / "paper" if self.keep_paper else None)
        if self.printer_state != "ok":
            self.printer.set_state(self.printer_state)
        printer_path = self.printer.start_pty()
        return {"id_card": f"idcard+serial://{card_path}",
                "printer": f"escpos+serial://{printer_path}",
                "camera": self.camera_url(None),
                "doc_camera": f"doccam+emulator://pages?sequence={self.doc_sequence}&seed=7"
                              f"&sheet={self.sheet_path}"}

    def plug_in_new_id_card_reader(self) -> str:
        """The ID-card reader unplugged and plugged back: the old emulator stops and a new one
        (same cards, same clock, no card on it) serves on a new pseudo-terminal, whose path is
        returned (a real reader comes back as a new /dev/ttyUSBn behind the same by-id link)."""
        from devices.id_card.emulator import EmulatorServer
        if self.id_card is not None:
            self.id_card.stop()
        self.id_card = EmulatorServer(self.scenario, clock=self.clock)
        path = self.id_card.start_pty()
        self.id_card.remove_card()
        self.current_card = None
        return path

    @property
    def sheet_path(self) -> Path:
        """While this file exists, the emulated document camera sees it lying on the desk."""
        return self.work_dir / "on-the-desk.png"

    def place_last_receipt(self, seconds: float = 15.0) -> bool:
        """Lay the receipt the printer emulator printed last under the document camera, for
        `seconds` (then the citizen takes it back). False when nothing has been printed."""
        if self.printer is None or not self.printer.jobs:
            log.info("demo: no printed receipt to place")
            return False
        tmp = self.sheet_path.with_suffix(".tmp")
        tmp.write_bytes(self.printer.png(len(self.printer.jobs) - 1))
        tmp.replace(self.sheet_path)
        taken_back = threading.Timer(seconds, lambda: self.sheet_path.unlink(missing_ok=True))
        taken_back.daemon = True
        taken_back.start()
        return True

    @property
    def cards(self) -> dict:
        return self.scenario.cards

    def camera_url(self, card_name: str | None) -> str:
        faces = f"&faces_dir={self.faces_dir}" if self.faces_dir else ""
        return f"camera+emulator://face?photo={self._live_photo(card_name)}&blink=1{faces}"

    def _live_photo(self, card_name: str | None) -> str:
        """The photo the camera shows for the holder of card `card_name` (their `_2` photo)."""
        photo = "leslie_2.jpg"
        if card_name:
            own = self.scenario.extra.get("photos", {}).get(card_name) or \
                self._photo_of(card_name)
            photo = own.replace("_1.", "_2.") if own else photo
        return photo

    def check_camera_photos(self) -> None:
        """Every face the camera may show must be readable at start, not when a visit needs it
        (`devices.assets.AssetMissing` names the file otherwise)."""
        from devices.assets import faces_dir, read_face_photo
        folder = faces_dir(self.faces_dir)
        for photo in sorted({self._live_photo(name) for name in (None, *self.scenario.cards)}):
            read_face_photo(folder / photo)

    def _photo_of(self, card_name: str) -> str | None:
        import yaml
        from devices.id_card.scenario import DEFAULT_SCENARIO
        spec = yaml.safe_load(DEFAULT_SCENARIO.read_text(encoding="utf-8"))
        return (spec.get("cards", {}).get(card_name) or {}).get("photo")

    def place_card(self, name: str) -> None:
        self.id_card.remove_card()
        self.id_card.place_card(name)
        self.current_card = name

    def remove_card(self) -> None:
        if self.id_card is not None:
            self.id_card.remove_card()

    def stop(self) -> None:
        for dev in (self.id_card, self.printer):
            if dev is not None:
                with contextlib.suppress(Exception):
                    dev.stop()


def faulty(card) -> bool:
    """True for an emulator card scripted to fail (pulled mid-read, unreadable, garbled)."""
    f = card.faults
    return any((f.pull_mid_read, f.pull_with_status, f.read_fails, f.corrupt_checksum_once,
                f.garbage_before_reply))


def choose_card(catalog: Catalog, code: str, cards: dict, today: dt.date | None = None) -> str:
    """The first emulator card (in scenario order) that may use matter `code`, faults aside."""
    plan = plan_visit(catalog, catalog.get(code))
    today = today or dt.date.today()
    for name, card in cards.items():
        if faulty(card):
            continue
        if check_eligibility(plan, card.record, today) is None:
            return name
    raise LookupError(f"no emulator card is eligible for {code}")


def switch_demo_card(terminal: Terminal, demo: DemoDevices, card_name: str) -> None:
    """Put another test card on the emulated reader and the same person before the camera."""
    sup = terminal.supervisors["camera"]
    sup.url = demo.camera_url(card_name)
    sup.mark_down("device.unavailable")
    sup.open_now()
    demo.place_card(card_name)
