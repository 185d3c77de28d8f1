"""Fixtures of the operations tests: a real sd_notify socket that records what arrives."""
from __future__ import annotations

import os
import shutil
import socket
import tempfile
import time
from pathlib import Path

import pytest


class NotifySocket:
    """A bound AF_UNIX datagram socket standing in for systemd's $NOTIFY_SOCKET."""

    def __init__(self, address: str, sock: socket.socket):
        self.address = address          # what goes into NOTIFY_SOCKET
        self.sock = sock
        self.messages: list[dict[str, str]] = []

    def receive(self, timeout: float = 5.0) -> dict[str, str] | None:
        """The next datagram as {KEY: value}, or None if nothing came within `timeout`."""
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(4096)
        except socket.timeout:
            return None
        message = dict(line.split("=", 1) for line in data.decode("utf-8").splitlines() if line)
        self.messages.append(message)
        return message

    def wait_for(self, key: str, value: str | None = None, timeout: float = 20.0) -> dict[str, str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            message = self.receive(max(deadline - time.monotonic(), 0.01))
            if message is not None and key in message and (value is None or message[key] == value):
                return message
        raise AssertionError(f"no {key}={value or '*'} within {timeout} s; got {self.messages}")


@pytest.fixture
def notify_socket():
    # Short path: AF_UNIX addresses are limited to 108 bytes, pytest's tmp_path can be longer.
    work = Path(tempfile.mkdtemp(prefix="sdn-", dir="/tmp"))
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    path = work / "notify"
    sock.bind(str(path))
    yield NotifySocket(str(path), sock)
    sock.close()
    shutil.rmtree(work, ignore_errors=True)


@pytest.fixture
def abstract_notify_socket():
    name = f"kiosk-test-{os.getpid()}-{time.monotonic_ns()}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind("\0" + name)
    yield NotifySocket("@" + name, sock)
    sock.close()
