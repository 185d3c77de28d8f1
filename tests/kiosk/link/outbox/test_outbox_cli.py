"""`kiosk outbox status|list|retry` through the real `kiosk` command group."""
from __future__ import annotations

import json

from click.testing import CliRunner

from kiosk.cli import main
from outbox_testkit import ID_NUMBER, NAME, application


def run(*args, env=None):
    return CliRunner().invoke(main, ["outbox", *args], env=env, catch_exceptions=False)


def test_status_list_and_retry(open_outbox):
    box = open_outbox()
    a = box.accept(*application())
    b = box.accept(*application())
    c = box.accept(*application())
    box.mark_in_flight(b.packet_id)
    box.mark_failed(b.packet_id, "http 422 backoffice.packet.malformed", permanent=True)
    box.mark_in_flight(c.packet_id)
    box.mark_failed(c.packet_id, "http 409 backoffice.packet.conflict", permanent=True)
    state = str(box.state_dir)

    status = json.loads(run("status", "--state-dir", state, "--json").output)
    assert (status["pending"], status["dead"], status["acknowledged"]) == (1, 2, 0)
    text = run("status", env={"KIOSK_STATE_DIR": state}).output
    assert "dead          2" in text and "pending       1" in text

    rows = json.loads(run("list", "--state-dir", state, "--json", "--state", "dead").output)
    assert {r["packet_id"] for r in rows} == {b.packet_id, c.packet_id}
    listing = run("list", "--state-dir", state).output
    assert a.case_number in listing and "error=http 422 backoffice.packet.malformed" in listing
    assert NAME not in listing and ID_NUMBER not in listing

    box.mark_in_flight(a.packet_id)
    box.mark_unreachable(a.packet_id, "ConnectError")
    assert json.loads(run("status", "--state-dir", state, "--json").output)["back_office"][
        "failures"] == 1
    assert "back office   not reached 1 time(s) in a row" in run("status", "--state-dir",
                                                                 state).output
    assert run("retry", b.packet_id, "--state-dir", state).output.startswith("1 packet")
    assert box.next_due() is not None                    # retry: the queue does not wait
    assert box.get(b.packet_id)["state"] == "pending"
    assert run("retry", "--all-dead", "--state-dir", state).output.startswith("1 packet")
    assert box.status()["dead"] == 0


def test_usage_errors_are_clear(open_outbox, tmp_path):
    box = open_outbox()
    runner = CliRunner()
    result = runner.invoke(main, ["outbox", "retry", "--state-dir", str(box.state_dir)])
    assert result.exit_code == 2 and "PACKET_ID or --all-dead" in result.output
    result = runner.invoke(main, ["outbox", "retry", "nope", "--state-dir", str(box.state_dir)])
    assert result.exit_code == 1 and "no dead or pending packet nope" in result.output
    result = runner.invoke(main, ["outbox", "status", "--state-dir", str(tmp_path / "none")])
    assert result.exit_code == 1 and "no outbox in" in result.output
    assert not (tmp_path / "none").exists()
