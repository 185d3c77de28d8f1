"""`SamReader`: the resident ID-card reader driver over a serial port (pyserial).

URL scheme `idcard+serial://<rest>`: `rest` goes to `serial.serial_for_url` as it is, so it can
be a device path (`/dev/ttyUSB0`, `/dev/pts/5`) or any pyserial URL (`socket://127.0.0.1:7001`,
`loop://`, `spy://...`). 115200 8N1.

Reading a card: poll "find" (20 01) until a card answers 9F, "select" (20 02), then "read text
+ photo" (30 01, or 30 10 with fingerprint). Each command waits for a whole reply frame; a reply
with a bad checksum (or the reader's own 10 "checksum error") is retried once. A reply that
starts and then stalls, or status 41, means the read broke off: the driver then asks "select"
whether the card is still there — gone: `id_card.pulled`; still there: `id_card.unreadable`.
Presence (`card_present`) follows the readers' semantics (see emulator.py): "find" succeeds for
a freshly placed card, "select" for a card that was found and still lies in the field — after
a successful read "find" fails until the card is placed again, so "select" is what tells a
forgotten card. Nothing personal is ever logged: only command names, statuses and timings.
"""
from __future__ import annotations

import dataclasses
import logging
import termios
import time

import serial

from devices.id_card import codec
from devices.id_card.photo import AutoPhotoDecoder, PhotoDecoder
from devices.interfaces import CardRecord, ConfigurationError, DeviceError, DeviceUnavailable
from devices.registry import DeviceUrl

log = logging.getLogger(__name__)

BAUDRATE = 115200
COMMAND_TIMEOUT = 0.5      # find/select/SAM commands: readers answer within ~100 ms
READ_TIMEOUT = 3.0         # 30 01 within ~2 s
READ_FP_TIMEOUT = 4.0      # 30 10 within ~3 s
STALL_TIMEOUT = 0.5        # a started frame that gets no byte for this long was cut off
POLL_INTERVAL = 0.3        # between "find" polls while waiting for a card
PORT_READ_TIMEOUT = 0.05


class _Truncated(Exception):
    """A reply frame started but did not finish (internal)."""


class SamReader:
    """`devices.interfaces.IdCardReader` over the SAM serial protocol."""

    def __init__(self, port, photo_decoder: PhotoDecoder | None = None, *,
                 fingerprint: bool = False, read_new_address: bool = False,
                 command_timeout: float = COMMAND_TIMEOUT, read_timeout: float | None = None,
                 stall_timeout: float = STALL_TIMEOUT, poll_interval: float = POLL_INTERVAL):
        self._port = port
        self._decoder = photo_decoder or AutoPhotoDecoder.from_env()
        self.fingerprint = fingerprint
        self.read_new_address = read_new_address
        self.command_timeout = command_timeout
        self.read_timeout = read_timeout or (READ_FP_TIMEOUT if fingerprint else READ_TIMEOUT)
        self.stall_timeout = stall_timeout
        self.poll_interval = poll_interval
        self._sam_id = ""

    # -- set-up -------------------------------------------------------------------------------
    def initialise(self) -> None:
        """Reset the SAM, check its status, read its id, set the RF frame size."""
        self._expect(self._transact(codec.build_request(codec.RESET_SAM), "reset_sam"), "reset_sam")
        self._expect(self._transact(codec.build_request(codec.SAM_STATUS), "sam_status"), "sam_status")
        reply = self._expect(self._transact(codec.build_request(codec.READ_SAM_ID), "read_sam_id"),
                             "read_sam_id")
        try:
            self._sam_id = codec.parse_sam_id(reply.data)
        except codec.PayloadError as exc:
            raise DeviceError(f"SAM id reply malformed: {exc}", "id_card.comm_error") from None
        reply = self._transact(codec.set_max_rf_frame(), "set_max_rf_frame")
        if reply.sw3 != codec.STATUS_OK:      # optional on many readers
            log.info("id_card: set_max_rf_frame status=0x%02X (ignored)", reply.sw3)
        log.info("id_card: reader ready")

    def sam_id(self) -> str:
        """The SAM's id, %02d.%02d-%08d-%010d-%010d (read at open)."""
        return self._sam_id

    def close(self) -> None:
        try:
            self._port.close()
        except Exception:  # noqa: BLE001 - closing a vanished port must not raise
            pass

    def __enter__(self) -> "SamReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- the interface ------------------------------------------------------------------------
    def read_card(self, timeout: float, cancel=None) -> CardRecord | None:
        """See `devices.interfaces.IdCardReader.read_card`; `cancel` is looked at before every
        command, and above all between finding a card and reading it."""
        deadline = time.monotonic() + max(timeout, 0.0)
        while True:
            if cancel is not None and cancel.is_set():
                return None
            found = self._transact(codec.build_request(codec.FIND_CARD), "find_card")
            if found.sw3 == codec.STATUS_FIND_OK:
                if cancel is not None and cancel.is_set():
                    return None             # found, not read: the card stays new for its owner
                selected = self._transact(codec.build_request(codec.SELECT_CARD), "select_card")
                if selected.sw3 == codec.STATUS_OK:
                    if cancel is not None and cancel.is_set():
                        return None
                    return self._read_selected()
                if selected.sw3 != codec.STATUS_SELECT_FAILED:
                    raise self._status_error(selected, "select_card")
            elif found.sw3 != codec.STATUS_NO_CARD:
                raise self._status_error(found, "find_card")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            time.sleep(min(self.poll_interval, remaining))

    def card_present(self) -> bool:
        found = self._transact(codec.build_request(codec.FIND_CARD), "find_card")
        if found.sw3 == codec.STATUS_FIND_OK:
            return True
        if found.sw3 != codec.STATUS_NO_CARD:
            raise self._status_error(found, "find_card")
        selected = self._transact(codec.build_request(codec.SELECT_CARD), "select_card")
        if selected.sw3 == codec.STATUS_OK:
            return True
        if selected.sw3 != codec.STATUS_SELECT_FAILED:
            raise self._status_error(selected, "select_card")
        return False

    # -- reading ------------------------------------------------------------------------------
    def _read_selected(self) -> CardRecord:
        command = codec.READ_TEXT_PHOTO_FINGERPRINT if self.fingerprint else codec.READ_TEXT_PHOTO
        started = time.monotonic()
        try:
            reply = self._transact(codec.build_request(command), command.name, self.read_timeout,
                                   raise_truncated=True)
        except _Truncated:
            raise self._broken_read("reply cut off") from None
        if reply.sw3 == codec.STATUS_READ_FAILED:
            raise self._broken_read("status 41")
        if reply.sw3 != codec.STATUS_OK:
            raise self._status_error(reply, command.name)
        try:
            payload = (codec.parse_text_photo_fingerprint if self.fingerprint
                       else codec.parse_text_photo)(reply.data)
            record = codec.parse_text_block(payload.text, payload.photo)
        except (codec.PayloadError, codec.TextBlockError) as exc:
            raise DeviceError(f"card data malformed: {exc}", "id_card.unreadable") from None
        if self.read_new_address:
            record = self._with_new_address(record)
        photo = self._decoder.decode(payload.photo)
        log.info("id_card: read ok type=%s in %.2fs", record.card_type.value,
                 time.monotonic() - started)
        return dataclasses.replace(record, photo_bgr=photo)

    def _with_new_address(self, record: CardRecord) -> CardRecord:
        reply = self._transact(codec.build_request(codec.READ_NEW_ADDRESS), "read_new_address")
        if reply.sw3 != codec.STATUS_OK:
            return record                 # 91: no address was appended
        try:
            address = codec.parse_new_address(reply.data)
        except codec.PayloadError:
            log.warning("id_card: appended address malformed, kept the printed one")
            return record
        return dataclasses.replace(record, address=address) if address else record

    def _broken_read(self, why: str) -> DeviceError:
        try:
            still_there = self._transact(codec.build_request(codec.SELECT_CARD),
                                         "select_card").sw3 == codec.STATUS_OK
        except DeviceError:
            still_there = False
        log.info("id_card: read broke off (%s), card %s", why, "present" if still_there else "gone")
        if still_there:
            return DeviceError(f"card could not be read ({why})", "id_card.unreadable")
        return DeviceError(f"card taken away during the read ({why})", "id_card.pulled")

    # -- the wire -----------------------------------------------------------------------------
    def _status_error(self, reply: codec.Response, what: str) -> DeviceError:
        status = reply.status
        key = status.reason_key or "id_card.comm_error"
        message = f"{what}: reader status 0x{reply.sw3:02X} ({status.meaning})"
        if key == "id_card.sam_fault":
            return DeviceUnavailable(message, key)
        return DeviceError(message, key)

    def _expect(self, reply: codec.Response, what: str) -> codec.Response:
        if reply.sw3 != codec.STATUS_OK:
            raise self._status_error(reply, what)
        return reply

    def _transact(self, request: bytes, what: str, timeout: float | None = None,
                  retries: int = 1, raise_truncated: bool = False) -> codec.Response:
        """Send one request and return its reply frame; retry once on a checksum error.
        A reply cut short raises `_Truncated` if `raise_truncated`, else id_card.comm_error."""
        timeout = timeout or self.command_timeout
        for attempt in range(retries + 1):
            try:
                reply = self._exchange_once(request, what, timeout)
            except _Truncated:
                if raise_truncated:
                    raise
                raise DeviceError(f"{what}: reply cut short", "id_card.comm_error") from None
            except codec.ChecksumError:
                log.info("id_card: %s reply checksum bad (attempt %d)", what, attempt + 1)
                continue
            if reply.sw3 == codec.STATUS_CHECKSUM:     # the reader got our request garbled
                log.info("id_card: %s request checksum refused (attempt %d)", what, attempt + 1)
                continue
            return reply
        raise DeviceError(f"{what}: checksum errors on {retries + 1} attempts", "id_card.comm_error")

    def _exchange_once(self, request: bytes, what: str, timeout: float) -> codec.Response:
        port = self._port
        parser = codec.FrameParser()
        try:
            port.reset_input_buffer()
            port.write(request)
            port.flush()
            started = last_byte = time.monotonic()
            deadline = started + timeout
            while True:
                chunk = port.read(port.in_waiting or 1)
                now = time.monotonic()
                if chunk:
                    last_byte = now
                    for item in parser.feed(chunk):
                        if isinstance(item, codec.ChecksumError):
                            raise item
                        if isinstance(item, codec.FrameError):
                            continue                     # impossible length: keep searching
                        try:
                            return codec.Response.from_frame(item)
                        except codec.FrameError:
                            continue
                if parser.in_frame and now - last_byte > self.stall_timeout:
                    raise _Truncated(what)
                if now > deadline:
                    if parser.in_frame:
                        raise _Truncated(what)
                    raise DeviceUnavailable(f"{what}: no reply within {timeout:.1f}s", "id_card.timeout")
        except (serial.SerialException, OSError, termios.error) as exc:
            # the port went away (cable pulled, adapter reset): pyserial raises its own error
            # from reads, but OSError from ioctl and termios.error from tcflush (found by the
            # soak: an unplugged reader then looked like an unexpected failure, read again and
            # again in a tight loop)
            raise DeviceUnavailable(f"{what}: serial port failed: {type(exc).__name__}",
                                    "id_card.reader_missing") from None


def open_from_url(url: DeviceUrl, photo_decoder: PhotoDecoder | None = None,
                  wlt_library: str | None = None) -> SamReader:
    """Open and initialise the reader an `idcard+serial://…` URL names (registry factory).
    `wlt_library`: the vendor photo decoder (`[devices] wlt_library`; empty: $KIOSK_WLT_LIB)."""
    if url.scheme != "idcard+serial":
        raise ConfigurationError(f"{url.url!r} is not an idcard+serial:// URL")
    if not url.rest:
        raise ConfigurationError("idcard+serial:// needs a port, e.g. idcard+serial:///dev/ttyUSB0")
    try:
        port = serial.serial_for_url(url.rest, baudrate=BAUDRATE, timeout=PORT_READ_TIMEOUT,
                                     write_timeout=2.0)
    except (serial.SerialException, ValueError, OSError) as exc:
        raise DeviceUnavailable(f"cannot open ID-card reader port {url.rest!r}: {exc}",
                                "id_card.reader_missing") from None
    reader = SamReader(port, photo_decoder or AutoPhotoDecoder.configured(wlt_library))
    try:
        reader.initialise()
    except BaseException:
        reader.close()
        raise
    return reader
