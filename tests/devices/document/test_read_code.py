"""Reading the QR code of a printed receipt with the document camera (办件查询 by receipt).

The receipt is printed by the real ESC/POS driver onto the printer emulator's paper, the paper
is laid under the emulated document camera, and the scanner the kiosk uses reads it back."""
import datetime as dt
import threading
from pathlib import Path

import cv2
import numpy as np
import pytest

from devices.interfaces import Receipt
from devices.document.scanner import decode_qr
from devices.printer.emulator import PrinterEmulator
from devices.registry import open_device
from kiosk.visit.cases import parse_case_reference

RECEIPT = Receipt(
    title="受理回执 / Acceptance receipt", site_name="乐山市市中区政务服务中心 7×24自助站",
    terminal_id="LS-SZ-007", issued_at=dt.datetime(2025, 3, 14, 22, 5),
    case_number="LS-SZ-007-20250314-000123", matter_name="个体工商户变更登记",
    applicant_masked="张*三", id_number_masked="1101**********1234",
    materials_received=("营业执照正本",), materials_missing=(),
    promised_date=dt.date(2025, 3, 21),
    progress_url="https://zwfw.example.gov.cn/progress/LS-SZ-007-20250314-000123",
    phone="0833-12345", notes=())

RECEIPTS = Path(__file__).resolve().parents[2] / "data" / "receipts"


@pytest.fixture(scope="module")
def printed_receipt(tmp_path_factory):
    """The receipt as it came out of the (emulated) printer, as a PNG file."""
    out = tmp_path_factory.mktemp("paper")
    emulator = PrinterEmulator(out_dir=out)
    driver = open_device("escpos+serial://" + emulator.start_pty() + "?job_timeout=5",
                         expected_kind="printer")
    try:
        driver.print_receipt(RECEIPT)
        png = out / "receipt.png"
        png.write_bytes(emulator.png(0))
        return png
    finally:
        driver.close()
        emulator.stop()


def scanner_with_sheet(sheet, timeout=5.0):
    return open_device(f"doccam+emulator://pages?sequence=nopage&seed=3&sheet={sheet}"
                       f"&timeout={timeout}", expected_kind="doc_camera")


def test_the_receipt_under_the_camera_gives_its_case_number(printed_receipt):
    scanner = scanner_with_sheet(printed_receipt)
    try:
        text = scanner.read_code()
    finally:
        scanner.close()
    assert text == RECEIPT.progress_url
    assert parse_case_reference(text) == "LS-SZ-007-20250314-000123"


def test_an_empty_desk_gives_nothing_after_the_timeout(tmp_path):
    scanner = scanner_with_sheet(tmp_path / "nothing-here.png", timeout=0.5)
    try:
        assert scanner.read_code() is None
    finally:
        scanner.close()


def test_a_material_page_without_a_code_gives_nothing(tmp_path):
    scanner = open_device("doccam+emulator://pages?sequence=clean&timeout=0.5",
                          expected_kind="doc_camera")
    try:
        assert scanner.read_code() is None
    finally:
        scanner.close()


def test_cancel_stops_reading_at_once(printed_receipt, tmp_path):
    scanner = scanner_with_sheet(tmp_path / "nothing-here.png", timeout=30)
    cancel = threading.Event()
    threading.Timer(0.2, cancel.set).start()
    try:
        assert scanner.read_code(cancel) is None
    finally:
        scanner.close()


def test_decode_qr_on_plain_images():
    assert decode_qr(np.full((480, 640, 3), 200, np.uint8)) is None
    encoder = cv2.QRCodeEncoder.create()
    code = cv2.resize(encoder.encode("https://x.example/progress/AB12"), None, fx=8, fy=8,
                      interpolation=cv2.INTER_NEAREST)
    frame = np.full((600, 800), 255, np.uint8)
    frame[100:100 + code.shape[0], 200:200 + code.shape[1]] = code
    assert decode_qr(frame) == "https://x.example/progress/AB12"


def test_a_receipt_the_classic_detector_misses_is_still_read():
    """One of about a hundred receipts the printer emulator printed in a soak: a sound QR code
    (phones read it) that OpenCV's classic detector cannot find however it is scaled. The
    terminal must read its own receipts back (办件查询 by the receipt under the camera)."""
    receipt = cv2.imread(str(RECEIPTS / "qr-the-classic-detector-misses.png"), cv2.IMREAD_GRAYSCALE)
    on_desk = cv2.copyMakeBorder(receipt, 40, 40, 40, 40, cv2.BORDER_CONSTANT, value=255)
    assert not cv2.QRCodeDetector().detectAndDecode(on_desk)[0]      # the case in point
    text = decode_qr(on_desk)
    assert text and "/progress/SOAK-0001-20261205-8D21-0076?t=" in text
