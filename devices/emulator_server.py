"""Serve a byte protocol on a pseudo-terminal or a TCP port: the transport of the emulators.

The ID-card reader emulator (`devices/id_card/emulator.py`) and the receipt-printer emulator
(`devices/printer/emulator.py`) both answer a real device's wire bytes, so the driver that
ships can open them exactly as it opens hardware: `/dev/pts/N` (a raw pty whose slave path a
serial URL names) or `socket://127.0.0.1:PORT` / `tcp://...` (one client at a time). This module
owns that plumbing once: the background threads, the select loops, stop and clean-up, and the
pieces of the `kiosk emulate ...` commands that are the same for every emulator (the --pty/--tcp
choice, printing where it serves, serving until SIGINT/SIGTERM).

An emulator gives `ByteServer` two callbacks: `connect(write)` when a client connects (for the
pty: once, when serving starts) returns the `feed(data)` that receives that client's bytes;
`write(data)` sends bytes back to that client and may be called from any thread (the printer's
unsolicited status packets come from the thread that changes its state). `disconnect(write)`,
if given, is called when that client is gone.
"""
from __future__ import annotations

import logging
import os
import select
import signal
import socket
import sys
import threading
import time
import tty
from typing import Callable

import click

log = logging.getLogger(__name__)

Write = Callable[[bytes], None]
Feed = Callable[[bytes], None]


class ByteServer:
    """Runs one byte-protocol handler on pseudo-terminals and/or TCP ports, in daemon threads."""

    def __init__(self, connect: Callable[[Write], Feed],
                 disconnect: Callable[[Write], None] | None = None, *,
                 thread_name: str = "emulator", read_size: int = 4096):
        self._connect = connect
        self._disconnect = disconnect
        self._thread_name = thread_name
        self._read_size = read_size
        self.stopping = threading.Event()     # set by stop(); handlers wait on it for delays
        self._threads: list[threading.Thread] = []
        self._fds: list[int] = []
        self._socks: list[socket.socket] = []

    def _spawn(self, target, *args) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True, name=self._thread_name)
        thread.start()
        self._threads.append(thread)

    def start_pty(self) -> str:
        """Serve on a new raw pseudo-terminal; returns the slave path (e.g. /dev/pts/5)."""
        master, slave = os.openpty()
        tty.setraw(slave)
        tty.setraw(master)
        self._fds += [master, slave]   # the slave stays open so the master never sees EIO
        self._spawn(self._serve_fd, master)
        return os.ttyname(slave)

    def start_tcp(self, port: int = 0, host: str = "127.0.0.1") -> tuple[str, int]:
        """Serve on TCP, one client at a time; returns (host, port)."""
        server = socket.create_server((host, port))
        server.settimeout(0.1)
        self._socks.append(server)
        self._spawn(self._serve_tcp, server)
        return server.getsockname()[:2]

    def stop(self) -> None:
        self.stopping.set()
        for thread in self._threads:
            thread.join(timeout=2)
        for fd in self._fds:
            try:
                os.close(fd)
            except OSError:
                pass
        for sock in self._socks:
            sock.close()
        self._fds, self._socks, self._threads = [], [], []

    # -- serving -----------------------------------------------------------------------------
    def _serve_fd(self, fd: int) -> None:
        lock = threading.Lock()

        def write(data: bytes) -> None:
            with lock:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view):]

        feed = self._connect(write)
        try:
            while not self.stopping.is_set():
                ready, _, _ = select.select([fd], [], [], 0.1)
                if not ready:
                    continue
                try:
                    data = os.read(fd, self._read_size)
                except OSError:
                    time.sleep(0.05)    # no client has the slave open
                    continue
                feed(data)
        finally:
            self._disconnected(write)

    def _serve_tcp(self, server: socket.socket) -> None:
        while not self.stopping.is_set():
            try:
                conn, _ = server.accept()
            except (socket.timeout, OSError):
                continue
            lock = threading.Lock()

            def write(data: bytes, conn=conn) -> None:
                with lock:
                    conn.sendall(data)

            feed = self._connect(write)
            try:
                with conn:
                    self._serve_conn(conn, feed)
            finally:
                self._disconnected(write)

    def _serve_conn(self, conn: socket.socket, feed: Feed) -> None:
        while not self.stopping.is_set():
            ready, _, _ = select.select([conn], [], [], 0.1)
            if not ready:
                continue
            try:
                data = conn.recv(self._read_size)
            except OSError:
                return
            if not data:
                return
            try:
                feed(data)
            except OSError:
                return

    def _disconnected(self, write: Write) -> None:
        if self._disconnect is not None:
            self._disconnect(write)


# -- the `kiosk emulate ...` commands -----------------------------------------------------------
def check_transport_choice(use_pty: bool, tcp: str | None) -> None:
    """--pty and --tcp exclude each other (neither: a pty)."""
    if use_pty and tcp:
        raise click.UsageError("choose one of --pty and --tcp")


def start_chosen_transport(start_pty: Callable[[], str],
                           start_tcp: Callable[..., tuple[str, int]], tcp: str | None) -> str:
    """Start on TCP when --tcp HOST:PORT was given, else on a pty; returns where, as printed."""
    if tcp:
        host, _, port = tcp.rpartition(":")
        if not port.isdigit():
            raise click.UsageError("--tcp needs HOST:PORT")
        return "%s:%d" % start_tcp(port=int(port), host=host or "127.0.0.1")
    return start_pty()


def serve_until_signal(where: str, stop: Callable[[], None]) -> None:
    """Print where the emulator serves (first line of output), then serve until SIGINT/SIGTERM."""
    click.echo(where)
    sys.stdout.flush()
    stopped = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopped.set())
    try:
        while not stopped.wait(0.5):
            pass
    finally:
        stop()


__all__ = ["ByteServer", "check_transport_choice", "serve_until_signal", "start_chosen_transport"]
