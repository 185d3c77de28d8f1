"""The durable outbox: accept, case numbers, states, recovery, retention, low disk."""
from __future__ import annotations

import datetime as dt
import re
import sqlite3
import subprocess
import time

import pytest

from kiosk.link.outbox import (MissingCaseNumber, NotEnrolled, Outbox, OutboxFull, UnknownPacket,
                          backoff_delay)
from outbox_testkit import ID_NUMBER, NAME, application
from protocol import packet as kp


def open_sealed(box, keys, packet_id):
    return kp.open_packet(box.sealed_path(packet_id).read_bytes(), keys.private,
                          keys.signing.verify_key)


def test_accept_fills_ids_seals_and_queues(open_outbox, keys):
    box = open_outbox()
    manifest, files = application()
    before = dt.datetime.now().astimezone()
    accepted = box.accept(manifest, files)
    today = dt.date.today().strftime("%Y%m%d")
    assert re.fullmatch(rf"T-001-{today}-[0-9A-HJKMNP-TV-Z]{{4}}-0001", accepted.case_number)
    assert accepted.accepted_at >= before.replace(microsecond=0)
    assert box.status()["pending"] == 1 and box.depth() == 1
    opened = open_sealed(box, keys, accepted.packet_id)
    assert opened.files == files
    m = opened.manifest
    assert (m["packet_id"], m["case_number"], m["terminal_id"], m["site_id"]) == (
        accepted.packet_id, accepted.case_number, "T-001", "site-1")
    assert dt.datetime.fromisoformat(m["created_at"]).utcoffset() is not None
    assert m["applicant"] == manifest["applicant"]
    assert "packet_id" not in manifest          # the caller's dict is not modified
    second = box.accept(*application())
    assert second.case_number == accepted.case_number[:-4] + "0002"
    assert second.packet_id > accepted.packet_id


def test_supplement_keeps_its_case_number_and_must_have_one(open_outbox, keys):
    box = open_outbox()
    first = box.accept(*application())
    manifest = {"kind": "supplement", "case_number": first.case_number, "materials": []}
    accepted = box.accept(manifest, {})
    assert accepted.case_number == first.case_number
    assert open_sealed(box, keys, accepted.packet_id).manifest["case_number"] == first.case_number
    with pytest.raises(MissingCaseNumber) as info:
        box.accept({"kind": "evaluation", "evaluation": {"level": 5}}, {})
    assert info.value.reason_key == "outbox.case_number_missing"
    help_ = box.accept({"kind": "help_request", "case_number": None,
                        "help": {"reason": "stuck", "step": "materials"}}, {})
    assert help_.case_number == ""
    assert box.accept(*application()).case_number.endswith("-0002")


def test_bad_packet_stores_nothing_and_issues_no_number(open_outbox):
    box = open_outbox()
    manifest, files = application()
    files["../escape.jpg"] = b"x"
    with pytest.raises(kp.MalformedPacket):
        box.accept(manifest, files)
    assert box.status()["pending"] == 0
    assert list(box.files_dir.iterdir()) == []
    assert box.accept(*application()).case_number.endswith("-0001")


def test_nothing_personal_is_written_to_disk(open_outbox, tmp_path):
    box = open_outbox()
    for _ in range(3):
        box.accept(*application())
    box.close()
    for path in (tmp_path / "state").rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            for secret in (ID_NUMBER.encode(), NAME.encode(), "景山前街".encode(), b"13800138000"):
                assert secret not in data, path


def test_case_numbers_never_repeat_across_restarts(open_outbox):
    numbers = []
    for _ in range(3):
        box = open_outbox()
        numbers += [box.accept(*application(200)).case_number for _ in range(4)]
        box.close()
    assert len(set(numbers)) == 12
    assert [int(n[-4:]) for n in numbers] == list(range(1, 13))
    assert len({n[:-4] for n in numbers}) == 1           # one installation while outbox.db lives


def test_in_flight_packets_are_pending_again_after_a_restart(open_outbox):
    box = open_outbox()
    accepted = box.accept(*application())
    item = box.next_due()
    assert item.packet_id == accepted.packet_id and item.attempts == 0
    box.mark_in_flight(item.packet_id)
    assert box.next_due() is None and box.status()["in_flight"] == 1
    box.close()
    box = open_outbox()
    assert box.status()["in_flight"] == 0
    again = box.next_due()
    assert again.packet_id == accepted.packet_id and again.attempts == 1
    assert again.read() == item.read()


def test_orphan_and_temp_files_are_removed_at_start(open_outbox):
    box = open_outbox()
    kept = box.accept(*application())
    box.close()
    (box.files_dir / "0190aaaa-0000-7000-8000-000000000000.kpkt").write_bytes(b"orphan")
    (box.files_dir / ".0190aaaa-0000-7000-8000-000000000001.tmp").write_bytes(b"half")
    box = open_outbox()
    assert sorted(p.name for p in box.files_dir.iterdir()) == [kept.packet_id + ".kpkt"]


def test_missing_sealed_file_makes_the_packet_dead_not_a_crash(open_outbox):
    box = open_outbox()
    accepted = box.accept(*application())
    box.close()
    (box.files_dir / f"{accepted.packet_id}.kpkt").unlink()
    box = open_outbox()
    row = box.get(accepted.packet_id)
    assert row["state"] == "dead" and row["last_error"] == "sealed file missing"


def test_acknowledged_file_is_deleted_at_once_and_row_after_retention(open_outbox):
    box = open_outbox(retention_days=1)
    accepted = box.accept(*application())
    box.mark_in_flight(accepted.packet_id)
    now = time.time()
    box.mark_acknowledged(accepted.packet_id, accepted.case_number, now=now)
    assert list(box.files_dir.iterdir()) == []
    assert box.status()["acknowledged"] == 1 and box.depth() == 0
    assert box.get(accepted.packet_id)["server_case_number"] == accepted.case_number
    assert box.purge(now + 86400 - 10) == 0
    assert box.purge(now + 86400 + 10) == 1
    assert box.get(accepted.packet_id) is None
    with pytest.raises(UnknownPacket):
        box.mark_acknowledged(accepted.packet_id, None)


def test_transient_failures_back_off_permanent_ones_are_dead_until_retried(open_outbox):
    box = open_outbox()
    a = box.accept(*application())
    b = box.accept(*application())
    now = time.time()
    box.mark_in_flight(a.packet_id)
    box.mark_failed(a.packet_id, "http 503", permanent=False, now=now)
    row = box.get(a.packet_id)
    assert row["state"] == "pending" and row["last_error"] == "http 503"
    assert now + 2.5 <= row["next_attempt_at"] <= now + 5.0
    assert box.next_due(now).packet_id == b.packet_id       # a waits, b is due
    box.mark_in_flight(b.packet_id)
    box.mark_failed(b.packet_id, "http 422 backoffice.packet.malformed", permanent=True, now=now)
    assert box.get(b.packet_id)["state"] == "dead"
    assert box.next_due(now) is None
    assert box.next_due(now + 6).packet_id == a.packet_id
    for attempt in range(2, 6):                                 # the delay doubles
        box.mark_in_flight(a.packet_id)
        box.mark_failed(a.packet_id, "ConnectError", permanent=False, now=now)
        delay = box.get(a.packet_id)["next_attempt_at"] - now
        assert 5 * 2 ** (attempt - 1) / 2 <= delay <= 5 * 2 ** (attempt - 1)
    assert 0 < box.seconds_until_due(now) <= 80
    status = box.status(now)
    assert (status["pending"], status["dead"], status["in_flight"]) == (1, 1, 0)
    assert box.retry() == 1                                     # all dead
    assert box.get(b.packet_id)["state"] == "pending" and box.get(b.packet_id)["attempts"] == 0
    assert box.retry(a.packet_id) == 1 and box.next_due() is not None
    assert box.retry("no-such-packet") == 0


def test_backoff_is_capped_and_jittered():
    import random
    rng = random.Random(7)
    delays = [backoff_delay(30, rng) for _ in range(200)]
    assert all(450 <= d <= 900 for d in delays) and len(set(delays)) > 150


def test_status_and_list_show_no_personal_data(open_outbox):
    box = open_outbox()
    for _ in range(3):
        box.accept(*application())
    status = box.status()
    assert set(status) == {"pending", "in_flight", "acknowledged", "dead", "oldest_pending_age_s"}
    assert status["pending"] == 3 and status["oldest_pending_age_s"] >= 0
    rows = box.list(2)
    assert len(rows) == 2 and rows[0]["accepted_at"] >= rows[1]["accepted_at"]
    assert NAME not in repr(rows) and ID_NUMBER not in repr(rows)


def test_low_disk_refuses_cleanly_and_the_queue_stays_intact(open_outbox, tmp_path):
    box = open_outbox()
    kept = box.accept(*application())
    box.close()
    full = open_outbox(min_free_bytes=10**18)
    assert not full.has_room()
    with pytest.raises(OutboxFull) as info:
        full.accept(*application())
    assert info.value.reason_key == "outbox.disk_full"
    full.close()
    check = sqlite3.connect(tmp_path / "state" / "outbox.db")
    assert check.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    check.close()
    box = open_outbox()
    assert box.status()["pending"] == 1 and box.next_due().packet_id == kept.packet_id


@pytest.fixture
def tiny_filesystem(tmp_path):
    mount = tmp_path / "tiny"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)],
                          capture_output=True)
    if done.returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_filling_a_tiny_filesystem_raises_outbox_full_and_loses_nothing(open_outbox, keys,
                                                                         tiny_filesystem):
    box = open_outbox(state_dir=tiny_filesystem / "state", min_free_bytes=0)
    accepted = []
    with pytest.raises(OutboxFull):
        for _ in range(100):
            accepted.append(box.accept(*application(60_000)))
    assert 3 <= len(accepted) < 20
    box.close()
    box = open_outbox(state_dir=tiny_filesystem / "state", min_free_bytes=0)
    assert box.status()["pending"] == len(accepted)
    assert sorted(p.name for p in box.files_dir.iterdir()) == sorted(
        a.packet_id + ".kpkt" for a in accepted)
    for a in accepted:
        assert open_sealed(box, keys, a.packet_id).manifest["case_number"] == a.case_number
    numbers = [a.case_number for a in accepted]
    assert [int(n[-4:]) for n in numbers] == list(range(1, len(accepted) + 1))
    assert re.fullmatch(r"T-001-\d{8}-[0-9A-HJKMNP-TV-Z]{4}-\d{4}", numbers[0])
    # with the default reserve the outbox says it has no room before trying
    reserved = open_outbox(state_dir=tiny_filesystem / "state", min_free_bytes=200 * 2**20)
    assert not reserved.has_room()


def test_an_outbox_without_keys_refuses_to_accept(tmp_path):
    with Outbox(tmp_path / "state", "T-001", "site-1", None, None, min_free_bytes=0) as box:
        with pytest.raises(NotEnrolled) as info:
            box.accept(*application())
        assert info.value.reason_key == "outbox.not_enrolled"
        assert box.status()["pending"] == 0
