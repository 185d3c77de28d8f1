"""Exactly once under concurrency, on SQLite and on PostgreSQL, with no lock held in Python.

The same packet sent at once from several threads (through HTTP) and from several processes
(each with its own `Services`, as several back-office instances would be) is stored once: one
201, every other answer 200 with the same body, one packet row, one case, one "received" line.
Two packets claiming one case number: one case, the other 409. Two reviewers deciding one case
at once: one decision. One enrolment token used at once: one enrolment. One signed request
replayed at once: one accepted. Failed logins counted from many threads: none lost.
Each race starts its contenders on a barrier (threads) or a start file (processes).
"""
from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import func, select

from backoffice.db import Case, CaseEvent, LoginThrottle, Packet
from backoffice.login_guard import LoginGuard, LoginRules, account_key
from backoffice_testkit import REPO, TerminalClient, application, console_client, csrf_of
from protocol.signing import sign_request

CONTENDERS = 6


def race(n: int, attempt):
    """attempt(i) for i in range(n), all released at once; their results in order."""
    barrier = threading.Barrier(n)

    def go(i):
        barrier.wait(timeout=30)
        return attempt(i)

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(go, range(n)))


def twin(terminal: TerminalClient) -> TerminalClient:
    """The same terminal (id and key) on a connection of its own."""
    copy = TerminalClient(terminal.base_url, terminal.terminal_id, signing_key=terminal.signing_key)
    copy.recipient = terminal.recipient
    return copy


def stored(server, packet_id: str, case_number: str) -> tuple[int, int, int]:
    with server.services.db.read() as session:
        packets = session.scalar(select(func.count()).select_from(Packet)
                                 .where(Packet.packet_id == packet_id))
        cases = session.scalar(select(func.count()).select_from(Case)
                               .where(Case.case_number == case_number))
        received = session.scalar(select(func.count()).select_from(CaseEvent).join(Case)
                                  .where(Case.case_number == case_number,
                                         CaseEvent.action == "received"))
    return packets, cases, received


def test_one_packet_sent_at_once_from_many_threads_is_stored_once(server, new_terminal):
    terminal = new_terminal()
    manifest, files = application(terminal, light=True)
    blob = terminal.seal(manifest, files)
    senders = [twin(terminal) for _ in range(CONTENDERS)]
    answers = race(CONTENDERS, lambda i: senders[i].send_packet(blob))
    codes = sorted(a.status_code for a in answers)
    assert codes == [200] * (CONTENDERS - 1) + [201], [a.text for a in answers]
    assert len({json.dumps(a.json(), sort_keys=True) for a in answers}) == 1
    assert stored(server, manifest["packet_id"], manifest["case_number"]) == (1, 1, 1)


def test_two_packets_claiming_one_case_number_make_one_case(server, new_terminal):
    terminal = new_terminal()
    first, _ = application(terminal, light=True)
    blobs = []
    for _ in range(CONTENDERS):
        manifest, files = application(terminal, light=True)
        manifest["case_number"] = first["case_number"]      # a different packet id each
        blobs.append(terminal.seal(manifest, files))
    senders = [twin(terminal) for _ in range(CONTENDERS)]
    answers = race(CONTENDERS, lambda i: senders[i].send_packet(blobs[i]))
    codes = sorted(a.status_code for a in answers)
    assert codes == [201] + [409] * (CONTENDERS - 1), [a.text for a in answers]
    with server.services.db.read() as session:
        assert session.scalar(select(func.count()).select_from(Case).where(
            Case.case_number == first["case_number"])) == 1
        assert session.scalar(select(func.count()).select_from(Packet).where(
            Packet.case_number == first["case_number"])) == 1


PROCESS = """
import json, os, sys, time
from backoffice.db import Terminal
from backoffice.services import Services
from backoffice.settings import Settings
from backoffice.terminal_auth import ApiError
data_dir, url, terminal_id, go = sys.argv[1:5]
services = Services.start(Settings.for_data_dir(data_dir, database_url=url))
blobs = [open(path, "rb").read() for path in sys.argv[5:]]
with services.db.read() as session:
    terminal = session.get(Terminal, terminal_id)
print("ready", flush=True)
while not os.path.exists(go):
    time.sleep(0.002)
codes = []
for blob in blobs:
    try:
        codes.append(services.intake.receive(terminal, None, blob).status_code)
    except ApiError as exc:
        codes.append(exc.status)
print(json.dumps(codes), flush=True)
services.db.dispose()
"""


def test_the_same_packets_from_several_processes_are_stored_once(server, new_terminal, tmp_path):
    terminal = new_terminal()
    sealed = [application(terminal, light=True) for _ in range(4)]
    paths = []
    for i, (manifest, files) in enumerate(sealed):
        paths.append(tmp_path / f"p{i}.sealed")
        paths[-1].write_bytes(terminal.seal(manifest, files))
    go = tmp_path / "go"
    settings = server.services.settings
    processes = [subprocess.Popen(
        [sys.executable, "-c", PROCESS, str(settings.data_dir), settings.database_url,
         terminal.terminal_id, str(go), *map(str, paths)],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(4)]
    try:
        for process in processes:
            assert process.stdout.readline().strip() == "ready", process.stderr.read()
        go.touch()
        results = [json.loads(process.communicate(timeout=120)[0]) for process in processes]
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
    for i, (manifest, _) in enumerate(sealed):
        codes = sorted(result[i] for result in results)
        assert codes == [200, 200, 200, 201], results
        assert stored(server, manifest["packet_id"], manifest["case_number"]) == (1, 1, 1)


def test_two_reviewers_deciding_one_case_at_once_make_one_decision(server, new_terminal):
    terminal = new_terminal()
    manifest, files = application(terminal, light=True)
    assert terminal.send_packet(terminal.seal(manifest, files)).status_code == 201
    case = manifest["case_number"]
    server.services.reviewers.add("race-reviewer", "race-pa55word")
    consoles = [console_client(server.base_url, "race-reviewer", "race-pa55word")
                for _ in range(4)]
    forms = [csrf_of(c.get(f"/console/cases/{case}").text) for c in consoles]
    try:
        answers = race(4, lambda i: consoles[i].post(
            f"/console/cases/{case}/action",
            data={"csrf": forms[i], "action": "accept", "comment": f"reviewer {i}"}))
    finally:
        for c in consoles:
            c.close()
    assert sorted(a.status_code for a in answers) == [303, 409, 409, 409]
    with server.services.db.read() as session:
        accepted = session.scalar(select(func.count()).select_from(CaseEvent).join(Case).where(
            Case.case_number == case, CaseEvent.action == "accept"))
    assert accepted == 1


def test_one_enrolment_token_used_at_once_enrols_once(server):
    token = server.services.fleet.create_token("RACE-ENROL", "site-1")
    clients = [TerminalClient(server.base_url, "RACE-ENROL") for _ in range(CONTENDERS)]
    answers = race(CONTENDERS, lambda i: clients[i].enrol(token))
    assert sorted(a.status_code for a in answers) == [201] + [403] * (CONTENDERS - 1)
    winner = clients[[a.status_code for a in answers].index(201)]
    assert winner.heartbeat().status_code == 204          # the key that won is the one kept


def test_one_signed_request_replayed_at_once_is_accepted_once(new_terminal):
    terminal = new_terminal()
    body = json.dumps({"terminal_id": terminal.terminal_id, "paper": "ok"}).encode()
    headers = sign_request(terminal.signing_key, terminal.terminal_id, "POST",
                           "/api/v1/heartbeats", body)
    senders = [twin(terminal) for _ in range(CONTENDERS)]
    answers = race(CONTENDERS, lambda i: senders[i].signed(
        "POST", "/api/v1/heartbeats", body, {"Content-Type": "application/json"},
        signed_headers=headers))
    codes = sorted(a.status_code for a in answers)
    assert codes == [204] + [401] * (CONTENDERS - 1), [a.text for a in answers]


def test_failed_logins_counted_from_many_threads_are_all_counted(server):
    rules = LoginRules(free_failures=1000, backoff_base_s=1, backoff_cap_s=1,
                       lockout_failures=1000, lockout_s=60, forget_after_s=3600)
    guard = LoginGuard(server.services.db, rules, rules)
    name = f"nobody-{time.monotonic_ns()}"
    race(12, lambda i: guard.begin(name, f"192.0.2.{i}"))
    with server.services.db.read() as session:
        row = session.get(LoginThrottle, account_key(name))
        assert row.failures == 12
