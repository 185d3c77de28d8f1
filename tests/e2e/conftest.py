"""Fixtures of the end-to-end tests: one back office process, one kiosk on emulated devices
with the real outbox, and one `kiosk-uploader` process between them, shared by the tests of
this folder (starting them costs more than the tests themselves)."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from e2e_kit import BackofficeProcess, Kiosk, UploaderProcess  # noqa: E402


@pytest.fixture(scope="session")
def backoffice(tmp_path_factory):
    server = BackofficeProcess(tmp_path_factory.mktemp("e2e-backoffice") / "data").start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def world(backoffice, tmp_path_factory):
    from kiosk.link.progress_client import ProgressClient
    kiosk = uploader = None
    try:
        kiosk = Kiosk(tmp_path_factory.mktemp("e2e-kiosk"), backoffice,
                      progress_client_factory=ProgressClient)
        uploader = UploaderProcess(kiosk.state_dir, backoffice.url).start()
        yield backoffice, kiosk, uploader
    finally:
        if uploader is not None:
            uploader.stop()
        if kiosk is not None:
            kiosk.close()
