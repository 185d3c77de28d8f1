"""`EscPosPrinter`: the receipt-printer driver (`devices.interfaces.ReceiptPrinter`).

URLs (`open_from_url`, via `devices.registry`):

    escpos+serial:///dev/ttyUSB1            serial port or pty (rest goes to pyserial's
    escpos+serial://socket://127.0.0.1:9100  serial_for_url, so socket://, spy:// work)
    escpos+tcp://192.168.1.50:9100          network printer (port defaults to 9100)
    escpos+usb://04b8:0e15                  USB vendor:product (needs pyusb)
    escpos+file:///dev/usb/lp0?unverified=1 write-only device file

Options in the query string: `width=576|384` (dots; default 576 = 80 mm), `baudrate=115200`
(serial), `status_timeout=1.0` (s per DLE EOT reply), `job_timeout=` (s; default 10 + transfer
time), `cut=partial`. For `escpos+serial` our options are taken out of the query and the rest
is left for pyserial.

A job: read real-time status (DLE EOT 1, 2, 3, 4); refuse to print on a fault (DeviceError
`printer.paper_out` / `printer.cover_open` / `printer.cutter_error` / `printer.offline`, as
`condition.fault_of` reads the status: the one mapping the supervisor and the doctor use too);
send the job bytes followed by `GS r 1`, which the printer answers only after it has processed
everything before it; while waiting, poll DLE EOT so a roll that runs out mid-job is seen at
once; finally read status again. The job is reported printed only if the `GS r` reply came and
the status after it is clean; paper near end prints and is returned as `PaperState.NEAR_END`
for a maintenance alert. No reply to DLE EOT within `status_timeout` is DeviceUnavailable
`printer.no_reply`. The last receipt's bytes are kept for `reprint_last()` until
`forget_last()`, which the session calls when it wipes the visit.

Write-only transports (`escpos+file`): status cannot be read, so nothing can be confirmed.
Such a URL must say `?unverified=1`, or opening fails with ConfigurationError; then `status()`
and `print_receipt()` return an `UnverifiedStatus` (`verified=False`; online/OK are assumed,
not measured) and the log says so once. Prefer escpos+usb or escpos+serial on a kiosk.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode

from devices.interfaces import (ConfigurationError, DeviceError, DeviceUnavailable, PaperState,
                                PrinterStatus, Receipt)
from devices.printer import codec
from devices.printer.condition import fault_of
from devices.printer.receipt_layout import WIDTH_80MM, layout_receipt, layout_test_page
from devices.printer.transport import (FileTransport, SerialTransport, TcpTransport, Transport,
                                       UsbTransport)
from devices.registry import DeviceUrl

log = logging.getLogger(__name__)

STATUS_TIMEOUT = 1.0
FIRST_POLL_S = 0.1           # first DLE EOT poll after the job was sent,
STATUS_POLL_S = 0.5          # then this often while it is printing
JOB_BASE_TIMEOUT = 10.0      # printing a receipt takes a few seconds on a thermal printer
OUR_OPTIONS = ("width", "baudrate", "status_timeout", "job_timeout", "cut", "unverified")


@dataclass(frozen=True)
class UnverifiedStatus(PrinterStatus):
    """A status that was assumed, not read (write-only transport)."""

    verified: bool = False


class EscPosPrinter:
    """A `ReceiptPrinter` over any `Transport`."""

    def __init__(self, transport: Transport, width_dots: int = WIDTH_80MM, *,
                 status_timeout: float = STATUS_TIMEOUT, job_timeout: float | None = None,
                 partial_cut: bool = False, bytes_per_s: float = 11520.0, font=None):
        self._t = transport
        self.width_dots = width_dots
        self.status_timeout = status_timeout
        self.job_timeout = job_timeout
        self.partial_cut = partial_cut
        self.bytes_per_s = bytes_per_s
        self._font = font
        self._parser = codec.StatusStreamParser()
        self._replies: list[int] = []
        self._sync_seen = False
        self._last_job: bytes | None = None
        self._kept = 0                  # bumped by forget_last: a job started before it is not kept
        self.last_status: PrinterStatus | None = None
        if not transport.can_read:
            log.warning("printer status not readable on %s: jobs are sent unconfirmed",
                        transport.description)

    # -- ReceiptPrinter ----------------------------------------------------------------------
    def initialise(self) -> None:
        """Turn automatic status back off and check that the printer answers at all."""
        if self._t.can_read:
            self._t.write(codec.disable_auto_status_back())
            self.status()

    def status(self) -> PrinterStatus:
        if not self._t.can_read:
            return UnverifiedStatus(online=True, paper=PaperState.OK)
        self._t.discard_input()
        self._parser = codec.StatusStreamParser()
        self._replies.clear()
        self.last_status = self._read_status()
        return self.last_status

    def print_receipt(self, receipt: Receipt) -> PrinterStatus:
        kept = self._kept
        data = layout_receipt(receipt, self.width_dots, font=self._font,
                              partial_cut=self.partial_cut)
        return self._run_job(data, "receipt", kept)

    def print_test_page(self, terminal_id: str = "-", site_name: str = "-") -> PrinterStatus:
        import datetime as dt
        kept = self._kept
        data = layout_test_page(self.width_dots, terminal_id=terminal_id, site_name=site_name,
                                printed_at=dt.datetime.now(), font=self._font)
        return self._run_job(data, "test_page", kept)

    def reprint_last(self) -> PrinterStatus:
        """Send the last receipt's bytes again, for the applicant whose visit printed it (until
        `forget_last`); DeviceError `printer.nothing_to_reprint` when there is none."""
        kept, last = self._kept, self._last_job
        if last is None:
            raise DeviceError("no job to reprint", "printer.nothing_to_reprint")
        return self._run_job(last, "reprint", kept)

    @property
    def last_job(self) -> bytes | None:
        return self._last_job

    def forget_last(self) -> None:
        """Drop the kept receipt (a masked name, a case number): the session calls this when it
        wipes the visit. Safe alongside a job in progress: that job's bytes are not kept."""
        self._kept += 1
        self._last_job = None

    def close(self) -> None:
        self._t.close()

    def __enter__(self) -> "EscPosPrinter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- the job -----------------------------------------------------------------------------
    def _run_job(self, data: bytes, kind: str, kept: int) -> PrinterStatus:
        """Print `data`, kept for `reprint_last` unless `forget_last` came since the caller read
        `kept` from `_kept` (a wipe while the job was being laid out or sent)."""
        started = time.monotonic()
        before = self.status()
        fault = fault_of(before)
        if fault:
            log.info("printer job refused kind=%s reason=%s", kind, fault)
            raise DeviceError(f"printer not ready before {kind}: {fault}", fault)
        if kept == self._kept:
            self._last_job = data
        if not self._t.can_read:
            self._t.write(data)
            log.info("printer job sent unconfirmed kind=%s bytes=%d", kind, len(data))
            return before
        self._sync_seen = False
        self._t.write(data + codec.paper_sensor_request())
        timeout = self.job_timeout if self.job_timeout is not None else (
            JOB_BASE_TIMEOUT + len(data) / self.bytes_per_s)
        deadline = time.monotonic() + timeout
        next_poll = time.monotonic() + FIRST_POLL_S
        while not self._sync_seen and time.monotonic() < deadline:
            self._pump(min(0.05, max(0.0, deadline - time.monotonic())))
            if not self._sync_seen and time.monotonic() >= next_poll:
                fault = fault_of(self._read_status())
                if fault:
                    return self._failed(kind, fault, "during")
                next_poll = time.monotonic() + STATUS_POLL_S
        after = self._read_status()
        self.last_status = after
        fault = fault_of(after)
        if fault:
            return self._failed(kind, fault, "after")
        if not self._sync_seen:
            log.info("printer job unconfirmed kind=%s timeout_s=%.1f", kind, timeout)
            raise DeviceUnavailable(f"{kind} not confirmed by the printer within {timeout:.1f}s",
                                    "printer.no_reply")
        log.info("printer job printed kind=%s bytes=%d paper=%s ms=%d", kind, len(data),
                 after.paper.value, (time.monotonic() - started) * 1000)
        return after

    def _failed(self, kind: str, fault: str, when: str):
        log.info("printer job failed kind=%s reason=%s when=%s", kind, fault, when)
        raise DeviceError(f"{kind} not printed: {fault} ({when} the job)", fault)

    # -- status ------------------------------------------------------------------------------
    def _pump(self, timeout: float) -> None:
        data = self._t.read(timeout)
        for item in self._parser.feed(data) if data else ():
            if isinstance(item, codec.DleEotReply):
                self._replies.append(item.byte)
            elif isinstance(item, codec.StrayByte) and item.byte & 0x90 == 0:
                self._sync_seen = True          # the GS r 1 reply: everything before it is done
            elif isinstance(item, codec.AutoStatusPacket):
                log.debug("printer sent an automatic status packet; ignored")

    def _query(self, n: int) -> int:
        self._replies.clear()
        self._t.write(codec.realtime_status_request(n))
        deadline = time.monotonic() + self.status_timeout
        while not self._replies:
            left = deadline - time.monotonic()
            if left <= 0:
                raise DeviceUnavailable(f"no reply to DLE EOT {n} within {self.status_timeout}s",
                                        "printer.no_reply")
            self._pump(min(left, 0.05))
        return self._replies.pop(0)

    def _read_status(self) -> PrinterStatus:
        return codec.status_from_replies(*(self._query(n) for n in (1, 2, 3, 4)))


# ------------------------------------------------------------------------------------------------
def _split_serial_rest(rest: str) -> tuple[str, dict[str, str]]:
    """escpos+serial keeps its query for pyserial: take our options out, leave the others."""
    if "?" not in rest:
        return rest, {}
    base, qs = rest.split("?", 1)
    ours, theirs = {}, []
    for key, value in parse_qsl(qs, keep_blank_values=True):
        if key in OUR_OPTIONS:
            ours[key] = value
        else:
            theirs.append((key, value))
    return (base + "?" + urlencode(theirs)) if theirs else base, ours


def _number(opts: dict[str, str], key: str, kind, default, url: str):
    if key not in opts:
        return default
    try:
        return kind(opts[key])
    except ValueError:
        raise ConfigurationError(f"{url!r}: option {key}={opts[key]!r} is not a number") from None


def open_from_url(url: DeviceUrl, *, width_dots: int | None = None, font=None) -> EscPosPrinter:
    """Open the printer an `escpos+…://` URL names (registry factory)."""
    rest, opts = url.rest, dict(url.query)
    if url.scheme == "escpos+serial":
        rest, ours = _split_serial_rest(rest)
        opts.update(ours)
    unknown = set(opts) - set(OUR_OPTIONS)
    if unknown:
        raise ConfigurationError(f"{url.url!r}: unknown option(s) {', '.join(sorted(unknown))};"
                                 f" known: {', '.join(OUR_OPTIONS)}")
    width = width_dots or _number(opts, "width", int, WIDTH_80MM, url.url)
    if width % 8 or not 192 <= width <= 1024:
        raise ConfigurationError(f"{url.url!r}: width must be a multiple of 8 in 192..1024 "
                                 "(576 for 80 mm, 384 for 58 mm paper)")
    if not rest:
        raise ConfigurationError(f"{url.url!r} names no device")
    status_timeout = _number(opts, "status_timeout", float, STATUS_TIMEOUT, url.url)
    job_timeout = _number(opts, "job_timeout", float, None, url.url)
    baudrate = _number(opts, "baudrate", int, 115200, url.url)
    transport = _open_transport(url, rest, opts, baudrate)
    printer = EscPosPrinter(transport, width, status_timeout=status_timeout,
                            job_timeout=job_timeout, partial_cut=opts.get("cut") == "partial",
                            bytes_per_s=baudrate / 10, font=font)
    try:
        printer.initialise()
    except BaseException:
        printer.close()
        raise
    return printer


def _open_transport(url: DeviceUrl, rest: str, opts: dict[str, str], baudrate: int) -> Transport:
    if url.scheme == "escpos+serial":
        return SerialTransport(rest, baudrate=baudrate)
    if url.scheme == "escpos+tcp":
        host, _, port = rest.rstrip("/").rpartition(":")
        if not host:
            host, port = rest.rstrip("/"), "9100"
        if not port.isdigit():
            raise ConfigurationError(f"{url.url!r}: expected escpos+tcp://HOST:PORT")
        return TcpTransport(host, int(port))
    if url.scheme == "escpos+usb":
        vid, _, pid = rest.strip("/").partition(":")
        try:
            ids = int(vid, 16), int(pid, 16)
        except ValueError:
            raise ConfigurationError(f"{url.url!r}: expected escpos+usb://VID:PID in hex, "
                                     "e.g. escpos+usb://04b8:0e15") from None
        return UsbTransport(*ids)
    if url.scheme == "escpos+file":
        if opts.get("unverified") not in ("1", "true", "yes"):
            raise ConfigurationError(
                f"{url.url!r}: a device file is write-only, so paper-out and cover-open cannot "
                "be seen and no receipt can be confirmed printed. Use escpos+usb://VID:PID or "
                "escpos+serial://…, or add ?unverified=1 to accept unconfirmed printing.")
        return FileTransport(rest)
    raise ConfigurationError(f"{url.url!r} is not an escpos URL")
