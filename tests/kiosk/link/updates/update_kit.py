"""Helpers of the update tests: a changed copy of the catalogue, a session over fake devices."""
from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

from flows.catalog import CATALOG_DIR
from kiosk.visit.session import Devices, Session, SessionSettings
from kiosk.visit.packet import DirectorySink
from tests.kit.cards import make_card
from tests.kit.fakes import FakeCamera, FakePrinter, FakeReader, FakeScanner, FakeVerifier

NOT_OFFERED = "visit.not_offered"
MINI_CATALOG = Path(__file__).resolve().parents[3] / "kit" / "mini_catalog"


def catalog_copy(tmp_path: Path, label: str) -> Path:
    """The small test catalogue (tests/kit/mini_catalog and the real prompts) with one
    visible change: the English `visit.not_offered` prompt ends with "(label)". label "" is
    the unchanged one, standing in for the packaged catalogue."""
    root = tmp_path / f"catalog-{label or 'packaged'}"
    shutil.copytree(MINI_CATALOG, root)
    prompts = (CATALOG_DIR / "prompts.yaml").read_text(encoding="utf-8")
    marker = 'en: "This station does not offer this service."'
    assert marker in prompts
    if label:
        prompts = prompts.replace(marker, f'en: "This station does not offer this service ({label})."')
    (root / "prompts.yaml").write_text(prompts, encoding="utf-8")
    return root


def not_offered_text(catalog) -> str:
    return catalog.prompts[NOT_OFFERED].en


def session_over(catalog, tmp_path: Path) -> Session:
    devices = Devices(id_card=FakeReader(make_card(birth=dt.date(1940, 1, 1))),
                      camera=FakeCamera(), face=FakeVerifier(), scanner=FakeScanner(),
                      printer=FakePrinter())
    sink = DirectorySink(tmp_path / "packets", "T-UPD", "site-upd")
    return Session(catalog, devices, sink, SessionSettings(terminal_id="T-UPD", site_name="站",
                                                           phone="12345")).start()
