"""Crash test: kill -9 a process that is accepting packets, many times, at random points.

Every case number the process reported (it reports only after `accept` returned) must be in
the outbox exactly once, every stored sealed file must open and match its row, no number is
ever issued twice, and no orphan file survives the next start.
"""
from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from protocol import packet as kp

CHILD = Path(__file__).resolve().parent / "crash_child.py"
REPO = Path(__file__).resolve().parents[4]
KILLS = 30


def run_and_kill(state_dir: Path, key_dir: Path, rng: random.Random) -> list[tuple[str, str]]:
    proc = subprocess.Popen([sys.executable, str(CHILD), str(state_dir), str(key_dir)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO)
    assert proc.stdout.readline() == b"ready\n", proc.stderr.read().decode()
    time.sleep(rng.uniform(0.0, 0.25))
    os.kill(proc.pid, signal.SIGKILL)
    out, err = proc.communicate(timeout=10)
    assert proc.returncode == -signal.SIGKILL, err.decode()
    reported = []
    for line in out.decode().splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0] == "accepted":       # a torn last line is not a report
            reported.append((parts[1], parts[2]))
    return reported


def test_kill_9_at_random_points_never_loses_or_repeats_a_case(open_outbox, keys, tmp_path):
    rng = random.Random(int(os.environ.get("CRASH_SEED", "20250101")))
    state_dir = tmp_path / "state"
    reported: list[tuple[str, str]] = []
    started = time.monotonic()
    for _ in range(KILLS):
        reported += run_and_kill(state_dir, keys.key_dir, rng)
    assert time.monotonic() - started < 40
    assert len(reported) > KILLS, "the child accepted too few packets to test anything"

    box = open_outbox(state_dir=state_dir)
    rows = box.list(limit=100_000)
    by_case = Counter(r["case_number"] for r in rows)
    assert all(count == 1 for count in by_case.values()), "a case number was issued twice"
    by_packet = {r["packet_id"]: r for r in rows}
    for case_number, packet_id in reported:
        assert by_case[case_number] == 1, f"reported {case_number} is not in the outbox"
        assert by_packet[packet_id]["case_number"] == case_number
    assert len(rows) >= len(reported)
    assert len(rows) - len(reported) <= KILLS    # at most one committed-but-unreported per kill
    files = sorted(p.name for p in box.files_dir.iterdir())
    assert files == sorted(f"{r['packet_id']}.kpkt" for r in rows), "orphan or missing files"
    for row in rows:
        opened = kp.open_packet((box.files_dir / f"{row['packet_id']}.kpkt").read_bytes(),
                                keys.private, keys.signing.verify_key)
        assert opened.manifest["case_number"] == row["case_number"]
        assert opened.manifest["packet_id"] == row["packet_id"]
    by_day: dict[str, list[int]] = {}
    for row in rows:                   # T-001-YYYYMMDD-NNNNNN: each day's numbers run 1..n
        day, seq = row["case_number"].rsplit("-", 2)[1:]
        by_day.setdefault(day, []).append(int(seq))
    for seqs in by_day.values():
        assert sorted(seqs) == list(range(1, len(seqs) + 1)), "a crash consumed or reused a number"
