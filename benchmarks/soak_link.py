"""The network between a soaked terminal and its back office, with faults on command.

A TCP relay in its own process (so its sockets and threads are not the kiosk's): the uploader
talks to `127.0.0.1:<listen>` and the relay passes the bytes to the back office at `<target>`.
It reads one command per line on stdin and answers `ok` on stdout when the command holds:

    up              relay again
    down            the network is down: every connection is cut and new ones are refused
                    (the listening socket is closed, so a connect gets ECONNREFUSED)
    status 503 N    the back office is overloaded: the next N requests (on new connections)
                    are read whole and answered `503 Service Unavailable` (or 500, ...) with
                    `Connection: close`; open connections are cut so the uploader reconnects
    quit            stop

`benchmarks/soak.py` drives it; `python benchmarks/soak_link.py LISTEN_PORT TARGET_HOST:PORT`.
"""
from __future__ import annotations

import asyncio
import contextlib
import sys

REASONS = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}


class Relay:
    def __init__(self, listen_port: int, target: tuple[str, int]):
        self.listen_port, self.target = listen_port, target
        self.server: asyncio.AbstractServer | None = None
        self.writers: set[asyncio.StreamWriter] = set()
        self.fail_next = 0          # requests still to answer with `fail_status`
        self.fail_status = 503
        self.counts = {"relayed": 0, "refused_answers": 0}

    async def up(self) -> None:
        if self.server is None:
            self.server = await asyncio.start_server(self._client, "127.0.0.1",
                                                     self.listen_port, reuse_address=True)

    async def down(self) -> None:
        if self.server is not None:
            self.server.close()
            self.server = None
        self.cut()

    def cut(self) -> None:
        for writer in list(self.writers):
            writer.transport.abort()
        self.writers.clear()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writers.add(writer)
        try:
            if self.fail_next > 0:
                self.fail_next -= 1
                await self._answer_failure(reader, writer)
                return
            self.counts["relayed"] += 1
            up_reader, up_writer = await asyncio.open_connection(*self.target)
            self.writers.add(up_writer)
            try:
                await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
            finally:
                self.writers.discard(up_writer)
                up_writer.transport.abort()
        except (OSError, asyncio.IncompleteReadError):
            pass
        except asyncio.CancelledError:
            # the relay is shutting down (its soak is gone): end quietly; left cancelled, the
            # task makes asyncio's stream callback (Python 3.11) log a CancelledError traceback
            pass
        finally:
            self.writers.discard(writer)
            writer.transport.abort()

    async def _answer_failure(self, reader, writer) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n"):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip() or 0)
        if length:
            await reader.readexactly(length)
        status = self.fail_status
        body = b'{"detail": "overloaded"}'
        writer.write(b"HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nRetry-After: 1\r\n"
                     b"Content-Length: %d\r\nConnection: close\r\n\r\n%s"
                     % (status, REASONS.get(status, "Error").encode(), len(body), body))
        await writer.drain()
        self.counts["refused_answers"] += 1


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    finally:
        with contextlib.suppress(OSError):
            writer.write_eof()


async def main(listen_port: int, target: tuple[str, int]) -> None:
    relay = Relay(listen_port, target)
    await relay.up()
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    print("ok", flush=True)
    while line := await reader.readline():
        words = line.decode().split()
        if not words:
            continue
        if words[0] == "up":
            await relay.up()
        elif words[0] == "down":
            await relay.down()
        elif words[0] == "status" and len(words) == 3:
            relay.fail_status, relay.fail_next = int(words[1]), int(words[2])
            relay.cut()
        elif words[0] == "quit":
            break
        else:
            print(f"unknown command {line!r}", flush=True)
            continue
        print("ok", flush=True)
    await relay.down()


if __name__ == "__main__":
    host, _, port = sys.argv[2].rpartition(":")
    asyncio.run(main(int(sys.argv[1]), (host, int(port))))
