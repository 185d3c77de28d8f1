"""The terminal's four device slots, defined once.

A slot is a place for one device in `[devices]` of the site configuration: its key there, the
kind of device URL it takes (`devices/registry.py` refuses a URL of another kind), what a
technician calls it, the name the visit session knows the device by, and the further
`[devices]` keys its driver is given when the terminal opens it. Everything that goes through
the slots reads this list: the composition root (kiosk/app/terminal.py), provisioning, the
doctor, the self-tests (`kiosk devices`, the maintenance screen) and the registry.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Slot:
    name: str                   # key in [devices] and the supervisor's name, e.g. "doc_camera"
    url_kind: str               # the URL's kind, e.g. "doccam" in doccam+v4l2:///dev/video2
    label: str                  # what a technician reads, e.g. "document camera"
    device: str                 # the visit session's name for it, e.g. "scanner"
    options: tuple[str, ...] = ()   # further [devices] keys handed to its driver on opening


SLOTS: tuple[Slot, ...] = (
    Slot("id_card", "idcard", "ID-card reader", "id_card", options=("wlt_library",)),
    Slot("printer", "escpos", "receipt printer", "printer"),
    Slot("camera", "camera", "face camera", "camera"),
    Slot("doc_camera", "doccam", "document camera", "scanner"),
)
SLOT_NAMES: tuple[str, ...] = tuple(s.name for s in SLOTS)
BY_NAME: dict[str, Slot] = {s.name: s for s in SLOTS}
LABELS: dict[str, str] = {s.name: s.label for s in SLOTS}


def slot_of_device(device: str) -> str:
    """The slot of a device as the session names it ("scanner" -> "doc_camera"); a name that
    is no session device name is returned as it is."""
    return next((s.name for s in SLOTS if s.device == device), device)


def driver_options(slot: str, devices_config) -> dict:
    """The `[devices]` settings the slot's driver takes, read from the configuration's
    `devices` section (e.g. {"wlt_library": "/usr/lib/libwlt2bmp.so"} for the ID-card reader)."""
    return {key: getattr(devices_config, key) for key in BY_NAME[slot].options}
