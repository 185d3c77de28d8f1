"""Device self-tests a technician runs: read a card, print a test receipt, grab a frame, scan.

Shared by `kiosk devices test KIND` and the maintenance screen. Each test returns a
`SelfTestResult` with a plain sentence and never any personal data (a card test reports the
card type and that the check digit is valid, not the name or number).
"""
from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass

from devices.interfaces import DeviceError, Receipt


@dataclass(frozen=True)
class SelfTestResult:
    kind: str
    ok: bool
    detail: str
    seconds: float


def run_self_test(kind: str, device, terminal_id: str = "", site_name: str = "",
                  card_timeout: float = 15.0) -> SelfTestResult:
    """Self-test the device of slot `kind` (one of devices.slots.SLOT_NAMES)."""
    started = time.monotonic()
    try:
        detail = {"id_card": _card, "printer": _printer, "camera": _camera,
                  "doc_camera": _doc}[kind](device, terminal_id, site_name, card_timeout)
        ok = True
    except DeviceError as exc:
        ok, detail = False, f"{exc.reason_key}: {exc}"
    except OSError as exc:
        ok, detail = False, f"device.unavailable: {exc.__class__.__name__}"
    return SelfTestResult(kind, ok, detail, round(time.monotonic() - started, 2))


def _card(reader, terminal_id, site_name, timeout):
    card = reader.read_card(timeout=timeout)
    if card is None:
        raise DeviceError(f"no card placed within {timeout:.0f} s", "id_card.waiting")
    photo = "decoded 102x126" if card.photo_bgr is not None else "not decoded"
    return f"card read: type={card.card_type.value}, photo {photo}"


def _printer(printer, terminal_id, site_name, timeout):
    receipt = Receipt(
        title="自检 / Self-test", site_name=site_name or "—", terminal_id=terminal_id or "—",
        issued_at=dt.datetime.now().astimezone(), case_number="TEST-000000",
        matter_name="打印机自检 Printer self-test", applicant_masked="—", id_number_masked="—",
        materials_received=("中文打印测试：政务服务 7×24",), materials_missing=(),
        promised_date=None, progress_url="https://example.invalid/selftest", phone="12345",
        notes=("如能看清本页中文和二维码，打印机正常。",))
    status = printer.print_receipt(receipt)
    return f"printed; paper={status.paper.value}"


def _camera(camera, terminal_id, site_name, timeout):
    frame = camera.read()
    h, w = frame.shape[:2]
    return f"frame {w}x{h}, mean brightness {float(frame.mean()):.0f}"


def _doc(scanner, terminal_id, site_name, timeout):
    page = scanner.capture_page()
    if not page.accepted:
        return f"page seen but rejected: {page.reason_key} (place a clean page to pass)"
    return f"page accepted {page.width_px}x{page.height_px} at {page.dpi} dpi"
