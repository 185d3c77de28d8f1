"""A SAM ID-card reader emulator speaking the real serial protocol on a pty or TCP socket.

The driver under test is the driver that ships: it opens the emulator's pseudo-terminal
(`/dev/pts/N`) or `socket://127.0.0.1:PORT` exactly as it would a real reader. Cards come from
a scenario (`scenario.py`); tests and the kiosk demo drive the emulator in-process through
`EmulatorServer` (`place_card`, `remove_card`, `set_sam_fault`), technicians run it with
`kiosk emulate id_card`.

Card-presence semantics (as on the readers the protocol notes describe): "find" (20 01)
answers 9F only for a card placed since the last successful read, so after a read it keeps
failing (80) until the card is lifted and placed again; "select" (20 02) answers 90 while a
card that was found is still in the field, and 81 once it is gone. The driver's
`card_present()` relies on exactly this.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass

import click

from devices.assets import exit_on_missing_asset
from devices.clock import REAL_TIME, ScaledClock
from devices.emulator_server import (ByteServer, check_transport_choice, serve_until_signal,
                                     start_chosen_transport)
from devices.id_card import codec
from devices.id_card.scenario import EmulatedCard, Scenario, load_scenario
from devices.interfaces import ConfigurationError

log = logging.getLogger(__name__)

FIND_OK_DATA = bytes(4)       # as in the example reply 00 08 00 00 9F 00 00 00 00 97
SELECT_OK_DATA = bytes(8)     # as in the example reply 00 0C 00 00 90 + eight 00
GARBAGE = b"\x00\xAA\xAA\x13\x96\x69\xFF\xAA"   # stray bytes incl. a broken preamble
PULL_FRACTION = 0.4           # share of the 30 01 reply sent before a card is "lifted"


@dataclass(frozen=True)
class Reply:
    data: bytes
    delay: float = 0.0


class SamEmulator:
    """The reader's state machine, independent of the transport. Thread-safe."""

    def __init__(self, scenario: Scenario, clock=time.monotonic):
        self.scenario = scenario
        self._clock = clock
        self._lock = threading.Lock()
        self._card: EmulatedCard | None = None
        self._place_at = 0.0
        self._found = False
        self._read_done = False
        self._corrupted_once: set[str] = set()
        self.sam_fault = False
        if scenario.initial_card:
            self.place_card(scenario.initial_card, after=scenario.place_after)

    # -- control ----------------------------------------------------------------------------
    def place_card(self, name: str, after: float = 0.0) -> None:
        card = self.scenario.card(name)
        with self._lock:
            self._card, self._place_at = card, self._clock() + after
            self._found = self._read_done = False
        log.info("emulator: card placed", extra={"after_s": after})

    def remove_card(self) -> None:
        with self._lock:
            self._card = None
            self._found = self._read_done = False
        log.info("emulator: card removed")

    def set_sam_fault(self, on: bool) -> None:
        with self._lock:
            self.sam_fault = on

    def _present(self) -> EmulatedCard | None:
        if self._card is not None and self._clock() >= self._place_at:
            return self._card
        return None

    # -- protocol ---------------------------------------------------------------------------
    def handle(self, item: codec.Frame | codec.FrameError) -> list[Reply]:
        if isinstance(item, codec.ChecksumError):
            return [Reply(codec.build_response(codec.STATUS_CHECKSUM))]
        if isinstance(item, codec.FrameError):
            return [Reply(codec.build_response(0x11))]
        try:
            request = codec.Request.from_frame(item)
        except codec.FrameError:
            return [Reply(codec.build_response(0x11))]
        with self._lock:
            replies = self._answer(request)
        card = self._present()
        if card is not None and card.faults.garbage_before_reply:
            replies = [Reply(GARBAGE + r.data, r.delay) for r in replies]
        return replies

    def _answer(self, req: codec.Request) -> list[Reply]:
        ok = lambda data=b"": [Reply(codec.build_response(codec.STATUS_OK, data))]  # noqa: E731
        status = lambda sw3: [Reply(codec.build_response(sw3))]                     # noqa: E731
        key = (req.cmd, req.para)
        if key == (0x10, 0xFF):
            return ok()
        if self.sam_fault:
            return status(codec.STATUS_SAM_SELF_TEST)
        if key == (0x11, 0xFF) or key == (0x61, 0xFF):
            return ok()
        if key == (0x12, 0xFF):
            return ok(codec.encode_sam_id(*self.scenario.sam_id))
        card = self._present()
        if key == (0x20, 0x01):
            if card is None or self._read_done:
                return status(codec.STATUS_NO_CARD)
            self._found = True
            return [Reply(codec.build_response(codec.STATUS_FIND_OK, FIND_OK_DATA))]
        if key == (0x20, 0x02):
            if card is None or not self._found:
                return status(codec.STATUS_SELECT_FAILED)
            return ok(SELECT_OK_DATA)
        if key == (0x30, 0x03):
            if card is None or not self._found:
                return status(codec.STATUS_READ_FAILED)
            if not card.new_address:
                return status(codec.STATUS_ITEM_EMPTY)
            return ok(codec.encode_new_address(card.new_address))
        if key in ((0x30, 0x01), (0x30, 0x10)):
            if card is None or not self._found:
                return status(codec.STATUS_READ_FAILED)
            return self._read(card, with_fingerprint=key == (0x30, 0x10))
        return status(0x21)

    def _read(self, card: EmulatedCard, with_fingerprint: bool) -> list[Reply]:
        f = card.faults
        if f.read_fails:
            return [Reply(codec.build_response(codec.STATUS_READ_FAILED), 0.3)]
        if f.pull_with_status:
            self._card = None
            return [Reply(codec.build_response(codec.STATUS_READ_FAILED), 0.3)]
        if with_fingerprint:
            data = codec.encode_text_photo_fingerprint(card.text_block, card.photo_raw, card.fingerprint)
        else:
            data = codec.encode_text_photo(card.text_block, card.photo_raw)
        frame = codec.build_response(codec.STATUS_OK, data)
        if f.pull_mid_read:
            self._card = None
            return [Reply(frame[:int(len(frame) * PULL_FRACTION)], 0.2)]
        if f.corrupt_checksum_once and card.name not in self._corrupted_once:
            self._corrupted_once.add(card.name)
            return [Reply(frame[:-1] + bytes([frame[-1] ^ 0xFF]), 0.1)]
        self._read_done = True
        return [Reply(frame, max(f.slow_read_s, 0.1))]


# ----------------------------------------------------------------------------------------------
class EmulatorServer:
    """Runs a `SamEmulator` on a pseudo-terminal or a TCP port, in a background thread
    (the transport is `devices.emulator_server.ByteServer`)."""

    def __init__(self, scenario: Scenario | str | os.PathLike | None = None,
                 faces_dir: str | os.PathLike | None = None, clock: ScaledClock = REAL_TIME):
        """`clock`: the card's read time and a placed card's delay pass on it (a soak's
        ScaledClock shrinks them; devices/clock.py)."""
        self._scenario_arg = scenario
        self._faces_dir = faces_dir
        self._clock = clock
        self.emulator: SamEmulator | None = None
        self._server = ByteServer(self._connect, thread_name="idcard-emulator", read_size=4096)

    def _make_emulator(self, scenario) -> SamEmulator:
        if self.emulator is not None:
            raise RuntimeError("this emulator server is already running")
        scenario = scenario if scenario is not None else self._scenario_arg
        if not isinstance(scenario, Scenario):
            scenario = load_scenario(scenario, self._faces_dir)
        self.emulator = SamEmulator(scenario, clock=self._clock.monotonic)
        return self.emulator

    def start_pty(self, scenario: Scenario | str | os.PathLike | None = None) -> str:
        """Serve on a new pseudo-terminal; returns the slave path (e.g. /dev/pts/5)."""
        self._make_emulator(scenario)
        return self._server.start_pty()

    def start_tcp(self, scenario: Scenario | str | os.PathLike | None = None, port: int = 0,
                  host: str = "127.0.0.1") -> tuple[str, int]:
        """Serve on TCP (one client at a time); returns (host, port). Driver URL:
        idcard+serial://socket://HOST:PORT."""
        self._make_emulator(scenario)
        return self._server.start_tcp(port=port, host=host)

    # -- control, forwarded ------------------------------------------------------------------
    def place_card(self, name: str, after: float = 0.0) -> None:
        self._require().place_card(name, after)

    def remove_card(self) -> None:
        self._require().remove_card()

    def set_sam_fault(self, on: bool = True) -> None:
        self._require().set_sam_fault(on)

    def _require(self) -> SamEmulator:
        if self.emulator is None:
            raise RuntimeError("start the emulator first")
        return self.emulator

    def stop(self) -> None:
        self._server.stop()

    def __enter__(self) -> "EmulatorServer":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- one client's bytes ------------------------------------------------------------------
    def _connect(self, write):
        """A fresh frame parser for a client; its bytes are answered by the emulator."""
        parser = codec.FrameParser(min_len=codec.MIN_REQUEST_LEN)

        def feed(data: bytes) -> None:
            for item in parser.feed(data):
                for reply in self._require().handle(item):
                    if reply.delay and self._clock.wait(self._server.stopping, reply.delay):
                        return
                    write(reply.data)

        return feed


# ----------------------------------------------------------------------------------------------
@click.command("id_card")
@click.option("--pty", "use_pty", is_flag=True, help="Serve on a new pseudo-terminal (default).")
@click.option("--tcp", "tcp", metavar="HOST:PORT", help="Serve on TCP instead, e.g. 127.0.0.1:7001.")
@click.option("--scenario", type=click.Path(exists=True, dir_okay=False),
              help="Scenario YAML/JSON (default: the packaged scenarios/default.yaml).")
@click.option("--card", help="Card on the reader at start ('none' for an empty reader).")
@click.option("--place-after", type=float, default=None, help="Seconds before that card is placed.")
@click.option("--faces-dir", type=click.Path(file_okay=False), envvar="KIOSK_TESTDATA_FACES",
              help="Folder of the scenario's face photos (env KIOSK_TESTDATA_FACES; "
                   "default: assets/faces).")
@click.option("--sam-fault", is_flag=True, help="Act out a failed SAM self-test (status 60).")
def cli(use_pty: bool, tcp: str | None, scenario: str | None, card: str | None,
        place_after: float | None, faces_dir: str | None, sam_fault: bool) -> None:
    """SAM ID-card reader emulator: prints the pty path (or HOST:PORT) first, then serves."""
    check_transport_choice(use_pty, tcp)
    try:
        with exit_on_missing_asset():
            loaded = load_scenario(scenario, faces_dir)
        if card is not None and card.lower() != "none":
            loaded.card(card)
    except ConfigurationError as exc:
        raise click.ClickException(str(exc)) from exc
    server = EmulatorServer(loaded)
    where = start_chosen_transport(server.start_pty, server.start_tcp, tcp)
    if card is not None:
        if card.lower() == "none":
            server.remove_card()
        else:
            server.place_card(card, after=place_after or 0.0)
    elif place_after is not None and loaded.initial_card:
        server.place_card(loaded.initial_card, after=place_after)
    if sam_fault:
        server.set_sam_fault(True)
    serve_until_signal(where, server.stop)


__all__ = ["EmulatorServer", "SamEmulator", "Reply", "cli"]
