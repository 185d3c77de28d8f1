"""The shipping driver against the emulator over a real pty and TCP: jobs, faults, reprint."""
import time

import cv2
import numpy as np
import pytest

from devices.interfaces import (ConfigurationError, DeviceError, DeviceUnavailable, PaperState,
                                ReceiptPrinter)
from devices.printer import codec
from devices.printer.driver import EscPosPrinter, UnverifiedStatus, open_from_url
from devices.printer.emulator import PrinterEmulator
from devices.printer.receipt_layout import layout_receipt
from devices.registry import open_device, parse_device_url


def _qr_text(image) -> str:
    return cv2.QRCodeDetector().detectAndDecode(np.array(image.convert("L")))[0]


def _wait(pred, timeout=2.0):
    end = time.monotonic() + timeout
    while not pred() and time.monotonic() < end:
        time.sleep(0.01)
    return pred()


def test_print_receipt_gives_one_job_with_readable_qr(printer, receipt, tmp_path):
    emulator, driver = printer
    assert isinstance(driver, ReceiptPrinter)
    status = driver.print_receipt(receipt)
    assert status.paper == PaperState.OK and status.can_print
    assert len(emulator.jobs) == 1
    width, height = emulator.jobs[0].size
    assert width == 576 and 1000 < height < 1600
    assert _qr_text(emulator.jobs[0]) == receipt.progress_url
    assert (tmp_path / "paper" / "job-0001.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert driver.last_job == layout_receipt(receipt)          # the bytes are the layout's


def test_paper_out_before_the_job(printer, receipt):
    emulator, driver = printer
    emulator.set_state("paper_out")
    with pytest.raises(DeviceError) as err:
        driver.print_receipt(receipt)
    assert err.value.reason_key == "printer.paper_out"
    emulator.set_state("ok")
    time.sleep(0.1)
    assert emulator.jobs == []


def test_paper_running_out_during_the_job_is_not_reported_printed(printer, receipt):
    emulator, driver = printer
    emulator.run_out_after(300)                  # dots: the roll ends a quarter into the receipt
    with pytest.raises(DeviceError) as err:
        driver.print_receipt(receipt)
    assert err.value.reason_key == "printer.paper_out"
    assert emulator.jobs == [] and emulator.model.torn_jobs == 1
    assert driver.status().paper == PaperState.OUT


def test_near_end_prints_and_reports_near_end(printer, receipt):
    emulator, driver = printer
    emulator.set_state("near_end")
    status = driver.print_receipt(receipt)
    assert status.paper == PaperState.NEAR_END and status.online
    assert len(emulator.jobs) == 1


@pytest.mark.parametrize("state, reason", [("cover_open", "printer.cover_open"),
                                           ("offline", "printer.offline"),
                                           ("cutter_error", "printer.cutter_error")])
def test_faults_refuse_the_job(printer, receipt, state, reason):
    emulator, driver = printer
    emulator.set_state(state)
    with pytest.raises(DeviceError) as err:
        driver.print_receipt(receipt)
    assert err.value.reason_key == reason
    assert emulator.jobs == []


def test_no_reply_is_device_unavailable(printer, receipt):
    emulator, driver = printer
    emulator.set_state("no_reply")
    started = time.monotonic()
    with pytest.raises(DeviceUnavailable) as err:
        driver.status()
    assert err.value.reason_key == "printer.no_reply"
    assert time.monotonic() - started < 1.5                      # status_timeout=0.5 bounds it


def test_reprint_last_sends_identical_bytes(printer, receipt):
    emulator, driver = printer
    with pytest.raises(DeviceError) as err:
        driver.reprint_last()
    assert err.value.reason_key == "printer.nothing_to_reprint"
    driver.print_receipt(receipt)
    assert _wait(lambda: len(emulator.model.received) > 0)
    first_end = len(emulator.model.received)
    driver.reprint_last()
    received = bytes(emulator.model.received)
    job = driver.last_job
    assert received[:first_end].count(job) == 1 and received[first_end:].count(job) == 1
    assert len(emulator.jobs) == 2
    assert np.array_equal(np.array(emulator.jobs[0]), np.array(emulator.jobs[1]))
    driver.forget_last()
    assert driver.last_job is None


def test_reprint_after_paper_is_replaced(printer, receipt):
    emulator, driver = printer
    emulator.run_out_after(300)
    with pytest.raises(DeviceError):
        driver.print_receipt(receipt)
    emulator.set_state("ok")                          # the technician put in a new roll
    assert driver.reprint_last().paper == PaperState.OK
    assert len(emulator.jobs) == 1 and _qr_text(emulator.jobs[0]) == receipt.progress_url


def test_status_survives_automatic_status_back_packets(printer):
    emulator, driver = printer
    driver._t.write(bytes([0x1D, 0x61, 0xFF]))        # someone turned ASB on
    assert _wait(lambda: emulator.model._asb == 0xFF)
    emulator.set_state("near_end")                     # -> an unsolicited ASB packet
    time.sleep(0.05)
    assert driver.status().paper == PaperState.NEAR_END
    emulator.set_state("ok")
    assert driver.status().paper == PaperState.OK


def test_test_page_prints(printer):
    emulator, driver = printer
    driver.print_test_page("T-1", "站点")
    assert len(emulator.jobs) == 1 and _qr_text(emulator.jobs[0]) == "SELFTEST T-1"


def test_58mm_width_from_the_url(emulated, receipt):
    emulator, url = emulated
    sep = "&" if "?" in url else "?"
    driver = open_device(url + sep + "width=384")
    try:
        driver.print_receipt(receipt)
    finally:
        driver.close()
    page = np.array(emulator.jobs[0].convert("L"))
    assert (page[:-20, 384:] == 255).all()              # nothing printed right of 384 dots
    assert _qr_text(emulator.jobs[0]) == receipt.progress_url


# -- URLs -----------------------------------------------------------------------------------------
def test_file_transport_needs_explicit_unverified(tmp_path, receipt):
    target = tmp_path / "lp0"
    with pytest.raises(ConfigurationError, match="unverified=1"):
        open_device(f"escpos+file://{target}")
    driver = open_device(f"escpos+file://{target}?unverified=1&width=384")
    status = driver.print_receipt(receipt)
    driver.close()
    assert isinstance(status, UnverifiedStatus) and status.verified is False
    assert target.read_bytes() == layout_receipt(receipt, 384)


@pytest.mark.parametrize("url, message", [
    ("escpos+tcp://127.0.0.1:9100?colour=red", "unknown option"),
    ("escpos+tcp://127.0.0.1:9100?width=500", "width"),
    ("escpos+tcp://127.0.0.1:9100?status_timeout=soon", "not a number"),
    ("escpos+usb://zz:01", "VID:PID"),
    ("escpos+tcp://127.0.0.1:port", "HOST:PORT"),
    ("escpos+serial://", "names no device"),
])
def test_bad_urls_are_configuration_errors(url, message):
    with pytest.raises(ConfigurationError, match=message):
        open_from_url(parse_device_url(url))


def test_usb_without_pyusb_says_what_to_install():
    pytest.importorskip("escpos.printer")
    try:
        import usb  # noqa: F401
        pytest.skip("pyusb is installed here")
    except ImportError:
        pass
    with pytest.raises(ConfigurationError, match="pyusb"):
        open_device("escpos+usb://04b8:0e15")


def test_nothing_listening_is_unavailable():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    with pytest.raises(DeviceUnavailable) as err:
        open_device(f"escpos+tcp://127.0.0.1:{port}")
    assert err.value.reason_key == "printer.no_reply"


def test_serial_url_keeps_pyserial_options(tmp_path):
    with PrinterEmulator() as emulator:
        host, port = emulator.start_tcp()
        driver = open_device(f"escpos+serial://socket://{host}:{port}?logging=info&width=384")
        try:
            assert driver.width_dots == 384 and driver.status().online
        finally:
            driver.close()


def test_unconfirmed_job_is_not_reported_printed(emulated, receipt):
    """A printer that answers DLE EOT but never GS r (no proof the job was processed)."""
    emulator, url = emulated
    driver = open_device(url + ("&" if "?" in url else "?") + "job_timeout=0.3")
    model = emulator.model
    original = model._handle
    model._handle = lambda ev: b"" if ev.name == "transmit_status" else original(ev)
    try:
        with pytest.raises(DeviceUnavailable) as err:
            driver.print_receipt(receipt)
        assert err.value.reason_key == "printer.no_reply"
    finally:
        driver.close()


def test_driver_sends_exactly_status_queries_and_job(emulated, receipt):
    emulator, url = emulated
    driver = open_device(url)
    driver.print_receipt(receipt)
    driver.close()
    assert _wait(lambda: len(emulator.jobs) == 1)
    q = b"".join(codec.realtime_status_request(n) for n in (1, 2, 3, 4))
    expected_prefix = codec.disable_auto_status_back() + q + q + layout_receipt(receipt) \
        + codec.paper_sensor_request()
    received = bytes(emulator.model.received)
    assert received.startswith(expected_prefix)
    assert received[len(expected_prefix):].replace(q, b"") == b""   # then only status polls
    assert isinstance(driver, EscPosPrinter)
