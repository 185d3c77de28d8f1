"""Packet intake against the real server: accepted, idempotent, conflicting, tampered, refused."""
from __future__ import annotations

import hashlib
import logging

import nacl.public
from sqlalchemy import select

from backoffice.db import Case, CaseFile, HelpRequest, Packet, Rejection
from backoffice_testkit import application, help_request
from protocol import packet as kp


def _rejections(server, terminal_id):
    with server.services.db.read() as session:
        return session.scalars(select(Rejection).where(Rejection.terminal_id == terminal_id)
                               .order_by(Rejection.id)).all()


def test_application_is_accepted_and_its_files_match_their_hashes(server, new_terminal):
    terminal = new_terminal()
    manifest, files = application(terminal)
    response = terminal.send_packet(terminal.seal(manifest, files))
    assert response.status_code == 201, response.text
    assert response.json() == {"packet_id": manifest["packet_id"],
                               "case_number": manifest["case_number"], "status": "received"}
    services = server.services
    with services.db.read() as session:
        case = session.scalar(select(Case).where(Case.case_number == manifest["case_number"]))
        stored = session.scalars(select(CaseFile).where(CaseFile.case_id == case.id)).all()
        packet = session.scalar(select(Packet).where(Packet.packet_id == manifest["packet_id"]))
    assert case.status == "received" and case.matter_code == "gaoling_jintie"
    assert case.applicant_masked == "王**"
    assert packet.kind == "application" and packet.terminal_id == terminal.terminal_id
    assert sorted(f.path for f in stored) == sorted(files)
    for f in stored:
        data = services.store.get(f.storage_key)
        assert data == files[f.path]
        assert hashlib.sha256(data).hexdigest() == f.sha256
    assert {f.path: f.media_type for f in stored}["materials/hukou/hukou.pdf"] == "application/pdf"


def test_personal_data_is_not_stored_or_logged_in_clear(server, new_terminal, caplog):
    terminal = new_terminal()
    manifest, files = application(terminal, id_number="51110219330909871X", name="欧阳清秋")
    with caplog.at_level(logging.DEBUG):
        assert terminal.send_packet(terminal.seal(manifest, files)).status_code == 201
    assert "51110219330909871X" not in caplog.text and "欧阳清秋" not in caplog.text
    data_dir = server.services.settings.data_dir
    for path in data_dir.rglob("*"):
        if path.is_file():
            blob = path.read_bytes()
            assert b"51110219330909871X" not in blob, path
            assert "欧阳清秋".encode() not in blob, path
            assert files["face/best.jpg"][:64] not in blob, path


def test_duplicate_packet_answers_200_with_the_same_body(new_terminal):
    terminal = new_terminal()
    blob = terminal.seal(*application(terminal))
    first = terminal.send_packet(blob)
    again = terminal.send_packet(blob)
    assert first.status_code == 201 and again.status_code == 200
    assert again.json() == first.json()


def test_same_packet_id_with_other_content_is_a_conflict(server, new_terminal):
    terminal = new_terminal()
    manifest, files = application(terminal)
    assert terminal.send_packet(terminal.seal(manifest, files)).status_code == 201
    resealed = terminal.seal(manifest, files)  # a new ephemeral key: other bytes, same packet_id
    response = terminal.send_packet(resealed)
    assert response.status_code == 409
    assert response.json()["error"] == "backoffice.packet.conflict"
    assert _rejections(server, terminal.terminal_id)[-1].reason_key == "backoffice.packet.conflict"


def test_tampered_byte_is_refused_with_422_and_logged(server, new_terminal):
    terminal = new_terminal()
    manifest, files = application(terminal)
    blob = bytearray(terminal.seal(manifest, files))
    blob[-40] ^= 0x01
    response = terminal.send_packet(bytes(blob), manifest["packet_id"])
    assert response.status_code == 422
    assert response.json()["error"].startswith("backoffice.packet.")
    rejection = _rejections(server, terminal.terminal_id)[-1]
    assert rejection.status_code == 422 and rejection.packet_id == manifest["packet_id"]
    with server.services.db.read() as session:
        assert session.scalar(select(Packet).where(Packet.packet_id == manifest["packet_id"])) is None


def test_packet_for_another_recipient_key_is_undecryptable(new_terminal):
    terminal = new_terminal()
    manifest, files = application(terminal)
    terminal.recipient = nacl.public.PrivateKey.generate().public_key
    response = terminal.send_packet(terminal.seal(manifest, files))
    assert response.status_code == 422
    assert response.json()["error"] == "backoffice.packet.undecryptable"


def test_packet_of_another_terminal_is_refused(new_terminal):
    sender, other = new_terminal(), new_terminal()
    response = sender.send_packet(other.seal(*application(other)))
    assert response.status_code == 422
    assert response.json()["error"] == "backoffice.packet.wrong_terminal"
    # naming the sender but signed with the other terminal's key: the signature fails
    manifest, files = application(sender)
    forged = kp.seal_packet(manifest, files, other.signing_key, sender.recipient)
    response = sender.send_packet(forged)
    assert response.status_code == 422
    assert response.json()["error"] == "backoffice.packet.bad_signature"


def test_unenrolled_and_revoked_terminals_are_forbidden(server, new_terminal):
    stranger = new_terminal(enrol=False)
    stranger.recipient = server.services.private_key.public_key
    response = stranger.send_packet(stranger.seal(*application(stranger)))
    assert response.status_code == 403
    assert response.json()["error"] == "backoffice.terminal.unknown"
    terminal = new_terminal()
    blob = terminal.seal(*application(terminal))
    assert server.services.fleet.revoke(terminal.terminal_id)
    response = terminal.send_packet(blob)
    assert response.status_code == 403
    assert response.json()["error"] == "backoffice.terminal.revoked"
    assert terminal.heartbeat().status_code == 403


def test_idempotency_key_must_name_the_packet(new_terminal):
    terminal = new_terminal()
    blob = terminal.seal(*application(terminal))
    response = terminal.send_packet(blob, packet_id="01900000-0000-7000-8000-000000000000")
    assert response.status_code == 422
    assert response.json()["error"] == "backoffice.packet.idempotency_mismatch"


def test_garbage_body_is_malformed(new_terminal):
    terminal = new_terminal()
    response = terminal.signed("POST", "/api/v1/packets", b"\x00not a packet",
                               {"Content-Type": "application/octet-stream"})
    assert response.status_code == 422
    assert response.json()["error"] == "backoffice.packet.malformed"


def test_help_request_reaches_the_help_list(server, new_terminal):
    terminal = new_terminal()
    manifest, files = help_request(terminal, step="identity")
    response = terminal.send_packet(terminal.seal(manifest, files))
    assert response.status_code == 201
    assert response.json()["status"] == "help_requested"
    with server.services.db.read() as session:
        row = session.scalar(select(HelpRequest).where(HelpRequest.packet_id == manifest["packet_id"]))
    assert (row.terminal_id, row.step, row.reason) == (terminal.terminal_id, "identity",
                                                       "camera_cannot_read_page")


def test_arbitrary_bytes_never_crash_intake(server, new_terminal):
    """Fuzz: whatever the body, intake answers with an ApiError (4xx), never an exception."""
    from hypothesis import HealthCheck, given, settings, strategies as st

    from backoffice.db import Terminal
    from backoffice.terminal_auth import ApiError
    terminal = new_terminal()
    valid = terminal.seal(*application(terminal, light=True))
    with server.services.db.read() as session:
        row = session.get(Terminal, terminal.terminal_id)

    @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.one_of(st.binary(max_size=600),
                     st.tuples(st.integers(0, len(valid) - 1), st.integers(1, 255)).map(
                         lambda t: valid[:t[0]] + bytes([valid[t[0]] ^ t[1]]) + valid[t[0] + 1:]),
                     st.integers(0, len(valid) - 1).map(lambda n: valid[:n])))
    def check(body):
        try:
            result = server.services.intake.receive(row, None, body)
        except ApiError as error:
            assert 400 <= error.status < 500 and error.reason_key.startswith("backoffice.")
        else:
            assert result.status_code in (200, 201)

    check()
