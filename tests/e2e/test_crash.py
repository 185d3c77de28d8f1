"""Crash test of the whole terminal: kill -9 the SESSION process (real session, emulated devices,
real outbox) ten times: half of them while it submits (sealing, storing, or printing just
after), the rest after a receipt or anywhere; and meanwhile kill -9 `kiosk-uploader` a dozen
times, mostly while it has a packet in flight. Afterwards every receipted packet is in
the back office exactly once, and nothing the outbox accepted is lost: the terminal's outbox
rows, the packets the back office stored, and the case numbers printed on receipts agree.

Session processes are forked from a warm launcher (tests/e2e/session_child.py) so a restart
costs what a kiosk restart costs after its libraries are loaded, not a cold interpreter.
"""
from __future__ import annotations

import os
import queue
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

from e2e_kit import REPO, UploaderProcess, outbox_rows, stored_packets, wait_drained
from kiosk.link.enrolment import enrol
from protocol.keys import load_signing_key, public_key_text

CHILD = Path(__file__).resolve().parent / "session_child.py"
TERMINAL = "E2E-CRASH"
SESSION_KILLS = 10          # about 45 s here with the machine shared (load 4-5)
UPLOADER_KILLS = 12         # each restart costs a cold interpreter: CPU the session needs
# where each session process dies: while it seals and stores its packet (or just after, while
# the receipt prints), after its receipt (evaluation, wipe, the next visit), or anywhere
KILL_POINTS = ("submit", "after_receipt", "submit", "anywhere")


class Launcher:
    def __init__(self, state_dir: Path, work: Path, url: str):
        env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
        self.log = open(work / "launcher.log", "wb")
        self.proc = subprocess.Popen([sys.executable, str(CHILD), str(state_dir), str(work), url],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.log, cwd=REPO, env=env)
        self.lines: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.accepted: dict[str, str] = {}      # case -> packet id, as reported after accept
        self.receipts: list[str] = []

    def _read(self) -> None:
        for raw in self.proc.stdout:
            self.lines.put(raw.decode(errors="replace").strip())
        self.lines.put(None)

    def send(self, line: str) -> None:
        self.proc.stdin.write((line + "\n").encode())
        self.proc.stdin.flush()

    def until(self, prefix: str, timeout: float) -> str | None:
        """Read lines (recording reports) until one starts with `prefix`; None on timeout."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(deadline - time.monotonic(), 0.01))
            except queue.Empty:
                return None
            if line is None:
                raise AssertionError("the launcher died: see launcher.log")
            parts = line.split()
            if len(parts) == 3 and parts[0] == "accepted":
                self.accepted[parts[1]] = parts[2]
            elif len(parts) == 2 and parts[0] == "receipt":
                self.receipts.append(parts[1])
            if line.startswith(prefix):
                return line
            if time.monotonic() > deadline:
                return None

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.close()
            self.proc.wait(10)
        self.log.close()


def _in_flight(state: Path) -> bool:
    import sqlite3
    db = sqlite3.connect(f"file:{state / 'outbox.db'}?mode=ro", uri=True, timeout=5)
    try:
        return db.execute("SELECT 1 FROM packets WHERE state='in_flight'").fetchone() is not None
    finally:
        db.close()


def _kill_uploader_repeatedly(uploader: UploaderProcess, state: Path, stop: threading.Event,
                              rng: random.Random, mid_upload: list[int]) -> None:
    """Restart and kill -9 the uploader, mostly while it has a packet in flight; after
    UPLOADER_KILLS it is left running."""
    while not stop.is_set() and uploader.kills < UPLOADER_KILLS:
        logged = uploader.log.stat().st_size if uploader.log.exists() else 0
        uploader.start()
        if rng.random() < 0.7:
            deadline = time.monotonic() + 10
            while not stop.is_set() and time.monotonic() < deadline and \
                    b"uploader started" not in uploader.log.read_bytes()[logged:]:
                time.sleep(0.01)      # recovered (stale in-flight rows are pending again)
            while not stop.is_set() and time.monotonic() < deadline and not _in_flight(state):
                time.sleep(0.01)
            if time.monotonic() < deadline and not stop.is_set():
                mid_upload[0] += 1
            time.sleep(rng.uniform(0.0, 0.05))
        else:
            stop.wait(rng.uniform(0.3, 3.0))
        uploader.kill()
    if not stop.is_set():
        uploader.start()


def test_kill_9_session_and_uploader_at_random_points(backoffice, tmp_path):
    seed = int(os.environ.get("CRASH_SEED", "20261201"))
    rng, uploader_rng = random.Random(seed), random.Random(seed + 1)
    state, work = tmp_path / "state", tmp_path / "work"
    work.mkdir()
    enrol(backoffice.url, backoffice.create_token(TERMINAL, "e2e-site"), TERMINAL, state / "keys")
    launcher = Launcher(state, work, backoffice.url)
    uploader = UploaderProcess(state, backoffice.url, TERMINAL)
    stop = threading.Event()
    mid_upload = [0]
    killer = threading.Thread(target=_kill_uploader_repeatedly,
                              args=(uploader, state, stop, uploader_rng, mid_upload))
    kills, at_submit, standby = 0, 0, None

    def prepare(n: int) -> int:
        launcher.send(f"prepare {n}")
        forked = launcher.until(f"forked {n} ", 30)
        assert forked is not None, "the launcher did not fork"
        return int(forked.split()[2])

    def kill(pid: int) -> None:
        os.kill(pid, signal.SIGKILL)
        launcher.send(f"reap {pid}")
        assert launcher.until(f"reaped {pid}", 30) is not None

    t0 = time.monotonic()
    try:
        assert launcher.until("ready", 180) == "ready"
        t_ready = time.monotonic()
        killer.start()
        standby = prepare(0)
        while kills < SESSION_KILLS:
            pid, n = standby, kills
            launcher.send(f"go {n}")
            standby = prepare(n + 1)         # the next session process gets ready meanwhile
            point = KILL_POINTS[n % len(KILL_POINTS)]
            if point == "anywhere":
                launcher.until("never", rng.uniform(0.2, 4.0))
            elif point == "after_receipt":
                launcher.until("receipt ", 90)
                time.sleep(rng.uniform(0.0, 1.0))
            else:
                if launcher.until(f"submitting {n} ", 90) is not None:
                    at_submit += 1
                time.sleep(rng.uniform(0.0, 0.4))
            kill(pid)
            kills += 1
    finally:
        if standby is not None:
            kill(standby)
        stop.set()
        if killer.is_alive():
            killer.join(15)
        uploader.kill()
        launcher.close()
    assert at_submit == SESSION_KILLS // 2, "a visit never reached its submission"
    assert uploader.kills >= 5 and mid_upload[0] >= 3, (uploader.kills, mid_upload)

    t_loop = time.monotonic()
    final = UploaderProcess(state, backoffice.url, TERMINAL).start()   # recovers, drains
    try:
        wait_drained(state, 60)
    finally:
        final.stop()

    rows = outbox_rows(state)
    assert rows and all(r["state"] == "acknowledged" for r in rows), \
        Counter((r["state"], r["last_error"]) for r in rows)
    signing = load_signing_key(state / "keys" / "terminal.key")
    stored = stored_packets(backoffice.data_dir, public_key_text(signing), TERMINAL)
    # nothing accepted is lost, nothing arrives that the outbox did not accept, each once
    assert set(stored) == {r["packet_id"] for r in rows}
    apps = [p for p in stored.values() if p.kind == "application"]
    per_case = Counter(p.case_number for p in apps)
    assert all(n == 1 for n in per_case.values())
    for case, packet_id in launcher.accepted.items():      # reported after accept returned
        assert per_case[case] == 1 and stored[packet_id].case_number == case
    for case in launcher.receipts:                          # printed on a receipt
        assert per_case[case] == 1 and case in launcher.accepted
    assert launcher.receipts, "no visit got as far as its receipt"
    assert len(apps) - len(launcher.accepted) <= kills      # accepted, killed before reporting
    by_day: dict[str, list[int]] = {}
    for case in per_case:                   # E2E-CRASH-YYYYMMDD-NNNNNN: 1..n each day
        day, seq = case.rsplit("-", 2)[1:]
        by_day.setdefault(day, []).append(int(seq))
    for seqs in by_day.values():
        assert sorted(seqs) == list(range(1, len(seqs) + 1)), "a kill consumed a case number"
    print(f"session kills {kills} (at submission {at_submit}), uploader kills {uploader.kills} "
          f"(mid-upload {mid_upload[0]}), accepted reported {len(launcher.accepted)}, "
          f"receipts {len(launcher.receipts)}; launcher ready {t_ready - t0:.1f} s, kill loop "
          f"{t_loop - t_ready:.1f} s, drain and checks {time.monotonic() - t_loop:.1f} s")
