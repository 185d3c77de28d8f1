"""Whole visits of many matters in a row through ONE real Kivy app, each screen checked for
layout, touch-target size and text contrast (the UI autopilot's checks):

    python tests/kiosk/ui/sweep_kiosk.py OUT.json [--modes normal,elder,en] [--screenshots DIR] [CODE...]

No CODE: every matter and bundle of the catalogue. Each (matter, mode) is one visit by touches
(`kiosk.ui.autopilot.UiAutopilot`) over in-process fake devices (tests/kit/fakes.py,
the card on the reader chosen per matter from the emulator's test cards as the demo does), so
one start of the app and its input method serves the whole sweep. Modes: normal (Chinese),
elder (Chinese, elder mode switched on at the attract screen), en (English), en-elder (the
longest texts at the largest size). Writes {"visits": [{code, mode, result, screens, elder,
layout_problems, accessibility_problems, min_target_mm, min_contrast}]} to OUT.json; exit 0
when every visit completed with no problem.
"""
import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))

from kiosk.ui.bootstrap import configure_kivy  # noqa: E402

configure_kivy(1280, 800)

from kivy.clock import Clock  # noqa: E402

from devices.id_card.scenario import load_scenario  # noqa: E402
from flows.catalog import load_catalog  # noqa: E402
from kiosk.visit import intents as I  # noqa: E402
from kiosk.config import load_config  # noqa: E402
from kiosk.ui.pinyin_ime import PinyinIME  # noqa: E402
from kiosk.visit.session import Devices, Session, SessionSettings  # noqa: E402
from kiosk.app.demo_devices import choose_card  # noqa: E402
from kiosk.ui.app import KioskApp  # noqa: E402
from kiosk.ui.autopilot import UiAutopilot  # noqa: E402
from kiosk.visit.packet import DirectorySink  # noqa: E402
from tests.kit.fakes import FakeCamera, FakePrinter, FakeReader, FakeScanner, FakeVerifier  # noqa: E402

SHOWN_S = 1.5      # the card screen and the face check stay up this long to be looked at


class SlowReader(FakeReader):
    """Finds the card SHOWN_S after it was first asked for it, as a hand lays it down (at once,
    the card screen would go by before the autopilot could look at it). The session asks in
    short slices (kiosk/visit/steps.py READ_SLICE_S): a slice before then finds nothing."""

    asked_at: float | None = None

    def read_card(self, timeout, cancel=None):
        if self.card is not None and not self.present:
            now = time.monotonic()
            self.asked_at = self.asked_at or now
            left = self.asked_at + SHOWN_S - now
            if left > timeout:
                time.sleep(timeout)
                return None
            time.sleep(max(left, 0.0))
            self.asked_at = None
        return super().read_card(timeout)


class SlowVerifier(FakeVerifier):
    """Decides after a moment, so the face screen is drawn and checked."""

    def verify(self, *args, **kw):
        time.sleep(SHOWN_S)
        return super().verify(*args, **kw)


MODES = {"normal": ("zh", False), "elder": ("zh", True), "en": ("en", False),
         "en-elder": ("en", True)}


def summary(pilot: UiAutopilot, code: str, mode: str) -> dict:
    checked = pilot.accessibility
    targets = [min(t["mm"]) for screen in checked for t in screen["targets"]]
    ratios = [t["contrast"] for screen in checked for t in screen["texts"]]
    return {"code": code, "mode": mode, "result": pilot.result, "outcome": pilot.pilot.outcome,
            "screens": pilot.screens, "checked": [s["screen"] for s in checked],
            "elder": sorted({s["elder"] for s in checked if s["screen"] not in ("attract",)}),
            "layout_problems": pilot.layout_problems,
            "accessibility_problems": pilot.accessibility_problems,
            "min_target_mm": min(targets, default=None), "min_contrast": min(ratios, default=None)}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("codes", nargs="*")
    ap.add_argument("--modes", default="normal,elder,en")
    ap.add_argument("--screenshots")
    ap.add_argument("--timeout-s", type=float, default=120.0)
    args = ap.parse_intermixed_args()
    catalog = load_catalog()
    codes = args.codes or sorted(catalog.matters)
    runs = [(code, mode) for mode in args.modes.split(",") for code in codes]
    cards = load_scenario().cards
    config = load_config(None, {"terminal_id": "UI-SWEEP-1"})
    reader = SlowReader()
    devices = Devices(reader, FakeCamera(), SlowVerifier(), FakeScanner(), FakePrinter())
    sink = DirectorySink(Path(tempfile.mkdtemp(prefix="sweep-")), "UI-SWEEP-1", "site")
    session = Session(catalog, devices, sink, SessionSettings(
        terminal_id="UI-SWEEP-1", site_name="测试站", phone="12345", end_screen_s=0.5)).start()
    app = KioskApp(session, catalog, config, camera_read=devices.camera.read,
                   ime_factory=PinyinIME, lockdown=False)
    visits: list[dict] = []
    started = time.monotonic()

    def next_visit(done: UiAutopilot | None = None) -> None:
        if done is not None:
            code, mode = runs[len(visits)]
            visits.append(summary(done, code, mode))
            print(f"{len(visits)}/{len(runs)} {code} {mode} result={done.result} "
                  f"{time.monotonic() - started:.0f}s", file=sys.stderr, flush=True)
        if len(visits) == len(runs):
            Clock.schedule_once(lambda _dt: app.stop(), 0.2)
            return
        code, mode = runs[len(visits)]
        lang, elder = MODES[mode]
        reader.present = False      # the last applicant took their card: the visit ends
        reader.card = cards[choose_card(catalog, code, cards)].record
        shots = Path(args.screenshots) / f"{code}-{mode}" if args.screenshots else None

        def at_attract(_dt):
            snap = app.snapshot
            if snap is None or snap.screen != "attract" or app.current_screen != "attract":
                Clock.schedule_once(at_attract, 0.1)    # the last visit is still ending
                return
            session.send(I.SetLanguage(lang))
            session.send(I.SetElderMode(elder))
            Clock.schedule_once(lambda _dt: UiAutopilot(
                app, code, {}, screenshots=shots, timeout_s=args.timeout_s,
                on_done=next_visit).start(), 0.3)
        Clock.schedule_once(at_attract, 0.1)

    Clock.schedule_once(lambda _dt: next_visit(), 0)
    app.run()
    session.stop()
    Path(args.out).write_text(json.dumps({"visits": visits, "seconds": round(
        time.monotonic() - started)}, ensure_ascii=False, indent=1), encoding="utf-8")
    bad = [v for v in visits if v["result"] != 0 or v["layout_problems"]]
    return 0 if len(visits) == len(runs) and not bad else 1


if __name__ == "__main__":
    sys.exit(main())
