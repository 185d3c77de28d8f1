"""A commitment confirmed by voice and keypad (audio-first mode) instead of a drawn signature:
the back office accepts the packet without a signature image, refuses one that claims both,
and the case page says plainly how the applicant committed."""
from __future__ import annotations

from backoffice_testkit import console_client
from kiosk_packets import terminal_application
from test_console_words import Page


def keypad_application(terminal) -> tuple[dict, dict]:
    manifest, files = terminal_application(terminal)
    files.pop("commitment/signature.png")
    manifest["files"] = [f for f in manifest["files"] if f["name"] != "commitment/signature.png"]
    manifest["commitment"].update(method="voice_keypad", signature_file=None)
    return manifest, files


def test_keypad_confirmation_is_accepted_and_shown(server, new_terminal):
    server.services.reviewers.add("reviewer-keypad", "correct horse battery")
    console = console_client(server.base_url, "reviewer-keypad", "correct horse battery")
    try:
        terminal = new_terminal()
        manifest, files = keypad_application(terminal)
        assert terminal.send_packet(terminal.seal(manifest, files)).status_code == 201
        page = Page(console.get(f"/console/cases/{manifest['case_number']}").text).visible
        assert "语音朗读后按键确认，未手写签名" in page
        assert "confirmed on the keypad" in page and "签名 signature" not in page

        drawn, files = terminal_application(terminal)
        drawn["commitment"]["method"] = "drawn_signature"
        assert terminal.send_packet(terminal.seal(drawn, files)).status_code == 201
        page = Page(console.get(f"/console/cases/{drawn['case_number']}").text).visible
        assert "手写签名" in page and "按键确认" not in page
    finally:
        console.close()


def test_a_keypad_confirmation_with_a_signature_or_an_unknown_method_is_refused(new_terminal):
    terminal = new_terminal()
    both, files = terminal_application(terminal)
    both["commitment"]["method"] = "voice_keypad"        # and still its signature_file
    answer = terminal.send_packet(terminal.seal(both, files))
    assert answer.status_code == 422 and answer.json()["error"] == "backoffice.packet.malformed"
    odd, files = terminal_application(terminal)
    odd["commitment"]["method"] = "telepathy"
    answer = terminal.send_packet(terminal.seal(odd, files))
    assert answer.status_code == 422 and answer.json()["error"] == "backoffice.packet.malformed"
