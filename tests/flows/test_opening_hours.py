"""Opening hours of a bank-branch site, enforced by the headless session itself.

The session's wall clock is injected (`Session(now=...)`), so these tests move time across
closing time without waiting. Outside the hours an intent to start a matter is refused with
the out-of-hours reason, the next opening time and the nearest 24-hour station; a visit that
began before closing time is allowed to finish.
"""
import datetime as dt
import json
import time

from kiosk.visit import intents as I
from kiosk.visit.scripted_applicant import ScriptedApplicant, drive
from kiosk.config import load_config
from kiosk.visit.session import Devices, Session, SessionSettings
from kiosk.app.terminal import session_settings
from kiosk.visit.packet import DirectorySink
from tests.kit.cards import make_card
from tests.kit.fakes import FakeCamera, FakePrinter, FakeReader, FakeScanner, FakeVerifier

BANK_HOURS = ('[site]\nkind = "bank_branch"\n'
              'opening_hours = [{ days = "mon-fri", open = "09:00", close = "17:00" },'
              ' { days = "sat", open = "10:00", close = "14:00" }]\n')
FRIDAY_1659 = dt.datetime(2026, 11, 27, 16, 59)
FRIDAY_1730 = dt.datetime(2026, 11, 27, 17, 30)
SUNDAY_1100 = dt.datetime(2026, 11, 29, 11, 0)
ANSWERS = {"form": {"mobile": "13912345678"}, "evaluation": 5}


class WallClock:
    """An injectable local wall clock the test moves by hand."""

    def __init__(self, when: dt.datetime):
        self.when = when

    def __call__(self) -> dt.datetime:
        return self.when


def bank_config(tmp_path, station: str = ""):
    text = BANK_HOURS + (f'nearest_24h_station = "{station}"\n' if station else "")
    path = tmp_path / "site.toml"
    path.write_text(f'state_dir = "{tmp_path / "state"}"\n' + text, encoding="utf-8")
    return load_config(path)


def bank_session(catalog, tmp_path, clock: WallClock, station: str = "") -> Session:
    config = bank_config(tmp_path, station)
    settings = session_settings(config)
    settings = SessionSettings(**{**settings.__dict__, "terminal_id": "T-BANK", "end_screen_s": 0.3})
    devices = Devices(id_card=FakeReader(make_card(birth=dt.date(1940, 1, 1))),
                      camera=FakeCamera(), face=FakeVerifier(), scanner=FakeScanner(),
                      printer=FakePrinter())
    sink = DirectorySink(tmp_path / "packets", "T-BANK", "bank-1")
    return Session(catalog, devices, sink, settings, now=clock).start()


def packets(tmp_path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((tmp_path / "packets").glob("*/manifest.json"))]


def test_outside_hours_a_visit_does_not_start_and_says_when_and_where(mini_catalog, tmp_path):
    session = bank_session(mini_catalog, tmp_path, WallClock(SUNDAY_1100), station="春熙路 24 小时自助银行")
    try:
        pilot = drive(session, ScriptedApplicant(ANSWERS), "NP-OLD-ALLOWANCE", timeout=10)
        snap = session.snapshot
        assert pilot.outcome == "refused" and pilot.reason_key == "visit.out_of_hours_nearest"
        params = dict(snap.params)
        assert params["when"] == "11-30 09:00" and params["opens_at"] == "2026-11-30T09:00"
        assert params["place"] == "春熙路 24 小时自助银行"
        assert session.plan is None and session.devices.id_card.reads == 0
        text = mini_catalog.text(snap.reason_key, "en", **params)
        assert "11-30 09:00" in text and "春熙路" in text
        deadline = time.monotonic() + 5          # the refusal clears by itself
        while session.snapshot.screen != "attract" and time.monotonic() < deadline:
            time.sleep(0.02)
        assert session.snapshot.screen == "attract"
    finally:
        session.stop()
    assert packets(tmp_path) == []


def test_without_a_24h_station_only_the_opening_time_is_given(mini_catalog, tmp_path):
    saturday_evening = dt.datetime(2026, 11, 28, 18, 0)
    session = bank_session(mini_catalog, tmp_path, WallClock(saturday_evening))
    try:
        pilot = drive(session, ScriptedApplicant(ANSWERS), "NP-OLD-ALLOWANCE", timeout=10)
        assert pilot.reason_key == "visit.out_of_hours"
        assert dict(session.snapshot.params)["when"] == "11-30 09:00"
    finally:
        session.stop()


def test_a_visit_in_progress_at_closing_time_is_allowed_to_finish(mini_catalog, tmp_path):
    clock = WallClock(FRIDAY_1659)

    def close_the_branch(snap):
        if snap.screen not in ("attract", "refused"):
            clock.when = FRIDAY_1730            # 17:00 passes during the visit

    session = bank_session(mini_catalog, tmp_path, clock)
    try:
        pilot = drive(session, ScriptedApplicant(ANSWERS), "NP-OLD-ALLOWANCE", timeout=20,
                      on_snapshot=close_the_branch)
        assert clock.when == FRIDAY_1730
        assert pilot.outcome == "done", pilot.screens
        assert [p["kind"] for p in packets(tmp_path)].count("application") == 1
        deadline = time.monotonic() + 5
        while session.snapshot.screen != "attract" and time.monotonic() < deadline:
            session.devices.id_card.present = False
            time.sleep(0.02)
        session.send(I.StartVisit("NP-OLD-ALLOWANCE"))   # the next applicant is turned away
        deadline = time.monotonic() + 5
        while session.snapshot.reason_key != "visit.out_of_hours" and time.monotonic() < deadline:
            time.sleep(0.02)
        assert session.snapshot.screen == "refused"
        assert dict(session.snapshot.params)["when"] == "11-28 10:00"
    finally:
        session.stop()


def test_inside_hours_and_without_hours_visits_start(mini_catalog, tmp_path):
    session = bank_session(mini_catalog, tmp_path, WallClock(dt.datetime(2026, 11, 28, 11, 0)))
    try:
        pilot = drive(session, ScriptedApplicant(ANSWERS), "NP-OLD-ALLOWANCE", timeout=20)
        assert pilot.outcome == "done"
    finally:
        session.stop()
    always = session_settings(load_config(overrides={"state_dir": str(tmp_path / "s2")}))
    assert always.is_open(SUNDAY_1100) and always.next_opening(SUNDAY_1100) is None


def test_outside_hours_a_progress_query_does_not_start_either(mini_catalog, tmp_path):
    session = bank_session(mini_catalog, tmp_path, WallClock(SUNDAY_1100))
    try:
        session.send(I.StartProgress())
        deadline = time.monotonic() + 5
        while (session.snapshot is None or session.snapshot.screen != "refused") \
                and time.monotonic() < deadline:
            time.sleep(0.02)
        assert session.snapshot.screen == "refused"
        assert session.snapshot.reason_key == "visit.out_of_hours"
        assert dict(session.snapshot.params)["when"] == "11-30 09:00"
    finally:
        session.stop()


def test_the_opening_time_is_the_sites_not_the_minutes_of_now(mini_catalog, tmp_path):
    """At 11:12 on a Sunday the branch opens on Monday at 09:00, not at "09:12"."""
    sunday_1112 = dt.datetime(2026, 11, 29, 11, 12, 37)
    session = bank_session(mini_catalog, tmp_path, WallClock(sunday_1112))
    try:
        pilot = drive(session, ScriptedApplicant(ANSWERS), "NP-OLD-ALLOWANCE", timeout=10)
        assert pilot.reason_key == "visit.out_of_hours"
        params = dict(session.snapshot.params)
        assert params["when"] == "11-30 09:00" and params["opens_at"] == "2026-11-30T09:00"
    finally:
        session.stop()
    site = bank_config(tmp_path).site
    assert site.next_opening(dt.datetime(2026, 11, 27, 17, 7)) == dt.datetime(2026, 11, 28, 10, 0)
    assert site.next_opening(dt.datetime(2026, 11, 30, 8, 53)) == dt.datetime(2026, 11, 30, 9, 0)
    assert site.next_opening(FRIDAY_1659) == dt.datetime(2026, 11, 28, 10, 0)   # open now: the next
