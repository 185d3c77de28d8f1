"""Fixtures of the update tests: a real back office on loopback and an enrolled terminal.

The terminal is what ships: kiosk.link.enrolment.enrol stores the back-office keys (including
the publisher key), kiosk.link.uploader.uploader_from_settings builds the uploader with its Updater,
and the session is a real `Session` over fake devices.
"""
from __future__ import annotations

import itertools
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "backoffice"))

from backoffice.settings import Settings  # noqa: E402
from backoffice_testkit import ServerThread  # noqa: E402
from kiosk.link.enrolment import enrol  # noqa: E402
from kiosk.link.uploader import uploader_from_settings  # noqa: E402
from tests.kiosk.link.updates.update_kit import catalog_copy  # noqa: E402

_ids = itertools.count(1)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    settings = Settings.for_data_dir(tmp_path_factory.mktemp("backoffice"),
                                     heartbeat_interval_s=1, missed_heartbeats=2)
    with ServerThread(settings) as running:
        yield running


@dataclass
class Kiosk:
    terminal_id: str
    site: str
    state_dir: Path
    uploader: object

    @property
    def keys(self) -> Path:
        return self.state_dir / "keys"


@pytest.fixture
def kiosk(server, tmp_path):
    """A terminal of its own site (so tests sharing the server do not see each other's
    site updates), enrolled with a one-time token."""
    n = next(_ids)
    terminal_id, site = f"UPD-{n:03d}", f"site-upd-{n}"
    state_dir = tmp_path / "state"
    token = server.services.fleet.create_token(terminal_id, site)
    enrol(server.base_url, token, terminal_id, state_dir / "keys")
    uploader = uploader_from_settings(state_dir, server.base_url, terminal_id, site_id=site)
    yield Kiosk(terminal_id, site, state_dir, uploader)
    uploader.close()
    uploader.outbox.close()


@pytest.fixture
def packaged(tmp_path) -> Path:
    """Stands in for the packaged catalogue (flows/), small enough to load quickly."""
    return catalog_copy(tmp_path, "")
