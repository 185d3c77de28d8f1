"""Step 2: open every device for real; one that does not answer is reported plainly.

Non-interactive runs stop on a problem unless the answers say `on_device_problem: continue`;
the technician at the prompt retries, changes the URL, goes on without it or aborts.
"""
from __future__ import annotations

import contextlib

import click

from devices.slots import LABELS, SLOT_NAMES
from kiosk.ops.provision.common import ProvisionError, say


def opens(slot: str, url: str) -> tuple[bool, str]:
    """Open the device for real and close it again: (answers?, a plain sentence)."""
    from devices.interfaces import ConfigurationError
    from devices.registry import open_device
    try:
        device = open_device(url, expected_kind=slot)
    except ConfigurationError as exc:
        return False, f"wrong URL: {exc}"
    except Exception as exc:  # noqa: BLE001 - any failure to open is reported, not raised
        reason = getattr(exc, "reason_key", "") or type(exc).__name__
        return False, f"does not answer ({reason}): {exc}"
    try:
        if slot in ("camera", "doc_camera"):
            frame = (device.read() if slot == "camera" else device.source.read())
            detail = f"answers; frame {frame.shape[1]}x{frame.shape[0]}"
        elif slot == "printer":
            status = device.status()
            detail = f"answers; paper {status.paper.value}"
        else:
            detail = f"answers; SAM {device.sam_id()}"
        return True, detail
    except Exception as exc:  # noqa: BLE001
        return False, f"opens but fails ({getattr(exc, 'reason_key', type(exc).__name__)}): {exc}"
    finally:
        with contextlib.suppress(Exception):
            device.close()


def check_devices(urls: dict[str, str], interactive: bool, go_on: bool,
                  probe=opens) -> tuple[dict[str, str], dict]:
    """Open each device; on a problem the technician fixes the URL, retries or goes on."""
    results = {}
    for slot in SLOT_NAMES:
        while True:
            ok, detail = probe(slot, urls[slot])
            say(f"  {LABELS[slot]:16} {urls[slot]}\n  {'':16} {'OK' if ok else 'PROBLEM'}: "
                 f"{detail}")
            if ok or not interactive:
                break
            choice = click.prompt("  [r]etry, [c]hange the URL, [g]o on without it, [a]bort",
                                  type=click.Choice(["r", "c", "g", "a"]), default="r")
            if choice == "c":
                urls[slot] = click.prompt(f"  URL of the {LABELS[slot]}", default=urls[slot])
            elif choice == "g":
                go_on = True
                break
            elif choice == "a":
                raise ProvisionError("aborted by the technician; nothing was written")
        results[slot] = {"url": urls[slot], "ok": ok, "detail": detail}
    bad = [s for s in SLOT_NAMES if not results[s]["ok"]]
    if bad and not go_on:
        raise ProvisionError(
            "device problem: " + "; ".join(f"{LABELS[s]} ({results[s]['url']}) "
                                           f"{results[s]['detail']}" for s in bad)
            + ". Fix the cable/URL (devices: in the answers file) and run again, or set "
              "on_device_problem: continue. Nothing was written.")
    return urls, results
