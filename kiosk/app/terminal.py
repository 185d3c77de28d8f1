"""The composition root: wire configuration, devices, the outbox and the session of one terminal.

Nothing else in the kiosk constructs devices or sessions. `Terminal` opens every configured
device URL through a `DeviceSupervisor` (so an unplugged device closes only the matters that
need it and comes back by itself), builds the face verifier, and runs a `Session` over them.
The slots are devices/slots.py's; each driver gets the `[devices]` settings its slot names
(the ID-card reader its photo decoder library). The demo's emulated devices, which hand their
URLs to these same drivers, are kiosk/app/demo_devices.py.
"""
from __future__ import annotations

import contextlib
import logging
import time
from typing import Callable

from devices.interfaces import ConfigurationError
from devices.printer.condition import paper_of
from devices.registry import open_device, parse_device_url
from devices.slots import SLOT_NAMES, SLOTS, driver_options, slot_of_device
from devices.supervisor import DeviceSupervisor
from flows.catalog import Catalog
from kiosk.app.allocator import release_freed_memory
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
                 face_verifier=None, start_supervisors: bool = True, progress=None,
                 clock: Callable[[], float] = time.monotonic):
        """`clock`: the session's monotonic clock; a soak passes a faster one
        (devices/clock.py ScaledClock) so that only waiting shrinks."""
        check_device_urls(config)
        self.config, self.catalog, self.sink = config, catalog, sink
        self.supervisors: dict[str, DeviceSupervisor] = {}
        for slot in SLOT_NAMES:
            url = getattr(config.devices, slot)
            sup = DeviceSupervisor(slot, url, lambda u, slot=slot: self._open(slot, u))
            self.supervisors[slot] = sup.start() if start_supervisors else sup
        self.face_verifier = face_verifier if face_verifier is not None else _make_verifier(config)
        devices = Devices(face=self.face_verifier,
                          **{s.device: self.supervisors[s.name].proxy for s in SLOTS})
        self.session = Session(catalog, devices, sink, session_settings(config),
                               health=self.fault_of, progress=progress, clock=clock)
        # what the visit freed goes back to the system (kiosk/app/allocator.py)
        self.session.on_wipe(release_freed_memory)

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
