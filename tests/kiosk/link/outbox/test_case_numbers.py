"""Case numbers stay unique when a terminal's state directory is lost and rebuilt with the same
keys (the day's sequence lived only in outbox.db, so the rebuilt terminal issued numbers the
back office already had: 409, a dead packet and a citizen holding someone else's case number),
and every parser of case numbers reads the new form."""
from __future__ import annotations

import contextlib
import re
import sqlite3
import shutil
import sys
from pathlib import Path

import httpx
import pytest

from kiosk.link.outbox import Outbox
from kiosk.visit.cases import CaseReference, parse_case_reference, parse_receipt_code
from kiosk.link.enrolment import enrol, load_backoffice_public_key
from kiosk.link.uploader import Uploader
from outbox_testkit import application
from protocol import packet as kp

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "backoffice"))
from backoffice.settings import Settings  # noqa: E402
from backoffice_testkit import ServerThread  # noqa: E402


@pytest.fixture
def backoffice(tmp_path):
    with ServerThread(Settings.for_data_dir(tmp_path / "backoffice")) as server:
        yield server


def test_a_rebuilt_state_dir_issues_case_numbers_the_back_office_accepts(tmp_path, keys,
                                                                        backoffice):
    token = backoffice.services.fleet.create_token("T-001", "site-1")
    enrol(backoffice.base_url, token, "T-001", keys.key_dir)        # the key kept on /etc
    recipient = load_backoffice_public_key(keys.key_dir)
    state = tmp_path / "state"
    numbers = []
    for _ in range(2):             # the state directory, then the same one lost and rebuilt
        shutil.rmtree(state, ignore_errors=True)
        with Outbox(state, "T-001", "site-1", keys.signing, recipient, min_free_bytes=0) as box:
            accepted = box.accept(*application())
            uploader = Uploader(box, backoffice.base_url, "T-001", keys.signing,
                                http=httpx.Client(timeout=10))
            result = uploader.drain_once()
            uploader.close()
            assert (result.sent, result.dead) == (1, 0), result.errors
            assert box.get(accepted.packet_id)["server_case_number"] == accepted.case_number
        numbers.append((accepted.case_number, accepted.progress_token))
    assert numbers[0][0] != numbers[1][0]
    for number, token in numbers:        # the receipt's QR code: case number and token
        url = kp.progress_url(backoffice.base_url, number, token)
        assert parse_receipt_code(url) == CaseReference(number, token)
        progress = httpx.get(f"{backoffice.base_url}/api/v1/cases/{number}/progress",
                             headers={"X-Progress-Token": token})
        assert progress.status_code == 200 and progress.json()["case_number"] == number
        assert httpx.get(url).status_code == 200
        assert httpx.get(f"{backoffice.base_url}/progress/{number}").status_code == 404


def test_the_case_number_is_short_and_keeps_its_installation(open_outbox, tmp_path):
    box = open_outbox()
    first, second = box.accept(*application()), box.accept(*application())
    found = kp.CASE_NUMBER.match(first.case_number)
    assert found and found["terminal"] == "T-001" and found["seq"] == "0001"
    assert re.fullmatch(r"T-001-\d{8}-[0-9A-HJKMNP-TV-Z]{4}-0001", first.case_number)
    assert second.case_number == first.case_number[:-4] + "0002"
    assert len(first.case_number) == len("T-001-") + 18       # date, installation, sequence
    box.close()
    reopened = open_outbox()                                   # same state dir: same installation
    assert reopened.accept(*application()).case_number == first.case_number[:-4] + "0003"


@pytest.mark.parametrize("text,expected", [
    ("LS-SZ-007-20250314-000123", "LS-SZ-007-20250314-000123"),          # issued before
    ("LS-SZ-007-20250314-7KQ3-0123", "LS-SZ-007-20250314-7KQ3-0123"),
    ("http://bo.example/progress/T-1-20260101-ZZ00-0042", "T-1-20260101-ZZ00-0042"),
    ("T-1-20260101-7KQ3-12", None), ("T-1-20260101-7KO3-0012", None),    # O is not used
    ("T-1-20260101-0123", None)])
def test_every_parser_reads_both_forms(text, expected):
    assert parse_case_reference(text) == expected
    if expected:
        assert kp.CASE_NUMBER.match(expected)


def test_a_409_case_exists_draws_a_new_installation_for_the_next_numbers(tmp_path, keys,
                                                                          backoffice):
    """A database restored from an old backup repeats numbers of its own installation: the
    first repeat is refused (409, dead, the operator sees it), the next number is new."""
    enrol(backoffice.base_url, backoffice.services.fleet.create_token("T-001", "site-1"),
          "T-001", keys.key_dir)
    recipient = load_backoffice_public_key(keys.key_dir)

    def deliver(box):
        uploader = Uploader(box, backoffice.base_url, "T-001", keys.signing,
                            http=httpx.Client(timeout=10))
        try:
            return uploader.drain_once()
        finally:
            uploader.close()

    with Outbox(tmp_path / "a", "T-001", "s", keys.signing, recipient, min_free_bytes=0) as box:
        first = box.accept(*application())
        assert deliver(box).sent == 1
        restored = tmp_path / "b"
        restored.mkdir()
        with sqlite3.connect(restored / "outbox.db") as copy, \
                contextlib.closing(sqlite3.connect(box.state_dir / "outbox.db")) as live:
            live.backup(copy)                             # the backup, taken before `first`
            copy.execute("UPDATE case_sequences SET last_seq = last_seq - 1")
            copy.execute("DELETE FROM packets")
    with Outbox(restored, "T-001", "s", keys.signing, recipient, min_free_bytes=0) as box:
        repeated = box.accept(*application())
        assert repeated.case_number == first.case_number
        assert deliver(box).dead == 1
        assert box.get(repeated.packet_id)["last_error"] == "http 409 backoffice.case.exists"
        fresh = box.accept(*application())
        assert fresh.case_number[:-10] == first.case_number[:-10]            # same day
        assert fresh.case_number[-9:-5] != first.case_number[-9:-5]          # new installation
        assert deliver(box).sent == 1


def test_simulated_visits_number_their_cases_the_same_way(tmp_path):
    from kiosk.visit.packet import DirectorySink
    sink = DirectorySink(tmp_path / "packets", "SIM-1", "site")
    numbers = [sink.accept({"kind": "application"}, {}).case_number for _ in range(2)]
    assert all(kp.CASE_NUMBER.match(n) for n in numbers)
    assert numbers[1] == numbers[0][:-4] + "0002"
    assert parse_case_reference(numbers[0]) == numbers[0]


def test_the_receipt_code_carries_the_progress_token(tmp_path):
    from kiosk.visit.packet import DirectorySink
    sink = DirectorySink(tmp_path / "packets", "SIM-1", "site")
    accepted = sink.accept({"kind": "application"}, {})
    assert kp.PROGRESS_TOKEN.match(accepted.progress_token)
    [manifest] = (tmp_path / "packets").glob("*/manifest.json")
    assert f'"progress_token": "{accepted.progress_token}"' in manifest.read_text("utf-8")
    assert sink.accept({"kind": "evaluation", "case_number": accepted.case_number},
                       {}).progress_token == ""
    url = kp.progress_url("https://bo.example/", accepted.case_number, accepted.progress_token)
    assert url == f"https://bo.example/progress/{accepted.case_number}?t={accepted.progress_token}"
    assert parse_receipt_code(url) == CaseReference(accepted.case_number, accepted.progress_token)
    assert parse_receipt_code(url.replace(accepted.progress_token, "short")) == \
        CaseReference(accepted.case_number, None)
    assert parse_receipt_code(accepted.case_number) == CaseReference(accepted.case_number, None)
