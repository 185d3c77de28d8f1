"""The composition root: wire configuration, devices, the outbox and the session of one terminal.

Nothing else in the kiosk constructs devices or sessions. `Terminal` opens every configured
device URL through a `DeviceSupervisor` (so an unplugged device closes only the matters that
need it and comes back by itself), builds the face verifier, and runs a `Session` over them.
`DemoDevices` starts the wire-level emulators and hands their URLs to the same drivers, for
`kiosk run --demo` and `kiosk simulate`: the driver under test is the driver that ships.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import logging
import tempfile
import threading
from pathlib import Path

from devices.interfaces import ConfigurationError
from devices.printer.condition import paper_of
from devices.registry import open_device, parse_device_url
from devices.slots import SLOT_NAMES, SLOTS, driver_options, slot_of_device
from devices.supervisor import DeviceSupervisor, HealthChange
from flows.catalog import Catalog
from flows.engine import check_eligibility, plan_visit
from kiosk.config import KioskConfig
from kiosk.visit.session import Devices, Session
from kiosk.visit.settings import session_settings
from kiosk.visit.packet import PacketSink

log = logging.getLogger(__name__)


def check_device_urls(config: KioskConfig) -> None:
    """Fail at start, loudly, on a URL no driver handles (nothing falls back to a dummy)."""
    for slot in SLOT_NAMES:
        parse_device_url(getattr(config.devices, slot))


class Terminal:
    def __init__(self, config: KioskConfig, catalog: Catalog, sink: PacketSink,
                 face_verifier=None, start_supervisors: bool = True, progress=None):
        check_device_urls(config)
        self.config, self.catalog, self.sink = config, catalog, sink
        self.supervisors: dict[str, DeviceSupervisor] = {}
        self.health_events: list[HealthChange] = []
        for slot in SLOT_NAMES:
            url = getattr(config.devices, slot)
            sup = DeviceSupervisor(slot, url, lambda u, slot=slot: self._open(slot, u))
            sup.subscribe(self.health_events.append)
            self.supervisors[slot] = sup.start() if start_supervisors else sup
        self.face_verifier = face_verifier if face_verifier is not None else _make_verifier(config)
        devices = Devices(face=self.face_verifier,
                          **{s.device: self.supervisors[s.name].proxy for s in SLOTS})
        self.session = Session(catalog, devices, sink, session_settings(config),
                               health=self.fault_of, progress=progress)

    def _open(self, slot: str, url: str):
        if slot == "printer" and "width=" not in url:      # the site's paper, unless the URL says
            url += ("&" if "?" in url else "?") + f"width={self.config.devices.printer_width_dots}"
        return open_device(url, expected_kind=slot, **driver_options(slot, self.config.devices))

    def fault_of(self, device: str) -> str | None:
        sup = self.supervisors.get(slot_of_device(device))
        return sup.fault if sup is not None else "device.unavailable"

    def health(self) -> dict:
        """Device health for heartbeats and the maintenance screen (no personal data)."""
        out = {}
        for slot, sup in self.supervisors.items():
            out[slot] = {"available": sup.available, "fault": sup.fault,
                         "maintenance": sup.maintenance}
        return out

    def heartbeat_health(self) -> tuple[dict, str]:
        """(devices, paper) for health.json, which the uploader's heartbeats carry: each
        device's availability and fault key, and the paper as the printer's health says it
        (devices.printer.condition: paper out is "out", never an unknown offline printer)."""
        health = self.health()
        printer = health["printer"]
        paper = paper_of(printer["fault"], printer["maintenance"], printer["available"])
        return {k: {"available": v["available"], "fault": v["fault"]}
                for k, v in health.items()}, paper

    def start(self) -> "Terminal":
        self.session.start()
        return self

    def close(self) -> None:
        self.session.stop()
        for sup in self.supervisors.values():
            with contextlib.suppress(Exception):
                sup.close()
        close_verifier = getattr(self.face_verifier, "close", None)
        if close_verifier is not None:      # the face worker process
            with contextlib.suppress(Exception):
                close_verifier()


def voice_follows_visits(session: Session, speaker) -> None:
    """The speaker follows the session's visits: elder mode (the slower elder rate) whenever a
    snapshot says elder, and the site's rate and volume again, elder off and nothing left to
    repeat, once a visit is wiped. Both happen in the session thread before the snapshot reaches
    any screen that subscribed later, so a screen's prompt is already said at the right rate."""
    def follow(snap) -> None:
        if snap.elder != speaker.elder_mode:
            speaker.elder(snap.elder)
    session.on_wipe(speaker.reset_for_new_visit)
    session.subscribe(follow)


def _make_verifier(config: KioskConfig):
    try:
        from devices.face import make_verifier
    except ImportError as exc:
        raise ConfigurationError(f"face verification is not installed: {exc}") from exc
    return make_verifier(threshold=config.face.threshold, isolated=True)


# ---------------------------------------------------------------------------------------------
class DemoDevices:
    """All four devices emulated at the wire level, for the demo, `simulate` and tests."""

    def __init__(self, work_dir: Path | None = None, faces_dir: str | None = None,
                 printer_state: str = "ok", doc_sequence: str = "clean", scenario=None):
        """`scenario`: an already loaded emulator scenario (default: the packaged one)."""
        self.work_dir = Path(work_dir or tempfile.mkdtemp(prefix="kiosk-demo-"))
        self.faces_dir = faces_dir
        self.printer_state = printer_state
        self.doc_sequence = doc_sequence
        self.scenario = scenario
        self.id_card = None
        self.printer = None
        self.current_card: str | None = None

    def start(self) -> dict[str, str]:
        from devices.id_card.emulator import EmulatorServer
        from devices.id_card.scenario import load_scenario
        from devices.printer.emulator import PrinterEmulator

        self.scenario = self.scenario or load_scenario(None, self.faces_dir)
        self.check_camera_photos()
        self.id_card = EmulatorServer(self.scenario)
        card_path = self.id_card.start_pty()
        self.id_card.remove_card()
        self.printer = PrinterEmulator(out_dir=self.work_dir / "paper")
        if self.printer_state != "ok":
            self.printer.set_state(self.printer_state)
        printer_path = self.printer.start_pty()
        return {"id_card": f"idcard+serial://{card_path}",
                "printer": f"escpos+serial://{printer_path}",
                "camera": self.camera_url(None),
                "doc_camera": f"doccam+emulator://pages?sequence={self.doc_sequence}&seed=7"
                              f"&sheet={self.sheet_path}"}

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


def choose_card(catalog: Catalog, code: str, cards: dict, today: dt.date | None = None) -> str:
    """The first emulator card (in scenario order) that may use matter `code`, faults aside."""
    plan = plan_visit(catalog, catalog.get(code))
    today = today or dt.date.today()
    for name, card in cards.items():
        faults = card.faults
        if any((faults.pull_mid_read, faults.pull_with_status, faults.read_fails,
                faults.corrupt_checksum_once, faults.garbage_before_reply)):
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
