"""Fleet alarms from real signed heartbeats posted to a running back office.

The shared server (conftest.py) calls a terminal SILENT after 2 s without a heartbeat. Other
tests' terminals share it, so every check looks at the alarms of its own terminals only.
"""
from __future__ import annotations

import datetime as dt
import json
import time

import httpx
import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from backoffice.cli import main
from backoffice.db import HeartbeatSample
from backoffice_testkit import cli_env, console_client

OK_DEVICES = {"id_card": {"available": True, "fault": None},
              "printer": {"available": True, "fault": None},
              "camera": {"available": True, "fault": None}}


def outbox(pending: int) -> dict:
    return {"pending": pending, "in_flight": 0, "dead": 0, "oldest_pending_age_s": None}


def alarms_of(server, terminal, now: dt.datetime | None = None) -> dict[str, object]:
    """The terminal's alarms by kind, as of `now` (default: its last heartbeat, so a slow
    machine cannot turn the check into a SILENT one)."""
    now = now or terminal.last_beat_at
    return {a.kind: a for a in server.services.alarms.current(now)
            if a.terminal_id == terminal.terminal_id}


def beat(terminal, **fields) -> None:
    response = terminal.heartbeat(**fields)
    assert response.status_code == 204, response.text
    terminal.last_beat_at = dt.datetime.now(dt.timezone.utc)


@pytest.fixture(scope="module")
def console(server):
    server.services.reviewers.add("alarm-watcher", "watch the fleet")
    client = console_client(server.base_url, "alarm-watcher", "watch the fleet")
    yield client
    client.close()


def test_a_healthy_terminal_raises_nothing(server, new_terminal):
    terminal = new_terminal()
    beat(terminal)
    assert alarms_of(server, terminal) == {}


def test_paper_near_end_is_a_warning_and_out_is_critical(server, new_terminal):
    terminal = new_terminal()
    beat(terminal, paper="near_end")
    near = alarms_of(server, terminal)
    assert list(near) == ["paper_near_end"] and near["paper_near_end"].level == "warning"
    beat(terminal, paper="out")
    out = alarms_of(server, terminal)
    assert list(out) == ["paper_out"] and out["paper_out"].level == "critical"
    assert "80 mm" in out["paper_out"].action_en and "热敏纸卷" in out["paper_out"].action_zh
    beat(terminal, paper="ok")
    assert alarms_of(server, terminal) == {}


def test_each_device_fault_is_a_critical_alarm(server, new_terminal):
    terminal = new_terminal()
    beat(terminal, devices={**OK_DEVICES, "camera": {"available": False, "fault": "camera.not_found"},
                            "id_card": {"available": False, "fault": None}})
    found = [a for a in server.services.alarms.current(terminal.last_beat_at)
             if a.terminal_id == terminal.terminal_id]
    assert sorted(a.detail for a in found) == ["camera: camera.not_found", "id_card: unavailable"]
    assert {a.kind for a in found} == {"device_fault"} and {a.level for a in found} == {"critical"}


def test_outbox_growing_over_the_last_heartbeats_and_deep_outbox(server, new_terminal):
    terminal = new_terminal()
    for pending in (0, 3, 2, 5):                 # up and down: not growing
        beat(terminal, outbox=outbox(pending))
    assert alarms_of(server, terminal) == {}
    for pending in (7, 9, 12):                   # 5 -> 7 -> 9 -> 12: rising at every beat
        beat(terminal, outbox=outbox(pending))
    growing = alarms_of(server, terminal)["outbox_growing"]
    assert growing.level == "warning" and growing.detail == "5 → 7 → 9 → 12"
    beat(terminal, outbox=outbox(12))            # stopped rising
    assert "outbox_growing" not in alarms_of(server, terminal)
    beat(terminal, outbox=outbox(64))
    assert alarms_of(server, terminal)["outbox_deep"].detail == "64 packets waiting"


def test_the_history_of_outbox_depths_is_kept_short(server, new_terminal):
    terminal = new_terminal()
    for pending in range(20):
        beat(terminal, outbox=outbox(pending))
    with server.services.db.read() as session:
        kept = session.scalars(select(HeartbeatSample.pending).where(
            HeartbeatSample.terminal_id == terminal.terminal_id)
            .order_by(HeartbeatSample.id)).all()
        total = session.scalar(select(func.count()).select_from(HeartbeatSample))
    assert kept == list(range(8, 20)) and total >= 12


def test_a_failed_update_is_an_alarm_until_a_newer_version_is_in_use(server, new_terminal):
    terminal = new_terminal()
    failed = {"version": 8, "reason_key": "update.bad_signature", "at": "2026-12-01T10:00:00+00:00"}
    beat(terminal, updates={"catalog": {"version": 7, "staged": None, "failed": failed},
                            "site-profile": {"version": None, "staged": None, "failed": None}})
    alarm = alarms_of(server, terminal)["update_failed"]
    assert alarm.detail == "catalog version 8: update.bad_signature"
    assert "publisher key" in alarm.action_en
    beat(terminal, updates={"catalog": {"version": 9, "staged": None, "failed": None}})
    assert alarms_of(server, terminal) == {}


def test_missed_heartbeats_make_a_silent_alarm_and_revoked_terminals_none(server, new_terminal):
    never = new_terminal()
    now = dt.datetime.now(dt.timezone.utc)
    assert alarms_of(server, never, now)["silent"].detail == "never sent a heartbeat"
    quiet = new_terminal()
    beat(quiet, paper="near_end")
    assert "silent" not in alarms_of(server, quiet)
    time.sleep(server.services.settings.silent_after_s + 0.5)
    now = dt.datetime.now(dt.timezone.utc)
    found = alarms_of(server, quiet, now)
    assert found["silent"].level == "critical" and "paper_near_end" in found   # last known state
    assert server.services.alarms.current(now)[0].level == "critical"          # critical first
    server.services.fleet.revoke(never.terminal_id)
    assert alarms_of(server, never, now) == {}


def test_the_fleet_page_shows_level_problem_and_what_to_do(server, new_terminal, console):
    terminal = new_terminal()
    beat(terminal, paper="out", outbox=outbox(80))
    page = console.get("/console/fleet")
    assert page.status_code == 200
    html = page.text
    row = html.index(f'data-kind="paper_out" data-terminal="{terminal.terminal_id}"')
    assert 'class="alarm level-critical"' in html[row - 60:row]
    assert "打印纸已用完" in html and "Load a new 80 mm thermal roll" in html
    assert f'data-kind="outbox_deep" data-terminal="{terminal.terminal_id}"' in html
    assert "80 packets waiting" in html

    beat(terminal, paper="out", outbox=outbox(80))      # not silent yet on a slow machine
    listed = console.get("/console/fleet/alarms.json").json()["alarms"]
    mine = {a["kind"]: a for a in listed if a["terminal_id"] == terminal.terminal_id}
    assert set(mine) == {"paper_out", "outbox_deep"}
    assert mine["paper_out"]["level"] == "critical" and mine["paper_out"]["since"]
    dt.datetime.fromisoformat(mine["paper_out"]["since"])
    anonymous = httpx.get(f"{server.base_url}/console/fleet/alarms.json", follow_redirects=False)
    assert anonymous.status_code == 303 and anonymous.headers["location"] == "/console/login"


def test_the_cli_lists_alarms_with_a_monitoring_exit_status(server, new_terminal, tmp_path,
                                                           backoffice_settings):
    terminal = new_terminal()
    beat(terminal, paper="out")
    data = ["--data-dir", str(server.services.settings.data_dir)]
    runner = CliRunner(env=cli_env(server.services.settings))
    result = runner.invoke(main, ["alarms", "--json", *data])
    assert result.exit_code == 2, result.output
    mine = [a for a in json.loads(result.output)["alarms"] if a["terminal_id"] == terminal.terminal_id]
    assert [a["kind"] for a in mine] == ["paper_out"]
    text = runner.invoke(main, ["alarms", *data]).output
    assert f"CRITICAL\t{terminal.terminal_id}\tpaper_out\tReceipt paper out" in text
    assert "do: Load a new 80 mm thermal roll" in text
    listed = runner.invoke(main, ["terminal", "list", *data]).output.splitlines()
    line = next(line for line in listed if line.startswith(f"{terminal.terminal_id}\t"))
    assert line.startswith(f"{terminal.terminal_id}\tsite-1\tOK") and line.endswith("\talarms paper_out")
    fresh = backoffice_settings(tmp_path / "fresh")
    empty = CliRunner(env=cli_env(fresh)).invoke(main, ["alarms", "--data-dir", str(fresh.data_dir)])
    assert empty.exit_code == 0 and "no alarms" in empty.output
