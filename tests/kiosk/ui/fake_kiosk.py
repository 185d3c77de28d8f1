"""Run the real Kivy app over a session with in-process fake devices and the small test
catalogue, driven by the UI autopilot (python tests/kiosk/ui/fake_kiosk.py CODE OUTDIR [elder] [en]).

Used by the UI tests to exercise every screen quickly without emulators; the full demo with
emulated devices is exercised by `kiosk run --demo --autopilot` in test_demo_autopilot.py.
"""
import json
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))

from kiosk.ui.bootstrap import configure_kivy  # noqa: E402

configure_kivy(1280, 800)

from flows.catalog import CATALOG_DIR, load_catalog  # noqa: E402
from kiosk.visit import intents as I  # noqa: E402
from kiosk.config import load_config  # noqa: E402
from kiosk.ui.pinyin_ime import PinyinIME  # noqa: E402
from kiosk.visit.session import Devices, Session, SessionSettings  # noqa: E402
from kiosk.ui.app import KioskApp  # noqa: E402
from kiosk.ui.autopilot import UiAutopilot  # noqa: E402
from kiosk.visit.packet import DirectorySink  # noqa: E402
from tests.kit.fakes import FakeCamera, FakePrinter, FakeReader, FakeScanner, FakeVerifier  # noqa: E402
from tests.kit.cards import make_card  # noqa: E402
import datetime as dt  # noqa: E402


def mini_catalog_and_config():
    """The small test catalogue (with the real prompts) and a test terminal's configuration."""
    root = Path(tempfile.mkdtemp()) / "catalog"
    shutil.copytree(ROOT / "tests" / "kit" / "mini_catalog", root)
    shutil.copy(CATALOG_DIR / "prompts.yaml", root / "prompts.yaml")
    config = load_config(None, {"terminal_id": "UI-TEST-1", "site": {
        "name": {"zh": "市民中心24小时自助站", "en": "Civic Centre 24h station"}}})
    return load_catalog(root), config


def main(code, out, *flags):
    out = Path(out)
    catalog, config = mini_catalog_and_config()
    devices = Devices(FakeReader(make_card(birth=dt.date(1940, 1, 1))), FakeCamera(), FakeVerifier(),
                      FakeScanner(rejects=["doc.glare"]), FakePrinter())
    sink = DirectorySink(out / "packets", "UI-TEST-1", "site")
    session = Session(catalog, devices, sink, SessionSettings(
        terminal_id="UI-TEST-1", site_name="测试站", phone="12345", end_screen_s=1.0,
        language="en" if "en" in flags else "zh")).start()
    if "elder" in flags:
        session.send(I.SetElderMode(True))
    app = KioskApp(session, catalog, config, camera_read=devices.camera.read,
                   ime_factory=PinyinIME, lockdown=False)
    pilot = UiAutopilot(app, code, {"form": {"mobile": "13912345678"}},
                        screenshots=out / "screens", timeout_s=90)
    pilot.start()
    app.run()
    session.stop()
    (out / "result.json").write_text(json.dumps({"result": pilot.result, "screens": pilot.screens,
                                                 "saved": [str(p) for p in pilot.saved]}))
    return pilot.result


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
