"""Byte pipes to a receipt printer, on python-escpos's printer classes, with bounded reads.

python-escpos opens the device (`escpos.printer.Serial`, `Network`, `Usb`, `File`); we only
use its connection, never its command methods, so every byte sent is ours (see `codec.py`).
On top each transport adds what the driver needs and python-escpos does not give:

* `read(timeout)` that returns within `timeout` (b"" if nothing came). USB reads are run in a
  helper thread with a hard deadline, because USB status reads can block (python-escpos #143).
* `discard_input()` so stale replies never answer a new question.
* `can_read`: False for `File` (e.g. /dev/usb/lp0 opened write-only): status is not readable.

Serial uses `serial.serial_for_url`, so a device path (`/dev/ttyUSB0`, `/dev/pts/7`) and any
pyserial URL (`socket://127.0.0.1:9100`, `spy://…`) work.
"""
from __future__ import annotations

import socket
import threading
import time

import serial
from escpos.printer import File, Network, Serial

from devices.interfaces import ConfigurationError, DeviceUnavailable


class Transport:
    can_read = True
    description = "printer"

    def write(self, data: bytes) -> None:
        raise NotImplementedError

    def read(self, timeout: float) -> bytes:
        raise NotImplementedError

    def discard_input(self) -> None:
        while self.read(0.0):
            pass

    def close(self) -> None:
        raise NotImplementedError


class _UrlSerial(Serial):
    """escpos Serial whose port is opened with `serial_for_url` (paths and pyserial URLs)."""

    def open(self, raise_not_found: bool = True) -> None:
        self.device = serial.serial_for_url(self.devfile, baudrate=self.baudrate,
                                            timeout=self.timeout, write_timeout=30.0,
                                            dsrdtr=self.dsrdtr, xonxoff=self.xonxoff)

    def close(self) -> None:
        """Close without escpos's flush, which raises once the far end is gone."""
        port, self._device = self._device, False
        if port:
            try:
                port.close()
            except (serial.SerialException, OSError):
                pass


class SerialTransport(Transport):
    def __init__(self, port_url: str, baudrate: int = 115200, dsrdtr: bool = False):
        self.description = f"serial {port_url}"
        self._printer = _UrlSerial(devfile=port_url, baudrate=baudrate, timeout=0.05,
                                   dsrdtr=dsrdtr)
        try:
            self._printer.open()
        except (serial.SerialException, ValueError, OSError) as exc:
            raise DeviceUnavailable(f"cannot open printer port {port_url!r}: {exc}",
                                    "printer.no_reply") from None
        self._port = self._printer.device

    def write(self, data: bytes) -> None:
        try:
            self._port.write(data)
            self._port.flush()
        except (serial.SerialException, OSError) as exc:
            raise DeviceUnavailable(f"printer port write failed: {exc}", "printer.no_reply") from None

    def read(self, timeout: float) -> bytes:
        deadline = time.monotonic() + timeout
        try:
            while True:
                waiting = self._port.in_waiting
                if waiting:
                    return self._port.read(waiting)
                if time.monotonic() >= deadline:
                    return b""
                time.sleep(min(0.01, max(0.0, deadline - time.monotonic())))
        except (serial.SerialException, OSError) as exc:
            raise DeviceUnavailable(f"printer port read failed: {exc}", "printer.no_reply") from None

    def discard_input(self) -> None:
        try:
            self._port.reset_input_buffer()
        except (serial.SerialException, OSError):
            pass
        super().discard_input()

    def close(self) -> None:
        self._printer.close()


class TcpTransport(Transport):
    def __init__(self, host: str, port: int, connect_timeout: float = 5.0):
        self.description = f"tcp {host}:{port}"
        self._printer = Network(host=host, port=port, timeout=connect_timeout)
        try:
            self._printer.open()
        except Exception as exc:  # escpos raises DeviceNotFoundError wrapping OSError
            raise DeviceUnavailable(f"cannot connect to printer {host}:{port}: {exc}",
                                    "printer.no_reply") from None
        self._sock: socket.socket = self._printer.device

    def write(self, data: bytes) -> None:
        try:
            self._sock.settimeout(30.0)
            self._sock.sendall(data)
        except OSError as exc:
            raise DeviceUnavailable(f"printer connection failed: {exc}", "printer.no_reply") from None

    def read(self, timeout: float) -> bytes:
        try:
            self._sock.settimeout(max(timeout, 0.0) or 0.0)
            data = self._sock.recv(4096)
        except (socket.timeout, BlockingIOError):
            return b""
        except OSError as exc:
            raise DeviceUnavailable(f"printer connection failed: {exc}", "printer.no_reply") from None
        if not data:
            raise DeviceUnavailable("printer closed the connection", "printer.no_reply")
        return data

    def close(self) -> None:
        self._printer.close()


class UsbTransport(Transport):
    """escpos Usb (needs pyusb). Reads run in a thread and are abandoned at the deadline."""

    def __init__(self, vendor: int, product: int):
        self.description = f"usb {vendor:04x}:{product:04x}"
        try:
            from escpos.printer import Usb
            import usb.core  # noqa: F401  (pyusb)
        except ImportError as exc:
            raise ConfigurationError(f"escpos+usb needs pyusb ({exc}); pip install pyusb, or use "
                                     "escpos+file:///dev/usb/lp0?unverified=1") from None
        self._printer = Usb(vendor, product, timeout=2000)
        try:
            self._printer.open()
        except Exception as exc:
            raise DeviceUnavailable(f"cannot open USB printer {self.description}: {exc}",
                                    "printer.no_reply") from None
        self._pending: list[bytes] = []
        self._reader: threading.Thread | None = None
        self._lock = threading.Lock()

    def write(self, data: bytes) -> None:
        try:
            self._printer._raw(data)
        except Exception as exc:
            raise DeviceUnavailable(f"USB write failed: {exc}", "printer.no_reply") from None

    def _read_once(self) -> None:
        try:
            data = bytes(self._printer.device.read(self._printer.in_ep, 64, 1000))
        except Exception:
            data = b""
        with self._lock:
            if data:
                self._pending.append(data)

    def read(self, timeout: float) -> bytes:
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                if self._pending:
                    return b"".join(self._pending.pop(0) for _ in range(len(self._pending)))
            if self._reader is None or not self._reader.is_alive():
                self._reader = threading.Thread(target=self._read_once, daemon=True,
                                                name="printer-usb-read")
                self._reader.start()
            left = deadline - time.monotonic()
            if left <= 0:
                return b""
            self._reader.join(min(left, 0.05))

    def close(self) -> None:
        try:
            self._printer.close()
        except Exception:
            pass


class FileTransport(Transport):
    """A write-only device file (/dev/usb/lp0): nothing can be read back."""

    can_read = False

    def __init__(self, path: str):
        self.description = f"file {path}"
        self._printer = File(devfile=path)
        try:
            self._printer.open()
        except Exception as exc:
            raise DeviceUnavailable(f"cannot open printer file {path!r}: {exc}",
                                    "printer.no_reply") from None

    def write(self, data: bytes) -> None:
        try:
            self._printer._raw(data)
        except OSError as exc:
            raise DeviceUnavailable(f"printer file write failed: {exc}", "printer.no_reply") from None

    def read(self, timeout: float) -> bytes:
        return b""

    def discard_input(self) -> None:
        pass

    def close(self) -> None:
        try:
            self._printer.close()
        except OSError:
            pass
