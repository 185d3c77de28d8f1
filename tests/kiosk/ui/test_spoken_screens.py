"""What the voice says as the picture changes (`kiosk.ui.spoken`), over whole visits run by the
session on fake devices: every screen has a prompt the speaker can fill, the end screen says
the case number after its own sentence, the receipt's sentence is not cut off by the end
screen, and an alert waits for the sentence it would interrupt."""
import datetime as dt

from kiosk.visit.scripted_applicant import ScriptedApplicant, drive
from kiosk.ui.spoken import URGENT_ALERTS, View, browse_prompt, plan_speech, snapshot_view
from tests.kit.cards import make_card
from tests.kit.session_kit import make_session
from voice.prompts import PromptBook

ANSWERS = {"form": {"mobile": "13912345678"}, "evaluation": 5}
BOOK = PromptBook.load()


def visit_speech(mini_catalog, tmp_path, code="NP-OLD-ALLOWANCE", language="zh"):
    session, _devices, _sink = make_session(mini_catalog, tmp_path,
                                            card=make_card(birth=dt.date(1940, 1, 1)))
    snaps = []
    session.subscribe(snaps.append)
    try:
        if language != "zh":
            from kiosk.visit import intents as I
            session.send(I.SetLanguage(language))
        pilot = drive(session, ScriptedApplicant(ANSWERS), code, timeout=20)
        assert pilot.outcome == "done", pilot.screens
    finally:
        session.stop()
    heard, plan = None, []
    for snap in snaps:
        view = snapshot_view(snap)
        if view == heard:
            continue
        plan.append((snap, plan_speech(heard, view)))
        heard = view
    return plan


def test_every_screen_of_a_visit_says_a_prompt_the_speaker_can_fill(mini_catalog, tmp_path):
    for language in ("zh", "en"):
        plan = visit_speech(mini_catalog, tmp_path / language, language=language)
        assert {snap.language for snap, _ in plan if snap.screen == "guide"} == {language}
        screens = {snap.screen for snap, _ in plan}
        spoken_on = {snap.screen for snap, speech in plan if speech.says}
        assert screens == spoken_on, screens - spoken_on
        assert {"guide", "id_card", "form", "receipt", "done"} <= screens
        for snap, speech in plan:
            for say in speech.says:
                text = BOOK.text(say.key, snap.language, say.params)   # raises if unfillable
                assert text.strip()


def test_the_end_screen_says_the_case_number_after_the_receipt_sentence(mini_catalog, tmp_path):
    plan = visit_speech(mini_catalog, tmp_path)
    order = [snap.screen for snap, speech in plan if speech.says]
    done_at = order.index("done")
    assert "receipt" in order[:done_at]
    done_snap, done_speech = [(s, sp) for s, sp in plan if s.screen == "done" and sp.says][0]
    keys = [say.key for say in done_speech.says]
    assert keys[:2] == ["step.done", "done.case_number"]
    assert done_speech.says[1].params == {"case": done_snap.case_number}
    assert done_snap.case_number and done_snap.case_number in BOOK.text(
        "done.case_number", "zh", done_speech.says[1].params)
    previous = [snap.screen for snap, _ in plan][[s for s, _ in plan].index(done_snap) - 1]
    if previous in ("receipt", "submit"):
        assert not done_speech.stop_first          # "take your receipt" is finished first
    assert not any(say.interrupt for say in done_speech.says)


def test_a_screen_the_applicant_leaves_cuts_the_sentence_short():
    guide = View("guide", "zh", ("step.guide", ()))
    consent = View("consent", "zh", ("step.consent", ()))
    assert plan_speech(guide, consent).stop_first
    receipt = View("receipt", "zh", ("step.receipt", ()))
    done = View("done", "zh", ("step.done", ()), case_number="T-1-20261205-000001")
    assert not plan_speech(receipt, done).stop_first


def test_an_alert_waits_for_the_sentence_it_would_interrupt():
    done = View("done", "zh", ("step.done", ()))
    speech = plan_speech(done, View("done", "zh", ("step.done", ()),
                                    alerts=("visit.forgotten_card",)))
    assert not speech.stop_first
    assert [(s.key, s.interrupt) for s in speech.says] == [
        ("visit.forgotten_card", "visit.forgotten_card" in URGENT_ALERTS)]
    assert "visit.forgotten_card" not in URGENT_ALERTS
    assert plan_speech(View("done", "zh", ("step.done", ()), alerts=("visit.forgotten_card",)),
                       View("done", "zh", ("step.done", ()),
                            alerts=("visit.forgotten_card",))).says == ()   # said once


def test_browse_views_each_have_a_prompt_with_the_count():
    for state, stage, n in (({"tree": "natural"}, "出生", 3), ({"bundles": True}, None, 2),
                            ({"search": ""}, None, 0), ({"search": "gt"}, None, 4)):
        key, params = browse_prompt(state, stage, n)
        text = BOOK.text(key, "zh", dict(params))
        if params:
            assert str(n) in text
    tree = browse_prompt({"tree": "natural", "stage": "birth"}, "出生", 3)
    other = browse_prompt({"tree": "natural", "stage": "old_age"}, "老年", 4)
    before = View("browse", "zh", tree)
    assert plan_speech(before, View("browse", "zh", other)).says[0].params == \
        {"n": 4, "stage": "老年"}


def test_the_end_screen_says_how_a_reprint_went(mini_catalog, tmp_path):
    import dataclasses

    plan = visit_speech(mini_catalog, tmp_path)
    done = [snap for snap, _ in plan if snap.screen == "done"][0]
    before = snapshot_view(dataclasses.replace(done, reprint="printing"))
    for outcome in ("printed", "failed"):
        speech = plan_speech(before, snapshot_view(dataclasses.replace(done, reprint=outcome)))
        assert [s.key for s in speech.says] == [f"ui.reprint_{outcome}"]
        assert not speech.stop_first
