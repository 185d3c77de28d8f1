"""The printer emulator may run for days (the demo, a soak): what it keeps stays bounded."""
from devices.printer import emulator as printer_emulator
from devices.printer.emulator import PrinterEmulator


def test_the_bytes_kept_for_tests_are_the_latest_and_bounded(monkeypatch):
    monkeypatch.setattr(printer_emulator, "RECEIVED_KEPT", 1000)
    emulator = PrinterEmulator()
    feed = emulator._connect(lambda data: None)
    for i in range(50):
        feed(b"\x1b@" + bytes([0x41 + i % 26]) * 98)     # ESC @ and 98 letters: 100 bytes
    assert len(emulator.model.received) == 1000
    assert bytes(emulator.model.received).endswith(b"\x1b@" + b"X" * 98)   # the 50th
