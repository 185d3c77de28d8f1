"""The doctor's device checks: each slot opened for real, or the running app's health.json.

While the app runs it owns the ports, so the doctor then reads the health the app wrote in the
last minute instead (`read_fresh_health`). Printer faults come through the one status -> fault
mapping of devices.printer.condition; the photo decoder is checked as configured.
"""
from __future__ import annotations

import json
import logging
import time
from pathlib import Path

from devices.slots import SLOT_NAMES
from kiosk.ops.checks import FAIL, OK, WARN, Check
from kiosk.ops.doctor.background import Background

log = logging.getLogger(__name__)

HEALTH_FRESH_S = 60

DEVICE_ADVICE = {
    "id_card": "Check the ID-card reader's USB cable and power, that its port exists "
               "(ls -l /dev/serial/by-id/) and matches [devices] id_card; the kiosk user needs "
               "the dialout group. Then `kiosk devices test id_card`.",
    "printer": "Check the printer's power and cable and that [devices] printer names it "
               "(ls -l /dev/serial/by-id/ /dev/usb/); then `kiosk devices test printer`.",
    "camera": "Check the face camera's USB cable and that [devices] camera names it "
              "(v4l2-ctl --list-devices); the kiosk user needs the video group.",
    "doc_camera": "Check the document camera's USB cable and that [devices] doc_camera names it "
                  "(v4l2-ctl --list-devices).",
}

# What the technician reads and does for each printer fault `devices.printer.condition` names.
PRINTER_FAULTS = {
    "printer.paper_out": ("paper out",
                          "Load a new roll of 80 mm thermal paper (shiny side to the print head), "
                          "close the cover, then `kiosk devices test printer`."),
    "printer.cover_open": ("cover open", "Close the printer cover firmly."),
    "printer.cutter_error": ("cutter jammed or printer fault",
                             "Open the cover, clear the paper at the cutter, power-cycle the "
                             "printer, then `kiosk devices test printer`."),
    "printer.offline": ("printer offline", DEVICE_ADVICE["printer"]),
}
PAPER_NEAR_END = ("paper near end", "Replace the paper roll during this visit.")


def printer_check(status) -> Check:
    """The printer's check from its status, through the one status -> fault mapping."""
    from devices.printer.condition import condition_of

    fault, maintenance = condition_of(status)
    if fault:
        detail, advice = PRINTER_FAULTS.get(fault, (fault, DEVICE_ADVICE["printer"]))
        return Check("printer", FAIL, detail, advice)
    if maintenance:
        return Check("printer", WARN, *PAPER_NEAR_END)
    return Check("printer", OK, "online, paper ok")


def _probe_device(slot: str, url: str) -> Check:
    from devices.registry import open_device

    device = open_device(url, expected_kind=slot)
    try:
        if slot == "printer":
            return printer_check(device.status())
        if slot == "camera":
            frame = device.read()
            return Check("camera", OK, f"frame {frame.shape[1]}x{frame.shape[0]}")
        return Check(slot, OK, "reader answered" if slot == "id_card" else "opened")
    finally:
        try:
            device.close()
        except Exception:  # noqa: BLE001 - closing a probe must not hide its result
            log.debug("device close failed slot=%s", slot)


def device_checks(config, timeout: float) -> list[Check]:
    from devices.interfaces import ConfigurationError

    out = []
    deadline = time.monotonic() + timeout
    # all at once: one slow device delays no other
    urls = {slot: getattr(config.devices, slot) for slot in SLOT_NAMES}
    probes = {slot: Background(lambda slot=slot: _probe_device(slot, urls[slot]))
              for slot in SLOT_NAMES}
    for slot, probe in probes.items():
        url = urls[slot]
        try:
            check = probe.result(deadline - time.monotonic())
        except ConfigurationError as exc:
            check = Check(slot, FAIL, f"misconfigured: {exc}",
                          f"Fix [devices] {slot} in the site configuration (see README, "
                          "Device URLs); `kiosk config check` shows where it is set.")
        except TimeoutError as exc:
            check = Check(slot, FAIL, f"{url}: {exc}", DEVICE_ADVICE[slot])
        except Exception as exc:  # noqa: BLE001 - a diagnostic reports, it does not crash
            reason = getattr(exc, "reason_key", type(exc).__name__)
            check = Check(slot, FAIL, f"{url}: {reason}: {exc}"[:300], DEVICE_ADVICE[slot])
        out.append(check)
    return out


def read_fresh_health(state_dir: Path, now: float | None = None) -> dict | None:
    """The running app's health.json when written in the last minute, else None."""
    try:
        data = json.loads((Path(state_dir) / "health.json").read_text("utf-8"))
    except (OSError, ValueError):
        return None
    now = time.time() if now is None else now
    written = data.get("written_at") if isinstance(data, dict) else None
    if not isinstance(written, (int, float)) or now - written > HEALTH_FRESH_S:
        return None
    return data


def health_checks(health: dict) -> list[Check]:
    """Device checks from the running app's own supervisors (the ports are in use)."""
    out = []
    devices = health.get("devices") or {}
    for slot in SLOT_NAMES:
        info = devices.get(slot)
        if not isinstance(info, dict):
            out.append(Check(slot, WARN, "not reported by the running app",
                             "Restart the app: `systemctl restart kiosk-ui`."))
        elif info.get("available"):
            out.append(Check(slot, OK, "available (from the running app)"))
        else:
            fault = info.get("fault") or "unknown"
            detail, advice = PRINTER_FAULTS.get(fault, (f"unavailable: {fault}",
                                                        DEVICE_ADVICE[slot]))
            out.append(Check(slot, FAIL, f"{detail} (from the running app)", advice))
    paper = health.get("paper")
    if paper == "out":
        detail, advice = PRINTER_FAULTS["printer.paper_out"]
        out.append(Check("paper", FAIL, f"{detail} (from the running app)", advice))
    elif paper == "near_end":
        out.append(Check("paper", WARN, *PAPER_NEAR_END))
    return out


def photo_decoder_check(config) -> Check:
    lib = config.devices.wlt_library
    if not lib:
        return Check("photo decoder", WARN, "no vendor photo decoder configured: face matching "
                     "is off and staff check identity",
                     "Install the reader vendor's libwlt2bmp.so and set [devices] wlt_library.")
    if not Path(lib).is_file():
        return Check("photo decoder", FAIL, f"{lib} not found",
                     "Install the vendor library there or correct [devices] wlt_library.")
    return Check("photo decoder", OK, lib)
