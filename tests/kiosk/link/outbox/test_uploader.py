"""The uploader against a real HTTP receiver: delivery, refusals, backoff, outages, heartbeats,
enrolment, and kill -9 in the middle of uploads."""
from __future__ import annotations

import json
import logging
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from kiosk.cli.uploader import main
from kiosk.link.enrolment import EnrolmentFailed, enrol
from kiosk.link.health import read_health, write_health
from kiosk.link.uploader import Uploader
from outbox_testkit import ID_NUMBER, application
from protocol import packet as kp
from protocol.keys import generate_backoffice_keypair, load_signing_key, public_key_from_text
from protocol.signing import sign_request
from receiver import Receiver, free_port

REPO = Path(__file__).resolve().parents[4]


@pytest.fixture
def fast_outbox(open_outbox):
    return lambda **kw: open_outbox(backoff_base_s=0.1, backoff_cap_s=0.4, **kw)


def make_uploader(box, keys, url, **kw) -> Uploader:
    kw.setdefault("idle_poll_s", 0.05)
    return Uploader(box, url, "T-001", keys.signing, heartbeat_s=kw.pop("heartbeat_s", 30),
                    http=httpx.Client(timeout=5), **kw)


def drained(uploader) -> bool:
    """One more round; True when nothing is left waiting."""
    uploader.drain_once()
    return uploader.outbox.depth() == 0


def wait_for(condition, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def test_drain_delivers_acknowledges_and_deletes(fast_outbox, keys):
    box = fast_outbox()
    accepted = [box.accept(*application()) for _ in range(3)]
    with Receiver(keys.private, {"T-001": keys.signing.verify_key}) as receiver:
        uploader = make_uploader(box, keys, receiver.url)
        result = uploader.drain_once()
    assert (result.sent, result.dead, result.deferred) == (3, 0, 0)
    assert set(receiver.packets) == {a.packet_id for a in accepted}
    got = receiver.packets[accepted[0].packet_id]
    assert got["manifest"]["applicant"]["id_number"] == ID_NUMBER
    assert got["manifest"]["case_number"] == accepted[0].case_number
    assert box.status()["acknowledged"] == 3 and box.depth() == 0
    assert list(box.files_dir.iterdir()) == []
    assert box.get(accepted[0].packet_id)["server_case_number"] == accepted[0].case_number


def test_duplicate_is_acknowledged_refusals_are_dead(fast_outbox, keys, tmp_path):
    box = fast_outbox()
    a = box.accept(*application())
    with Receiver(keys.private, {"T-001": keys.signing.verify_key}) as receiver:
        # the receiver already has a (an upload whose answer was lost)
        blob = box.sealed_path(a.packet_id).read_bytes()
        headers = {**sign_request(keys.signing, "T-001", "POST", "/api/v1/packets", blob),
                   "Idempotency-Key": a.packet_id}
        assert receiver.handle("/api/v1/packets", headers, blob)[0] == 201
        uploader = make_uploader(box, keys, receiver.url)
        assert uploader.drain_once().duplicates == 1
        assert box.get(a.packet_id)["state"] == "acknowledged"
        # a packet sealed for another back-office key: 422 -> dead, logged, kept for retry
        c = box.accept(*application())
        wrong = kp.seal_packet({"packet_id": c.packet_id, "terminal_id": "T-001",
                                "kind": "application"}, {}, keys.signing,
                               generate_backoffice_keypair(tmp_path / "k2").public_key)
        box.sealed_path(c.packet_id).write_bytes(wrong)
        result = uploader.drain_once()
    row = box.get(c.packet_id)
    assert result.dead == 1 and row["state"] == "dead"
    assert row["last_error"] == "http 422 backoffice.packet.undecryptable"
    assert box.sealed_path(c.packet_id).exists()


def test_server_errors_back_off_and_the_queue_drains_by_itself(fast_outbox, keys):
    box = fast_outbox()
    accepted = [box.accept(*application()) for _ in range(4)]
    with Receiver(keys.private, {"T-001": keys.signing.verify_key}) as receiver:
        receiver.fail_next = 3
        uploader = make_uploader(box, keys, receiver.url)
        first = uploader.drain_once()
        assert (first.sent, first.deferred, first.errors) == (0, 1, ["http 503 backoffice.unavailable"])
        stop = threading.Event()
        thread = threading.Thread(target=uploader.run, args=(stop,))
        thread.start()
        try:
            assert wait_for(lambda: box.depth() == 0)
        finally:
            stop.set()
            thread.join(5)
    assert not thread.is_alive()
    assert set(receiver.packets) == {a.packet_id for a in accepted}
    assert receiver.statuses.count(503) == 3


@pytest.mark.parametrize("status,outcome", [
    (400, "dead"), (404, "dead"), (409, "dead"), (422, "dead"),
    (401, "queue waits"), (429, "queue waits"), (502, "queue waits"), (503, "queue waits"),
    (500, "packet waits"), (507, "packet waits")])
def test_a_4xx_is_final_a_5xx_is_tried_again(fast_outbox, keys, caplog, status, outcome):
    box = fast_outbox()
    first, second = box.accept(*application()), box.accept(*application())
    with Receiver(keys.private, {"T-001": keys.signing.verify_key}) as receiver:
        receiver.scripted[first.packet_id] = [(status, {"error": "backoffice.some_reason"})]
        uploader = make_uploader(box, keys, receiver.url)
        with caplog.at_level(logging.INFO):
            result = uploader.drain_once()
        row = box.get(first.packet_id)
        assert row["last_error"] == f"http {status} backoffice.some_reason"
        if outcome == "dead":
            assert row["state"] == "dead" and result.dead == 1
            assert set(receiver.packets) == {second.packet_id}          # the next one went on
        elif outcome == "queue waits":
            assert row["state"] == "pending" and receiver.posts == 1    # nothing else tried
            assert box.next_due() is None and box.queue_hold()["failures"] == 1
        else:
            assert row["state"] == "pending" and row["next_attempt_at"] > time.time()
            assert set(receiver.packets) == {second.packet_id}          # not held up by it
            assert "back office server error" in caplog.text
        assert wait_for(lambda: drained(uploader), timeout=10)
    if outcome != "dead":
        assert set(receiver.packets) == {first.packet_id, second.packet_id}


def test_server_errors_twice_in_a_row_make_the_queue_wait(fast_outbox, keys):
    box = fast_outbox()
    accepted = [box.accept(*application()) for _ in range(3)]
    with Receiver(keys.private, {"T-001": keys.signing.verify_key}) as receiver:
        for a in accepted:
            receiver.scripted[a.packet_id] = [(500, {"error": "backoffice.internal_error"})]
        uploader = make_uploader(box, keys, receiver.url)
        result = uploader.drain_once()
        assert (result.sent, result.deferred, receiver.posts) == (0, 2, 2)
        assert box.queue_hold()["failures"] == 1 and box.next_due() is None
        assert wait_for(lambda: drained(uploader), timeout=10)
    assert list(receiver.packets) == [a.packet_id for a in accepted]      # in order


def test_back_office_down_for_a_while_then_up(fast_outbox, keys):
    box = fast_outbox()
    port = free_port()
    receiver = Receiver(keys.private, {"T-001": keys.signing.verify_key}, port=port)
    uploader = make_uploader(box, keys, receiver.url, heartbeat_s=0.3)
    stop = threading.Event()
    thread = threading.Thread(target=uploader.run, args=(stop,))
    thread.start()
    try:
        accepted = [box.accept(*application()) for _ in range(5)]
        time.sleep(1.0)                                   # nobody listening: connection refused
        row = box.get(accepted[0].packet_id)
        assert row["state"] == "pending" and row["attempts"] >= 2
        assert row["last_error"] == "ConnectError"
        receiver.start()
        assert wait_for(lambda: box.depth() == 0)
        assert wait_for(lambda: len(receiver.heartbeats) >= 1)
    finally:
        stop.set()
        thread.join(5)
        receiver.stop()
    assert set(receiver.packets) == {a.packet_id for a in accepted}
    assert all(s == 201 for s in receiver.statuses)


def test_heartbeat_reports_health_outbox_and_disk(fast_outbox, keys, tmp_path):
    box = fast_outbox()
    box.accept(*application())
    with Receiver(keys.private, {"T-001": keys.signing.verify_key}) as receiver:
        uploader = make_uploader(box, keys, receiver.url)
        assert uploader.send_heartbeat()
        beat = receiver.heartbeats[-1]
        assert beat["paper"] == "unknown" and beat["devices"] == {}
        assert beat["outbox"] == {"pending": 1, "in_flight": 0, "dead": 0,
                                  "oldest_pending_age_s": beat["outbox"]["oldest_pending_age_s"]}
        assert beat["terminal_id"] == "T-001" and beat["disk_free_bytes"] > 0
        health = {"devices": {"printer": {"available": False, "fault": "printer.paper_out"},
                              "id_card": {"available": True, "fault": None}},
                  "paper": "out", "versions": {"app": "0.1.0", "catalog": "2025.06"}}
        write_health(box.state_dir, health["devices"], "out", health["versions"])
        assert sorted(p.name for p in box.state_dir.iterdir() if "health" in p.name) == [
            "health.json"]
        with pytest.raises(ValueError):
            write_health(box.state_dir, {}, "jammed")
        assert uploader.send_heartbeat()
        beat = receiver.heartbeats[-1]
        assert beat["devices"] == health["devices"] and beat["paper"] == "out"
        assert beat["versions"] == {"app": "0.1.0", "catalog": "2025.06"}
    assert not uploader.send_heartbeat()                  # receiver gone: False, no exception


def test_unreadable_health_file_is_unknown(tmp_path):
    (tmp_path / "health.json").write_text("{half")
    assert read_health(tmp_path) == {"devices": {}, "paper": "unknown", "versions": {}}
    (tmp_path / "health.json").write_text(json.dumps({"paper": "jammed", "devices": [1]}))
    assert read_health(tmp_path)["paper"] == "unknown"


def test_enrol_stores_the_back_office_key_and_refusals_are_clear(keys, tmp_path):
    with Receiver(keys.private, {}) as receiver:
        key_dir = tmp_path / "terminal-keys"
        public = enrol(receiver.url, "one-time-token", "T-002", key_dir)
        assert public == keys.private.public_key
        assert public_key_from_text((key_dir / "backoffice.pub").read_text()) == public
        signing = load_signing_key(key_dir / "terminal.key")
        assert receiver.terminals["T-002"] == signing.verify_key
        with pytest.raises(EnrolmentFailed) as info:                 # the token was used up
            enrol(receiver.url, "one-time-token", "T-002", key_dir)
        assert info.value.reason_key == "uploader.enrol_refused"
        assert load_signing_key(key_dir / "terminal.key") == signing   # key kept
    with pytest.raises(EnrolmentFailed) as info:
        enrol(f"http://127.0.0.1:{free_port()}", "t", "T-002", key_dir)
    assert info.value.reason_key == "uploader.backoffice_unreachable"


def test_command_line_once_drains_and_reports(fast_outbox, keys, tmp_path):
    box = fast_outbox()
    accepted = [box.accept(*application()) for _ in range(2)]
    runner = CliRunner()
    assert "--backoffice-url" in runner.invoke(main, ["--help"]).output
    args = ["--state-dir", str(box.state_dir), "--terminal-id", "T-001",
            "--key", str(keys.key_dir / "terminal.key"), "--once"]
    down = runner.invoke(main, args + ["--backoffice-url", f"http://127.0.0.1:{free_port()}"])
    assert down.exit_code == 3 and json.loads(down.output)["deferred"] == 1
    with Receiver(keys.private, {"T-001": keys.signing.verify_key}) as receiver:
        box.retry(accepted[0].packet_id)                         # due again now
        up = runner.invoke(main, args, env={"KIOSK_BACKOFFICE_URL": receiver.url})
    assert up.exit_code == 0, up.output
    assert json.loads(up.output)["sent"] == 2
    assert set(receiver.packets) == {a.packet_id for a in accepted}
    assert len(receiver.heartbeats) == 1


def test_command_line_once_fails_while_a_packet_is_dead(fast_outbox, keys, tmp_path):
    box = fast_outbox()
    good, refused = box.accept(*application()), box.accept(*application())
    wrong = kp.seal_packet({"packet_id": refused.packet_id, "terminal_id": "T-001",
                            "kind": "application"}, {}, keys.signing,
                           generate_backoffice_keypair(tmp_path / "k2").public_key)
    box.sealed_path(refused.packet_id).write_bytes(wrong)         # answered 422: dead
    args = ["--state-dir", str(box.state_dir), "--terminal-id", "T-001",
            "--key", str(keys.key_dir / "terminal.key"), "--once"]
    with Receiver(keys.private, {"T-001": keys.signing.verify_key}) as receiver:
        first = CliRunner().invoke(main, args + ["--backoffice-url", receiver.url])
        summary = json.loads(first.output)
        assert (summary["sent"], summary["dead"], summary["outbox"]["dead"]) == (1, 1, 1)
        assert first.exit_code == 4
        again = CliRunner().invoke(main, args + ["--backoffice-url", receiver.url])
        assert json.loads(again.output)["dead"] == 0 and again.exit_code == 4   # still dead
    assert set(receiver.packets) == {good.packet_id}


def test_kill_9_uploader_mid_upload_delivers_each_packet_exactly_once(fast_outbox, keys):
    box = fast_outbox()
    accepted = [box.accept(*application(1000)) for _ in range(25)]
    box.close()
    rng = random.Random(11)
    with Receiver(keys.private, {"T-001": keys.signing.verify_key}) as receiver:
        receiver.delay_s = 0.03            # before storing and again before answering
        command = [sys.executable, "-m", "kiosk.cli.uploader", "--state-dir", str(box.state_dir),
                   "--backoffice-url", receiver.url, "--terminal-id", "T-001",
                   "--key", str(keys.key_dir / "terminal.key"), "--heartbeat-s", "60"]
        kills = 0
        for _ in range(12):
            proc = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL)
            time.sleep(rng.uniform(0.3, 0.7))
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)
                kills += 1
            proc.wait(10)
        final = subprocess.run(command[:-2] + ["--once"], cwd=REPO, capture_output=True,
                               timeout=60)
    assert final.returncode == 0, final.stderr.decode()[-2000:]
    assert kills >= 8
    assert set(receiver.packets) == {a.packet_id for a in accepted}
    assert 409 not in receiver.statuses and 422 not in receiver.statuses
    assert receiver.statuses.count(201) == len(accepted)    # stored once each; repeats are 200
    assert receiver.posts >= len(accepted)
