"""Audio-first mode without the screen: the keypad's key map and focus moves (pure), the
headphone-jack watcher (amixer's output), and the session's side — the mode lasts one visit,
the signature replaced by a keypad confirmation recorded in the packet, the volume reset at the
wipe, and what someone without an ID card or who declines consent is told to do instead."""
import datetime as dt
import subprocess

from flows.engine import plan_visit
from kiosk.visit import intents as I
from kiosk.visit.scripted_applicant import ScriptedApplicant, drive
from kiosk.ui.jack import AlsaHeadphoneJack, FakeJack, JackWatcher, card_of
from kiosk.app.terminal import voice_follows_visits
from kiosk.ui import keypad as K
from tests.kit.cards import make_card
from tests.kit.session_kit import make_session, manifests, wait_until as _wait
from voice import NullBackend, Speaker, VoiceSettings

ANSWERS = {"form": {"mobile": "13912345678"}, "evaluation": 5}


# -- the keypad ----------------------------------------------------------------------------------
def test_numpad_keys_arrows_and_symbols_map_to_actions():
    names = {key: K.action_for(key, None).name for key in (258, 264, 260, 262, 261, 256, 271,
                                                           13, 268, 267, 270, 269, 273, 274,
                                                           275, 276)}
    assert names == {258: "down", 264: "up", 260: "left", 262: "right", 261: "activate",
                     256: "repeat", 271: "activate", 13: "activate", 268: "back", 267: "help",
                     270: "volume_up", 269: "volume_down", 273: "up", 274: "down",
                     275: "right", 276: "left"}
    assert K.action_for(35, "#").name == "help" and K.action_for(42, "*").name == "back"
    assert K.action_for(50, "2").name == "down"          # the top-row digits too
    assert K.action_for(257, "1") is None and K.action_for(97, "a") is None


def test_while_typing_digits_type_and_star_deletes_and_enter_confirms():
    assert K.action_for(258, "2", typing=True) == K.Action("type", "2")
    assert K.action_for(57, "9", typing=True) == K.Action("type", "9")
    assert K.action_for(266, ".", typing=True).name == "extra"
    assert K.action_for(268, "*", typing=True).name == "delete"
    assert K.action_for(271, None, typing=True).name == "confirm"
    assert K.action_for(274, None, typing=True).name == "down"    # the arrows still move


def test_focus_moves_by_direction_and_2_alone_reaches_every_element():
    # a keyboard-like grid: two rows of three keys, then one wide button below
    rects = [(x * 100, 200, 90, 90) for x in range(3)] + \
            [(x * 100, 100, 90, 90) for x in range(3)] + [(0, 0, 290, 90)]
    assert K.move(rects, None, "down") == 0 and K.move(rects, None, "up") == 6
    assert K.move(rects, 0, "right") == 1 and K.move(rects, 1, "down") == 4
    assert K.move(rects, 4, "down") == 6 and K.move(rects, 6, "up") in (3, 4, 5)
    assert K.move(rects, 2, "right") == 3      # the end of a row: on in reading order
    walk, at = set(), None                      # 6 (right) walks every element in order
    for _ in range(len(rects)):
        at = K.move(rects, at, "right")
        walk.add(at)
    assert walk == set(range(len(rects)))
    assert K.list_position(4, [3, 4, 5]) == (2, 3) and K.list_position(4, [4]) is None


# -- the headphone jack --------------------------------------------------------------------------
CONTROLS = ("numid=18,iface=CARD,name='Headphone Jack'\n"
            "numid=17,iface=CARD,name='Mic Jack'\n"
            "numid=2,iface=MIXER,name='Master Playback Volume'\n")


def fake_amixer(state: dict, controls: str = CONTROLS):
    def run(argv, **_kw):
        state["calls"].append(argv)
        if argv[3] == "controls":
            return subprocess.CompletedProcess(argv, 0, controls, "")
        out = ("numid=18,iface=CARD,name='Headphone Jack'\n"
               "  ; type=BOOLEAN,access=r-------,values=1\n"
               f"  : values={'on' if state['in'] else 'off'}\n")
        return subprocess.CompletedProcess(argv, 0, out, "")
    return run


def test_alsa_jack_reads_the_headphone_jack_control():
    state = {"in": False, "calls": []}
    jack = AlsaHeadphoneJack("1", run=fake_amixer(state))
    assert jack.plugged() is False
    state["in"] = True
    assert jack.plugged() is True
    assert state["calls"][0] == ["amixer", "-c", "1", "controls"]
    assert state["calls"][-1] == ["amixer", "-c", "1", "cget", "numid=18"]
    assert [c[3] for c in state["calls"]].count("controls") == 1     # looked up once


def test_a_card_without_jack_detection_never_fires():
    state = {"in": True, "calls": []}
    jack = AlsaHeadphoneJack("0", run=fake_amixer(state, controls="numid=1,iface=MIXER,"
                                                        "name='PCM Playback Volume'\n"))
    assert jack.plugged() is None
    fired = []
    watcher = JackWatcher(jack, lambda: fired.append(1)).start()
    assert watcher._thread is None and not fired

    def missing(argv, **_kw):
        raise FileNotFoundError("amixer")
    assert AlsaHeadphoneJack("0", run=missing).plugged() is None


def test_watcher_fires_when_headphones_go_in_not_when_already_in():
    jack, fired = FakeJack(True), []
    watcher = JackWatcher(jack, lambda: fired.append(1), poll_s=60).start()
    try:
        assert not watcher.check() and not fired            # in at start: not a new plug
        jack.state = False
        assert not watcher.check()
        jack.state = None                                   # a read that failed: no change
        assert not watcher.check()
        jack.state = True
        assert watcher.check() and fired == [1]
        assert not watcher.check() and fired == [1]
    finally:
        watcher.stop()


def test_card_of_an_alsa_device_name():
    assert card_of("plughw:1,0") == "1" and card_of("hw:CARD=Headphones,DEV=0") == "Headphones"
    assert card_of("") == "0" and card_of("default") == "0"


# -- the session ---------------------------------------------------------------------------------
class ByKeypad(ScriptedApplicant):
    """The headless applicant, in audio-first mode: confirms the commitment with the keypad."""

    def decide(self, s):
        if s.screen == "commitment":
            return [I.ConfirmByKeypad()]
        return super().decide(s)


def test_keypad_confirmation_replaces_the_signature_in_the_packet(mini_catalog, tmp_path):
    session, devices, sink = make_session(mini_catalog, tmp_path)
    try:
        session.send(I.SetAudioFirst(True))
        _wait(lambda: session.snapshot.audio_first)
        pilot = drive(session, ByKeypad(ANSWERS), "NP-OLD-ALLOWANCE", timeout=20)
        assert pilot.outcome == "done", pilot.screens
    finally:
        session.stop()
    app = [m for m in manifests(tmp_path / "s") if m["kind"] == "application"][0]
    assert app["commitment"]["method"] == "voice_keypad"
    assert app["commitment"]["signature_file"] is None and app["commitment"]["signed_at"]
    assert app["commitment"]["text_zh"]
    assert "commitment/signature.png" not in {f["name"] for f in app["files"]}


def test_keypad_confirmation_counts_only_in_audio_first_mode(mini_catalog, tmp_path):
    session, devices, sink = make_session(mini_catalog, tmp_path)
    try:
        pilot = ByKeypad(ANSWERS)
        # without audio-first the confirmation is ignored and the screen stays
        try:
            drive(session, pilot, "NP-OLD-ALLOWANCE", timeout=6)
        except TimeoutError as exc:
            assert "commitment" in str(exc)
        else:
            raise AssertionError("a keypad confirmation was taken without audio-first mode")
        assert session.snapshot.screen == "commitment" and not session.snapshot.audio_first
        session.send(I.SetAudioFirst(True))
        session.send(I.ConfirmByKeypad())
        _wait(lambda: session.snapshot.screen not in ("commitment", "submit"))
    finally:
        session.stop()
    app = [m for m in manifests(tmp_path / "s") if m["kind"] == "application"][0]
    assert app["commitment"]["method"] == "voice_keypad"


def test_audio_first_and_volume_last_one_visit(mini_catalog, tmp_path):
    settings = VoiceSettings(cache_dir=tmp_path / "voice", rate=170, elder_rate_factor=0.75,
                             volume=0.8, audio_device="null")
    backend = NullBackend()
    speaker = Speaker(settings, synthesizer=backend, player=backend)
    session, devices, sink = make_session(mini_catalog, tmp_path)
    try:
        voice_follows_visits(session, speaker)
        session.send(I.SetAudioFirst(True))
        _wait(lambda: session.snapshot.audio_first)
        speaker.set_volume(1.0)                 # volume up on the keypad
        pilot = drive(session, ByKeypad(ANSWERS), "NP-OLD-ALLOWANCE", timeout=20)
        assert pilot.outcome == "done"
        assert session.snapshot.audio_first     # still on while the end screen is up
        devices.id_card.present = False         # the card is taken: the visit is wiped
        _wait(lambda: session.snapshot.screen == "attract" and session.state is None)
        assert not session.snapshot.audio_first
        assert speaker.volume == 0.8
    finally:
        session.stop()
        speaker.close()


def test_audio_first_ends_when_nobody_starts_a_visit(mini_catalog, tmp_path):
    session, devices, sink = make_session(mini_catalog, tmp_path, idle_s=0.6)
    try:
        session.send(I.SetAudioFirst(True))
        _wait(lambda: session.snapshot.audio_first)
        for _ in range(4):                      # keys pressed while browsing keep it on
            session.keep_alive()
            _wait(lambda: True)
        _wait(lambda: not session.snapshot.audio_first, timeout=5)
        assert session.snapshot.screen == "attract"
    finally:
        session.stop()


def test_no_id_card_explains_what_to_do_tonight(mini_catalog, tmp_path):
    session, devices, sink = make_session(mini_catalog, tmp_path, card=None,
                                          nearest_24h_station="市民中心东门24小时自助服务区",
                                          explain_s=30)
    devices.id_card.card = None
    try:
        session.send(I.StartVisit("NP-OLD-ALLOWANCE"))
        session.send(I.Next())
        session.send(I.Agree(True))
        _wait(lambda: session.snapshot.screen == "id_card")
        session.send(I.NoIdCard())
        _wait(lambda: session.snapshot.screen == "refused")
        snap = session.snapshot
        params = dict(snap.params)
        assert snap.reason_key == "alternatives.no_id_card_nearest"
        assert params["place"] == "市民中心东门24小时自助服务区"
        matter = mini_catalog.get("NP-OLD-ALLOWANCE")
        assert params["phone"] == matter.phone and set(params) == {"place", "phone", "bring"}
        required = [mini_catalog.materials[m.code].name.zh
                    for m in plan_visit(mini_catalog, matter).materials if m.required]
        assert required and params["bring"] == "、".join(required)
        text = mini_catalog.prompts[snap.reason_key].get("zh").format(**params)
        assert "市民中心东门" in text and matter.phone in text and "临时身份证" in text
        assert session.visit.end_until - session._clock() > 20      # up long enough to hear twice
        assert not list((tmp_path / "s").glob("*/manifest.json"))
    finally:
        session.stop()


def test_declining_consent_explains_the_other_ways(mini_catalog, tmp_path):
    session, devices, sink = make_session(mini_catalog, tmp_path)
    try:
        pilot = drive(session, ScriptedApplicant({"consent": False}), "NP-OLD-ALLOWANCE", timeout=10)
        assert pilot.outcome == "refused"
        snap = session.snapshot
        assert snap.reason_key == "alternatives.no_consent"      # no 24-hour station set
        text = mini_catalog.prompts[snap.reason_key].get("en").format(**dict(snap.params))
        assert mini_catalog.get("NP-OLD-ALLOWANCE").phone in text and "{" not in text
    finally:
        session.stop()


def test_a_card_of_an_elder_still_reads_after_audio_first(mini_catalog, tmp_path):
    """Audio-first mode changes nothing else of the visit: the drawn signature still works."""
    session, devices, sink = make_session(mini_catalog, tmp_path,
                                          card=make_card(birth=dt.date(1940, 1, 1)))
    try:
        session.send(I.SetAudioFirst(True))
        pilot = drive(session, ScriptedApplicant(ANSWERS), "NP-OLD-ALLOWANCE", timeout=20)
        assert pilot.outcome == "done"
    finally:
        session.stop()
    app = [m for m in manifests(tmp_path / "s") if m["kind"] == "application"][0]
    assert app["commitment"]["method"] == "drawn_signature"
    assert app["commitment"]["signature_file"] == "commitment/signature.png"
