"""Fixtures of the outbox tests: terminal and back-office keys on disk, packets, outboxes."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from kiosk.link.outbox import Outbox  # noqa: E402
from outbox_testkit import Keys  # noqa: E402
from protocol.keys import generate_backoffice_keypair, generate_terminal_key  # noqa: E402


@pytest.fixture
def keys(tmp_path) -> Keys:
    key_dir = tmp_path / "keys"
    return Keys(key_dir, generate_terminal_key(key_dir / "terminal.key"),
                generate_backoffice_keypair(key_dir / "backoffice.key"))


@pytest.fixture
def open_outbox(tmp_path, keys):
    opened = []

    def factory(**kwargs) -> Outbox:
        kwargs.setdefault("min_free_bytes", 0)
        box = Outbox(kwargs.pop("state_dir", tmp_path / "state"), "T-001", "site-1",
                     keys.signing, keys.private.public_key, **kwargs)
        opened.append(box)
        return box

    yield factory
    for box in opened:
        box.close()
