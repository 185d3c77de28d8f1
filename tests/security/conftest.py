"""Fixtures of the attack tests: one real back office (uvicorn in a thread) for the session and
database engine (SQLite, then PostgreSQL: `db_engine`, tests/conftest.py) and enrolled
terminals that sign their requests; the packet builders of tests/backoffice are reused."""
from __future__ import annotations

import itertools
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "backoffice"))   # backoffice_testkit (importlib mode)

from backoffice_testkit import ServerThread, TerminalClient  # noqa: E402

_ids = itertools.count(1)


@pytest.fixture(scope="session")
def server(tmp_path_factory, backoffice_settings, db_engine):
    # no per-address rate limits here (test_rate_limits.py has its own servers): each attack
    # shows what stops it by itself, the login guard included
    settings = backoffice_settings(tmp_path_factory.mktemp(f"backoffice-attacks-{db_engine}"),
                                   rate_limits="off")
    with ServerThread(settings) as running:
        yield running


@pytest.fixture(scope="module")
def new_terminal(server):
    """Factory: an enrolled TerminalClient (an attacker holding a real terminal's key)."""
    made = []

    def make() -> TerminalClient:
        client = TerminalClient(server.base_url, f"ATK{next(_ids):03d}")
        made.append(client)
        token = server.services.fleet.create_token(client.terminal_id, "site-1")
        assert client.enrol(token).status_code == 201
        return client

    yield make
    for client in made:
        client.http.close()
