"""A session actor over fake devices, as the visit tests use it: make one, wait, read packets."""
import datetime as dt
import json
import time

from kiosk.visit.packet import DirectorySink
from kiosk.visit.session import Devices, Session, SessionSettings
from tests.kit.cards import make_card
from tests.kit.fakes import FakeCamera, FakePrinter, FakeReader, FakeScanner, FakeVerifier


def make_session(catalog, tmp_path, card=None, name="s", printer=None, verifier=None,
                 scanner=None, clock=None, **settings):
    """A started session over fake devices; `clock`: the session's monotonic clock, if not
    the real one; `settings`: SessionSettings fields."""
    devices = Devices(id_card=FakeReader(card or make_card(birth=dt.date(1940, 1, 1))),
                      camera=FakeCamera(), face=verifier or FakeVerifier(),
                      scanner=scanner or FakeScanner(), printer=printer or FakePrinter())
    terminal = f"T-TEST-{name.upper()}"
    sink = DirectorySink(tmp_path / name, terminal, "site-test")
    opts = dict(terminal_id=terminal, site_name="测试站", phone="12345", end_screen_s=0.2)
    opts.update(settings)
    extra = {"clock": clock} if clock is not None else {}
    session = Session(catalog, devices, sink, SessionSettings(**opts), **extra)
    return session.start(), devices, sink


def manifests(root):
    return [json.loads(p.read_text()) for p in sorted(root.glob("*/manifest.json"))]


def wait_until(cond, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.02)
    raise AssertionError("condition not reached")
