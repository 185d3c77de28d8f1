"""Fixtures for the back-office tests: one real server per test session and database engine
(SQLite, then PostgreSQL in the session's private cluster: `db_engine`, tests/conftest.py),
enrolled terminals."""
from __future__ import annotations

import itertools
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # importlib mode: make the kit importable

from backoffice_testkit import ServerThread, TerminalClient  # noqa: E402

_ids = itertools.count(1)


@pytest.fixture(scope="session")
def server(tmp_path_factory, backoffice_settings, db_engine):
    settings = backoffice_settings(tmp_path_factory.mktemp(f"backoffice-{db_engine}"),
                                   heartbeat_interval_s=1, missed_heartbeats=2,
                                   rate_limits="off")   # dozens of enrolments from loopback
    with ServerThread(settings) as running:
        yield running


@pytest.fixture
def new_terminal(server):
    """Factory: a fresh TerminalClient, enrolled unless enrol=False."""
    made = []

    def make(enrol: bool = True, site: str = "site-1") -> TerminalClient:
        client = TerminalClient(server.base_url, f"T{next(_ids):03d}", site=site)
        made.append(client)
        if enrol:
            token = server.services.fleet.create_token(client.terminal_id, site)
            assert client.enrol(token).status_code == 201
        return client

    yield make
    for client in made:
        client.http.close()
