"""A visit's state is one VisitContext: the wipe replaces it; the timers and snapshot read it."""
import dataclasses
import time

from flows import engine as E
from kiosk.visit import idle
from kiosk.visit import intents as I
from kiosk.visit.context import VisitContext
from kiosk.visit.scripted_applicant import ScriptedApplicant, drive
from kiosk.visit.session import SessionSettings
from kiosk.visit.snapshot import build_snapshot
from tests.kit.session_kit import make_session, wait_until

SETTINGS = SessionSettings(terminal_id="T", site_name="站", phone="1", idle_s=60,
                           idle_warning_s=20)


def _fresh_fields(ctx: VisitContext) -> dict:
    fields = dataclasses.asdict(dataclasses.replace(ctx, service_cancel=None))
    fields.pop("last_touch")
    return fields


def test_the_wipe_drops_the_visit_and_starts_a_fresh_one(mini_catalog, tmp_path):
    session, devices, _sink = make_session(mini_catalog, tmp_path, end_screen_s=0.2)
    try:
        session.send(I.SetElderMode(True))
        session.send(I.SetLanguage("en"))
        wait_until(lambda: session.snapshot.elder and session.snapshot.language == "en")
        during = session.visit
        pilot = drive(session, ScriptedApplicant({"form": {"mobile": "13912345678"}}),
                      "NP-OLD-ALLOWANCE", timeout=20)
        assert pilot.outcome == "done"
        devices.id_card.present = False
        wait_until(lambda: session.snapshot.screen == "attract" and session.visit is not during)
        after = session.visit
        assert during.case_number and during.started_at and during.identity_at
        fresh = VisitContext(language="zh", last_touch=0.0)
        assert _fresh_fields(after) == _fresh_fields(fresh)
        assert not session.snapshot.elder and session.snapshot.language == "zh"
    finally:
        session.stop()


def test_idle_timers_are_a_function_of_the_visit_and_the_clock():
    plan = object()                     # any application in progress
    ctx = VisitContext(language="zh", last_touch=100.0, plan=plan)
    assert idle.due(ctx, SETTINGS, 139.0) is None and idle.countdown(ctx, SETTINGS, 139.0) is None
    assert idle.due(ctx, SETTINGS, 145.0) == idle.WARNING
    assert idle.countdown(ctx, SETTINGS, 145.0) == 15
    assert idle.due(ctx, SETTINGS, 160.0) == idle.TIMED_OUT
    ctx.job = object()                  # a device step still running gets more time
    assert idle.due(ctx, SETTINGS, 160.0) == idle.WARNING
    assert idle.due(ctx, SETTINGS, 190.0) == idle.TIMED_OUT
    elder = VisitContext(language="zh", last_touch=100.0, plan=plan, elder=True)
    assert idle.due(elder, SETTINGS, 160.0) is None and idle.due(elder, SETTINGS, 220.0)
    end = VisitContext(language="zh", last_touch=0.0, screen="done", end_until=10.0)
    assert idle.due(end, SETTINGS, 9.0) is None and idle.due(end, SETTINGS, 10.0) == \
        idle.END_SCREEN_OVER
    end.alerts = ("visit.forgotten_card",)          # not while the card is on the reader
    assert idle.due(end, SETTINGS, 11.0) is None
    keypad = VisitContext(language="zh", last_touch=0.0, audio_first=True)
    assert idle.due(keypad, SETTINGS, 60.0) == idle.NOBODY_CAME


def test_the_snapshot_is_built_from_the_visit_alone(mini_catalog):
    ctx = VisitContext(language="en", last_touch=time.monotonic(), screen="refused",
                       reason="visit.out_of_hours", params={"when": "08:30"}, elder=True)
    snap = build_snapshot(ctx, mini_catalog, seq=7, handled=3, countdown=None,
                          reprint_offered=False, closed_matters=lambda: (("X", "device.printer"),))
    assert (snap.screen, snap.reason_key) == ("refused", "visit.out_of_hours")
    assert snap.prompt_key is None
    assert snap.params == (("when", "08:30"),) and snap.elder and snap.language == "en"
    assert snap.closed_matters == () and snap.seq == 7 and snap.handled == 3
    ctx.screen = "attract"
    assert build_snapshot(ctx, mini_catalog, seq=8, handled=3, countdown=None,
                          reprint_offered=False,
                          closed_matters=lambda: (("X", "device.printer"),)).closed_matters == \
        (("X", "device.printer"),)
    matter = mini_catalog.get("NP-OLD-ALLOWANCE")
    ctx.plan, ctx.state = E.plan_visit(mini_catalog, matter), E.VisitState()
    snap = build_snapshot(ctx, mini_catalog, seq=9, handled=4, countdown=12,
                          reprint_offered=False, closed_matters=lambda: ())
    assert snap.screen == "guide" and snap.matter_code == "NP-OLD-ALLOWANCE"
    assert snap.idle_countdown == 12 and not snap.busy
