"""Fixtures of the receipt-printer tests: a fixed Receipt and running printer emulators."""
import datetime as dt

import pytest

from devices.interfaces import Receipt
from devices.printer.emulator import PrinterEmulator
from devices.registry import open_device

FIXED_RECEIPT = Receipt(
    title="受理回执 / Acceptance receipt", site_name="乐山市市中区政务服务中心 7×24自助站",
    terminal_id="LS-SZ-007", issued_at=dt.datetime(2025, 3, 14, 22, 5),
    case_number="SZ20250314-000123", matter_name="个体工商户变更登记",
    applicant_masked="张*三", id_number_masked="1101**********1234",
    materials_received=("营业执照正本", "变更登记申请书（签字）"),
    materials_missing=("住所使用证明",), promised_date=dt.date(2025, 3, 21),
    progress_url="https://zwfw.example.gov.cn/p/SZ20250314-000123?t=ab12",
    phone="0833-12345", notes=("身份将由工作人员复核。Identity will be checked by staff.",))


@pytest.fixture
def receipt() -> Receipt:
    return FIXED_RECEIPT


@pytest.fixture(scope="session")
def receipt_job() -> bytes:
    from devices.printer.receipt_layout import layout_receipt
    return layout_receipt(FIXED_RECEIPT)


@pytest.fixture(params=["pty", "tcp", "serial-socket"])
def emulated(request, tmp_path):
    """(emulator, url) of a running printer emulator, over a real pty or TCP."""
    emulator = PrinterEmulator(out_dir=tmp_path / "paper")
    if request.param == "pty":
        url = "escpos+serial://" + emulator.start_pty()
    else:
        host, port = emulator.start_tcp()
        url = (f"escpos+tcp://{host}:{port}" if request.param == "tcp"
               else f"escpos+serial://socket://{host}:{port}")
    yield emulator, url
    emulator.stop()


@pytest.fixture
def printer(emulated):
    """(emulator, driver) — the driver opened through the device registry, as the kiosk does."""
    emulator, url = emulated
    sep = "&" if "?" in url else "?"
    driver = open_device(url + sep + "status_timeout=0.5&job_timeout=3", expected_kind="printer")
    yield emulator, driver
    driver.close()
