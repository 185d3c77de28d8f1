"""Fixtures of the protocol tests: a terminal's signing key and a back office's key pair on disk."""
from __future__ import annotations

import pytest

from protocol.keys import generate_backoffice_keypair, generate_terminal_key
from tests.kiosk.link.outbox.outbox_testkit import Keys


@pytest.fixture
def keys(tmp_path) -> Keys:
    key_dir = tmp_path / "keys"
    return Keys(key_dir, generate_terminal_key(key_dir / "terminal.key"),
                generate_backoffice_keypair(key_dir / "backoffice.key"))
