"""The voice follows the visit: the elder rate while the session says elder mode, the site's
rate and volume again (and nothing left to repeat) once the visit is wiped.

The real `Speaker` with the recording `NullBackend` at the edge; the session runs whole visits
on fake devices; a listener says each new screen's prompt as the app does (the app subscribes
after the terminal's wiring, so it sees every snapshot after the speaker has been set).
"""
import datetime as dt
import threading

from kiosk.visit import intents as I
from kiosk.visit.scripted_applicant import ScriptedApplicant, drive
from kiosk.app.terminal import voice_follows_visits
from tests.kit.cards import make_card
from tests.kit.session_kit import make_session, wait_until as _wait
from voice import NullBackend, Speaker, VoiceSettings

ANSWERS = {"form": {"mobile": "13912345678"}, "evaluation": 5}


class ScreenVoice:
    """What the app's `_speak` does with a snapshot: a new screen's prompt, interrupting."""

    def __init__(self, speaker: Speaker):
        self.speaker = speaker
        self.screen = None
        self.said = []          # the utterances as queued: prompt, rate, volume
        self.lock = threading.Lock()

    def __call__(self, snap: I.Snapshot) -> None:
        with self.lock:
            if snap.screen != self.screen and snap.prompt_key:
                self.said.append(self.speaker.say(snap.prompt_key, language=snap.language))
            self.screen = snap.screen


def test_an_elder_visit_speaks_at_the_elder_rate_and_the_next_visit_does_not(mini_catalog,
                                                                            tmp_path):
    settings = VoiceSettings(cache_dir=tmp_path / "voice", rate=170, elder_rate_factor=0.75,
                             volume=0.8, audio_device="null")
    backend = NullBackend()
    speaker = Speaker(settings, synthesizer=backend, player=backend)
    session, devices, sink = make_session(mini_catalog, tmp_path,
                                          card=make_card(birth=dt.date(1940, 1, 1)))
    try:
        voice_follows_visits(session, speaker)
        screens = ScreenVoice(speaker)
        session.subscribe(screens)
        session.send(I.SetElderMode(True))
        _wait(lambda: session.snapshot.elder)
        speaker.set_volume(0.3)                 # the applicant turned the volume down
        mark = len(screens.said)
        pilot = drive(session, ScriptedApplicant(ANSWERS), "NP-OLD-ALLOWANCE", timeout=20)
        assert pilot.outcome == "done", pilot.screens
        assert speaker.wait_idle(10)
        elder_visit = screens.said[mark:]
        keys = [u.prompt_key for u in elder_visit]
        assert {"step.guide", "step.id_card", "step.form", "step.done"} <= set(keys), keys
        assert {u.rate for u in elder_visit} == {round(170 * 0.75)}
        assert {u.volume for u in elder_visit} == {0.3}
        assert {r.rate for r in backend.records[1:]} == {round(170 * 0.75)}   # as played

        devices.id_card.present = False          # the card is taken: the visit is wiped
        _wait(lambda: session.snapshot.screen == "attract" and session.state is None)
        speaker.wait_idle(10)
        assert not speaker.elder_mode and (speaker.rate, speaker.volume) == (170, 0.8)
        again = speaker.repeat()                 # nothing of the last visit to say again
        assert (again.prompt_key, again.rate, again.volume) == ("step.attract", 170, 0.8)

        mark = len(screens.said)
        pilot = drive(session, ScriptedApplicant(ANSWERS), "NP-OLD-ALLOWANCE", timeout=20)
        assert pilot.outcome == "done", pilot.screens
        normal_visit = screens.said[mark:]
        assert "step.id_card" in [u.prompt_key for u in normal_visit]
        assert {(u.rate, u.volume) for u in normal_visit} == {(170, 0.8)}
    finally:
        session.stop()
        speaker.close()
