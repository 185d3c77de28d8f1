"""Step 6: the self-test: every device, a signed heartbeat to the back office, and the
results printed on the receipt printer (that receipt is also the printer's test)."""
from __future__ import annotations

import contextlib
import datetime as dt

from devices.slots import LABELS, SLOT_NAMES
from kiosk import __version__
from kiosk.ops.checks import Check


def self_test(config, card_timeout: float) -> list[Check]:
    """Every device, then a signed heartbeat, then all results printed on the printer."""
    from devices.registry import open_device
    from kiosk.ops.selftest import run_self_test
    checks: list[Check] = []
    site_name = config.site.name.get("zh")
    for slot in (s for s in SLOT_NAMES if s != "printer"):    # the printer prints them last
        url = getattr(config.devices, slot)
        try:
            device = open_device(url, expected_kind=slot)
        except Exception as exc:  # noqa: BLE001 - reported, the other checks still run
            checks.append(Check.of(slot, False, f"cannot open: {getattr(exc, 'reason_key', '')} "
                                                f"{exc}".strip()))
            continue
        try:
            if slot == "id_card" and card_timeout <= 0:
                checks.append(Check.of(slot, True, f"reader answers (SAM {device.sam_id()}); "
                                                   "no card read"))
                continue
            result = run_self_test(slot, device, config.terminal_id, site_name, card_timeout)
            checks.append(Check.of(slot, result.ok, result.detail))
        finally:
            with contextlib.suppress(Exception):
                device.close()
    checks.append(_heartbeat_check(config))
    checks.append(_print_results(config, checks))
    return checks


def _heartbeat_check(config) -> Check:
    from kiosk.link.uploader import uploader_from_settings
    try:
        uploader = uploader_from_settings(config.state_dir, config.backoffice.url,
                                          config.terminal_id, site_id=config.site.id)
    except (OSError, ValueError) as exc:
        return Check.of("backoffice", False, f"keys not readable: {exc}")
    try:
        ok = uploader.send_heartbeat()
    finally:
        uploader.close()
        uploader.outbox.close()
    return Check.of("backoffice", ok, "signed heartbeat accepted" if ok else
                    "heartbeat not accepted (network, or the terminal was revoked); see the log")


def _print_results(config, checks: list[Check]) -> Check:
    from devices.interfaces import Receipt
    from devices.registry import open_device
    label = {**LABELS, "backoffice": "back office"}
    lines = tuple(f"{label.get(c.name, c.name)}: {'正常 PASS' if c.ok else '故障 FAIL'}"
                  for c in checks)
    failed = tuple(f"{label.get(c.name, c.name)}: {c.detail}"[:120] for c in checks if not c.ok)
    receipt = Receipt(
        title="开通自检 / Provisioning self-test", site_name=config.site.name.get("zh"),
        terminal_id=config.terminal_id, issued_at=dt.datetime.now().astimezone(),
        case_number="SELF-TEST", matter_name=f"kiosk {__version__}", applicant_masked="—",
        id_number_masked="—", materials_received=lines + ("receipt printer: 本页 this page",),
        materials_missing=failed, promised_date=None, progress_url="",
        phone=config.site.phone,
        notes=(f"site {config.site.id} · {config.site.kind}",
               "如能看清本页中文，打印机正常。 Readable Chinese = printer OK."))
    try:
        printer = open_device(config.devices.printer, expected_kind="printer")
    except Exception as exc:  # noqa: BLE001
        return Check.of("printer", False, f"cannot open: {getattr(exc, 'reason_key', '')} {exc}")
    try:
        status = printer.print_receipt(receipt)
        return Check.of("printer", True, f"self-test receipt printed; paper {status.paper.value}")
    except Exception as exc:  # noqa: BLE001
        reason = getattr(exc, "reason_key", type(exc).__name__)
        return Check.of("printer", False, f"{reason}: {exc}")
    finally:
        with contextlib.suppress(Exception):
            printer.close()
