"""The 办件查询 / 补件 screens in the real Kivy app: python tests/e2e/progress_ui.py OUTDIR

A real back office (uvicorn thread, SQLite) holds a case whose reviewer asked for the
household register; the real session runs on in-process fake devices with a ProgressClient
over loopback HTTP. Simulated touches: the attract screen's progress entry, scanning the
receipt with the document camera (which sees no code: a message), the QR scanner "typing" the
receipt URL and Enter, 补交材料, the card, capturing both pages, Next. Writes
OUTDIR/result.json {screens, packets, case} and a PNG per screen.
"""
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "backoffice"))

from kiosk.ui.bootstrap import configure_kivy  # noqa: E402

configure_kivy(1280, 800)

import datetime as dt  # noqa: E402

from kivy.clock import Clock  # noqa: E402
from kivy.core.window import Window  # noqa: E402

from backoffice_testkit import ServerThread, TerminalClient, application  # noqa: E402
from flows.catalog import load_catalog  # noqa: E402
from kiosk.config import load_config  # noqa: E402
from kiosk.link.progress_client import ProgressClient  # noqa: E402
from kiosk.visit.session import Devices, Session, SessionSettings  # noqa: E402
from kiosk.ui.app import KioskApp  # noqa: E402
from kiosk.visit.packet import DirectorySink  # noqa: E402
from tests.kit.cards import make_card  # noqa: E402
from tests.kit.fakes import FakeCamera, FakePrinter, FakeReader, FakeScanner, FakeVerifier  # noqa: E402


def seed_case(server, card) -> str:
    """An application from terminal UI-1 for this card, and a reviewer's supplement request."""
    from sqlalchemy import select

    from backoffice.db import Case
    from backoffice.workflow import apply_action
    client = TerminalClient(server.base_url, "UI-1")
    assert client.enrol(server.services.fleet.create_token("UI-1", "site-1", 1)).status_code == 201
    manifest, files = application(client, id_number=card.id_number, light=True)
    manifest["matter"] = {"code": "NP-OLD-ALLOWANCE", "name_zh": "高龄津贴申请", "bundle_of": None}
    assert client.send_packet(client.seal(manifest, files)).status_code == 201
    with server.services.db.write() as session:
        case = session.scalar(select(Case).where(Case.case_number == manifest["case_number"]))
        apply_action(session, case, "request_supplement", "reviewer:ui", "户口簿未能核验",
                     [{"code": "household_register", "name_zh": "户口簿", "reason": "未能核验"}])
    return manifest["case_number"], manifest["progress_token"], client


def find(app, ident):
    return next((w for w in app.root_box.walk() if getattr(w, "ident", None) == ident), None)


def main(out) -> int:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    card = make_card(birth=dt.date(1940, 1, 1))
    from backoffice.settings import Settings
    server = ServerThread(Settings.for_data_dir(Path(tempfile.mkdtemp()) / "bo")).__enter__()
    case, token, client = seed_case(server, card)
    catalog = load_catalog()
    config = load_config(None, {"terminal_id": "UI-1"})
    devices = Devices(FakeReader(card), FakeCamera(), FakeVerifier(), FakeScanner(), FakePrinter())
    sink = DirectorySink(out / "packets", "UI-1", "site-1")
    session = Session(catalog, devices, sink, SessionSettings(
        terminal_id="UI-1", site_name="测试站", phone="12345", end_screen_s=30),
        progress=ProgressClient(server.base_url, "UI-1", client.signing_key)).start()
    import numpy as np
    desk = np.full((480, 640, 3), 90, np.uint8)
    app = KioskApp(session, catalog, config, lockdown=False, doc_read=lambda: desk)
    screens: list[str] = []
    state = {"ticks": 0}

    def tap(ident) -> bool:
        widget = find(app, ident)
        if widget is None or widget.disabled:
            return False
        widget.dispatch("on_release")
        return True

    def tick(_dt):
        state["ticks"] += 1
        name = app.current_screen
        if name and (not screens or screens[-1] != name):
            # a new screen is pictured once it has been drawn: seen on two ticks in a row, and
            # the frame pacer no longer holding its first frame (a loaded machine is slow)
            drawn = state.get("seen") == name and not (app.pacer is not None and app.pacer.holding)
            state["seen"] = name
            if drawn:
                screens.append(name)
                Window.screenshot(name=str(out / f"{len(screens):02d}-{name}.png"))
            return                      # let the new screen settle for one tick
        snap = app.snapshot
        if name == "attract":
            tap("progress")
        elif name == "progress" and not snap.busy and not state.get("scanned"):
            state["scanned"] = tap("scan_receipt_code")   # the camera sees no code: a message
        elif name == "progress" and snap.busy and snap.progress_key:
            state["scanning_shown"] = find(app, "back") is not None
        elif name == "progress" and not snap.busy:
            state["after_scan"] = snap.reason_key
            Window.dispatch("on_textinput", f"https://bo.example.gov/progress/{case}?t={token}")
            Window.dispatch("on_key_down", 13, 36, "\r", [])
        elif name == "progress_result" and not snap.busy:
            tap(f"supplement:{case}")
        elif name == "supplement" and not snap.busy:
            todo = [m for m in snap.materials if m.status == "todo"]
            tap(f"capture:{todo[0].code}" if todo else "next")
        elif name == "supplement_done" or state["ticks"] > 200:
            app.stop()

    Clock.schedule_interval(tick, 0.25)
    app.run()
    session.stop()
    server.__exit__(None, None, None)
    packets = [json.loads(p.read_text("utf-8")) for p in sorted(out.glob("packets/*/manifest.json"))]
    (out / "result.json").write_text(json.dumps({
        "screens": screens, "case": case, "scanning_shown": state.get("scanning_shown"),
        "after_scan": state.get("after_scan"),
        "packets": [{"kind": m["kind"], "case_number": m["case_number"],
                     "materials": [(x["code"], x["page_count"]) for x in m["materials"]]}
                    for m in packets]}, ensure_ascii=False))
    return 0 if screens and screens[-1] == "supplement_done" else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
