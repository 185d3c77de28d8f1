"""An ESC/POS receipt-printer emulator on a pseudo-terminal or TCP, rendering paper to PNG.

The driver under test is the driver that ships: it opens `escpos+serial:///dev/pts/N` (or
`escpos+serial://socket://127.0.0.1:PORT`, or `escpos+tcp://127.0.0.1:PORT` like a port-9100
network printer) exactly as it would a real printer. The emulator parses the byte stream
(`escpos_stream.py`), answers real-time status (`DLE EOT 1..4`), paper-sensor status in order
(`GS r 1`) and automatic status back (`GS a n`), and draws the paper (`paper.py`): one image per
cut, in `.jobs`, also saved as PNG to `out_dir`.

Scenarios (`set_state`, changeable at run time): ok, near_end (prints, sensor says near end),
paper_out, cover_open, offline, cutter_error (all four print nothing: bytes are discarded, as
a stalled printer's buffer would never reach paper, and `GS r` is not answered), no_reply
(nothing answers at all). `run_out_after(dots)` makes the roll end after that much paper: the
job being printed is torn off unfinished and the state becomes paper_out.
"""
from __future__ import annotations

import io
import logging
import os
import threading
from pathlib import Path

import click
from PIL import Image

from devices.emulator_server import (ByteServer, check_transport_choice, serve_until_signal,
                                     start_chosen_transport)
from devices.interfaces import PaperState, PrinterStatus
from devices.printer import codec
from devices.printer.escpos_stream import EscPosStreamParser, Event
from devices.printer.paper import PaperRenderer
from devices.printer.render import CjkFont, find_cjk_font

log = logging.getLogger(__name__)

RECEIVED_KEPT = 4 * 2**20     # bytes of the stream the model keeps for tests and debugging
STATES: dict[str, PrinterStatus] = {
    "ok": PrinterStatus(online=True, paper=PaperState.OK),
    "near_end": PrinterStatus(online=True, paper=PaperState.NEAR_END),
    "paper_out": PrinterStatus(online=False, paper=PaperState.OUT),
    "cover_open": PrinterStatus(online=False, paper=PaperState.OK, cover_open=True),
    "offline": PrinterStatus(online=False, paper=PaperState.OK),
    "cutter_error": PrinterStatus(online=False, paper=PaperState.OK, cutter_error=True),
    "no_reply": PrinterStatus(online=True, paper=PaperState.OK),
}
PRINTING_STATES = ("ok", "near_end", "no_reply")


def asb_packet(status: PrinterStatus) -> bytes:
    """The 4-byte automatic-status-back packet for a status (Epson layout, see codec)."""
    b1 = 0x10 | (0x08 if not status.online else 0) | (0x20 if status.cover_open else 0)
    b2 = (0x08 if status.cutter_error else 0) | (0x20 if status.unrecoverable else 0)
    b3 = {PaperState.OK: 0x00, PaperState.NEAR_END: 0x03, PaperState.OUT: 0x0F}[status.paper]
    return bytes([b1, b2, b3, 0x00])


class PrinterModel:
    """The printer's state machine, independent of the transport. Thread-safe."""

    def __init__(self, width_dots: int = 576, font: CjkFont | None = None,
                 out_dir: str | os.PathLike | None = None, state: str = "ok"):
        self.width_dots = width_dots
        self.paper = PaperRenderer(width_dots, font or find_cjk_font())
        self.out_dir = Path(out_dir) if out_dir else None
        self.jobs: list[Image.Image] = []
        self.torn_jobs = 0                 # jobs cut short by the paper running out
        self.received = bytearray()        # the bytes received (the last RECEIVED_KEPT), for tests
        self._lock = threading.Lock()
        self._state = "ok"
        self._paper_left: int | None = None
        self._asb = 0
        self._listeners: list = []         # writers for unsolicited ASB packets
        self.set_state(state)

    @property
    def state(self) -> str:
        return self._state

    def set_state(self, state: str) -> None:
        if state not in STATES:
            raise ValueError(f"unknown printer state {state!r}; one of {', '.join(STATES)}")
        with self._lock:
            changed = state != self._state
            self._state = state
            if state in ("ok", "near_end"):
                self._paper_left = None
            packet = asb_packet(STATES[state]) if self._asb and changed else b""
            listeners = list(self._listeners)
        log.info("printer emulator: state=%s", state)
        for write in listeners if packet and state != "no_reply" else ():
            try:
                write(packet)
            except OSError:
                pass

    def run_out_after(self, dots: int) -> None:
        """The roll ends after `dots` more rows of paper."""
        with self._lock:
            self._paper_left = dots

    def png(self, index: int) -> bytes:
        buf = io.BytesIO()
        self.jobs[index].save(buf, format="PNG")
        return buf.getvalue()

    # -- protocol ----------------------------------------------------------------------------
    def handle(self, ev: Event, write) -> None:
        with self._lock:
            reply = self._handle(ev)
        if reply:
            write(reply)

    def _handle(self, ev: Event) -> bytes:
        status = STATES[self._state]
        mute = self._state == "no_reply"
        if ev.name == "realtime_status":
            n = ev.args[0]
            if mute or n not in (1, 2, 3, 4):
                return b""
            return bytes([codec.status_bytes_for(status)[n - 1]])
        if ev.name == "auto_status_back":
            self._asb = ev.args[0]
            return asb_packet(status) if self._asb and not mute else b""
        if self._state not in PRINTING_STATES:
            return b""                     # a stopped printer never processes its buffer
        if ev.name == "transmit_status":
            n = ev.args[0]
            if mute:
                return b""
            if n in (1, 49):
                return bytes([codec.paper_sensor_byte(status.paper)])
            return b"\x00" if n in (2, 50) else b""
        if ev.name == "cut":
            self._finish_job()
            return b""
        fed = self.paper.handle(ev)
        if self._paper_left is not None and fed:
            self._paper_left -= fed
            if self._paper_left <= 0:
                self._state, self._paper_left = "paper_out", None
                self.paper.reset()
                self.torn_jobs += 1
                log.info("printer emulator: paper ran out mid-job")
        return b""

    def _finish_job(self) -> None:
        if not self.paper.has_content:
            return
        image = self.paper.cut()
        self.jobs.append(image)
        if self.out_dir is not None:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            image.save(self.out_dir / f"job-{len(self.jobs):04d}.png")
        log.info("printer emulator: job %d cut (%dx%d)", len(self.jobs), *image.size)

    def add_listener(self, write) -> None:
        with self._lock:
            self._listeners.append(write)

    def remove_listener(self, write) -> None:
        with self._lock:
            if write in self._listeners:
                self._listeners.remove(write)


class PrinterEmulator:
    """Runs a `PrinterModel` on a pseudo-terminal and/or a TCP port, in background threads
    (the transport is `devices.emulator_server.ByteServer`)."""

    def __init__(self, out_dir: str | os.PathLike | None = None, width_dots: int = 576,
                 state: str = "ok", font: CjkFont | None = None):
        self.model = PrinterModel(width_dots, font, out_dir, state)
        self._server = ByteServer(self._connect, self.model.remove_listener,
                                  thread_name="printer-emulator", read_size=65536)

    # -- forwarded ---------------------------------------------------------------------------
    @property
    def jobs(self) -> list[Image.Image]:
        return self.model.jobs

    @property
    def state(self) -> str:
        return self.model.state

    def set_state(self, state: str) -> None:
        self.model.set_state(state)

    def run_out_after(self, dots: int) -> None:
        self.model.run_out_after(dots)

    def png(self, index: int = -1) -> bytes:
        return self.model.png(index)

    # -- transports --------------------------------------------------------------------------
    def start_pty(self) -> str:
        """Serve on a new raw pseudo-terminal; returns the slave path (e.g. /dev/pts/5)."""
        return self._server.start_pty()

    def start_tcp(self, port: int = 0, host: str = "127.0.0.1") -> tuple[str, int]:
        """Serve on TCP, one client at a time, like a port-9100 printer; returns (host, port)."""
        return self._server.start_tcp(port=port, host=host)

    def stop(self) -> None:
        self._server.stop()

    def __enter__(self) -> "PrinterEmulator":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def _connect(self, write):
        """A client connected: it hears automatic status back, and its bytes are printed."""
        self.model.add_listener(write)
        parser = EscPosStreamParser()

        def feed(data: bytes) -> None:
            received = self.model.received
            received += data
            if len(received) > RECEIVED_KEPT:        # an emulator may run for days (a soak)
                del received[:len(received) - RECEIVED_KEPT]
            for event in parser.feed(data):
                self.model.handle(event, write)

        return feed


# ----------------------------------------------------------------------------------------------
@click.command("printer")
@click.option("--pty", "use_pty", is_flag=True, help="Serve on a new pseudo-terminal (default).")
@click.option("--tcp", "tcp", metavar="HOST:PORT", help="Serve on TCP instead, e.g. 127.0.0.1:9100.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False),
              help="Folder for one PNG per printed (cut) job.")
@click.option("--state", type=click.Choice(list(STATES)), default="ok", show_default=True)
@click.option("--width", "width_dots", type=click.Choice(["576", "384"]), default="576",
              show_default=True, help="Paper width in dots (80 mm / 58 mm).")
def cli(use_pty: bool, tcp: str | None, out_dir: str | None, state: str, width_dots: str) -> None:
    """ESC/POS printer emulator: prints the pty path (or HOST:PORT) first, then serves."""
    check_transport_choice(use_pty, tcp)
    emulator = PrinterEmulator(out_dir=out_dir, width_dots=int(width_dots), state=state)
    where = start_chosen_transport(emulator.start_pty, emulator.start_tcp, tcp)
    serve_until_signal(where, emulator.stop)


__all__ = ["PrinterEmulator", "PrinterModel", "STATES", "asb_packet", "cli"]
