"""Run the real Kivy app over a session with fake devices and a headphone jack that reports
plugging, and act out one applicant without an ID card in audio-first mode
(python tests/kiosk/ui/audio_first_kiosk.py OUTDIR): headphones go in, a first touch on a button
only says what it is, a second touch uses it, the keypad reaches "我没有身份证" and presses it.
Writes OUTDIR/result.json: the steps taken, the screens, what was said after each step."""
import datetime as dt
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))

from kiosk.ui.bootstrap import configure_kivy  # noqa: E402

configure_kivy(1280, 800)

from kivy.clock import Clock  # noqa: E402
from kivy.tests.common import UnitTestTouch  # noqa: E402

from kiosk.ui.jack import FakeJack  # noqa: E402
from kiosk.visit.session import Devices, Session, SessionSettings  # noqa: E402
from kiosk.ui.app import KioskApp  # noqa: E402
from kiosk.ui.keypad_pilot import KeypadAutopilot  # noqa: E402
from kiosk.visit.packet import DirectorySink  # noqa: E402
from tests.kit.cards import make_card  # noqa: E402
from tests.kit.fakes import (FakeCamera, FakePrinter, FakeReader,  # noqa: E402
                                    FakeScanner, FakeVerifier)
from tests.kiosk.ui.fake_kiosk import mini_catalog_and_config  # noqa: E402
from voice import NullBackend, Speaker, VoiceSettings  # noqa: E402

STATION = "市民中心东门24小时自助服务区"


def main(out):
    out = Path(out)
    catalog, config = mini_catalog_and_config()
    reader = FakeReader(make_card(birth=dt.date(1940, 1, 1)))
    reader.card = None                           # nobody puts a card on the reader
    devices = Devices(reader, FakeCamera(), FakeVerifier(), FakeScanner(), FakePrinter())
    session = Session(catalog, devices, DirectorySink(out / "packets", "UI-TEST-1", "site"),
                      SessionSettings(terminal_id="UI-TEST-1", site_name="测试站", phone="12345",
                                      nearest_24h_station=STATION)).start()
    backend = NullBackend()
    speaker = Speaker(VoiceSettings(cache_dir=out / "voice", audio_device="null"),
                      synthesizer=backend, player=backend)
    jack = FakeJack(False)
    app = KioskApp(session, catalog, config, speaker=speaker, lockdown=False,
                   headphone_jack=jack)
    log = [{"step": "start", "spoken": []}]
    said = speaker.say, speaker.say_text

    def heard(fn):
        def wrapped(*a, **kw):
            u = fn(*a, **kw)
            log[-1]["spoken"].append(u.text)
            return u
        return wrapped
    speaker.say, speaker.say_text = heard(said[0]), heard(said[1])
    keys = KeypadAutopilot(app, "NP-OLD-ALLOWANCE")     # its hands only: press(), tap()

    def step(name, fn):
        log.append({"step": name, "screen": app.current_screen, "spoken": []})
        fn()

    def touch(ident):
        w = next(w for w in app.root.walk(restrict=True) if getattr(w, "ident", None) == ident)
        t = UnitTestTouch(*w.to_window(w.center_x, w.center_y))
        t.touch_down()
        t.touch_up()

    def reach(ident):
        keys.tap(ident)
        while keys.actions:
            keys.actions.popleft()()

    plan = [
        (lambda: app.current_screen == "attract", "plug", lambda: setattr(jack, "state", True)),
        (lambda: app.snapshot.audio_first, "touch tree once", lambda: touch("tree:natural")),
        (lambda: True, "touch tree again", lambda: touch("tree:natural")),
        (lambda: app.current_screen == "browse", "touch stage twice",
         lambda: (touch("stage:old_age"), touch("stage:old_age"))),
        (lambda: app.current_screen == "browse", "touch matter twice",
         lambda: (touch("matter:NP-OLD-ALLOWANCE"), touch("matter:NP-OLD-ALLOWANCE"))),
        (lambda: app.current_screen == "guide", "keys to next", lambda: reach("next")),
        (lambda: app.current_screen == "consent", "keys to agree", lambda: reach("agree")),
        (lambda: app.current_screen == "id_card", "keys to no card", lambda: reach("no_id_card")),
        (lambda: app.current_screen == "refused", "volume up", lambda: keys.press("+")),
        (lambda: True, "end", lambda: None),
    ]
    result = {}

    def tick(_dt):
        if not plan or app.snapshot is None:
            return
        ready, name, action = plan[0]
        if ready():
            plan.pop(0)
            step(name, action)
            if not plan:
                result.update(screen=app.current_screen, reason=app.snapshot.reason_key,
                              params=dict(app.snapshot.params), touches=app.focus.touches,
                              volume=speaker.volume)
                Clock.schedule_once(lambda _dt: app.stop(), 0.5)
    Clock.schedule_interval(tick, 0.4)
    Clock.schedule_once(lambda _dt: app.stop(), 60)
    app.run()
    session.stop()
    speaker.close()
    result["log"] = log
    (out / "result.json").write_text(json.dumps(result, ensure_ascii=False, indent=1),
                                     encoding="utf-8")


if __name__ == "__main__":
    main(*sys.argv[1:])
