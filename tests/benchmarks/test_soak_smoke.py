"""The short soak of `./dev test`: benchmarks/soak.py with 40 visits, more than half of them
with a fault (card pulled, reader unplugged, paper out, network down, back office 503, uploader
killed ...), on the real session, drivers, outbox, uploader and back office. Nothing may crash,
get stuck, be lost or doubled; every printed receipt names an accepted packet; file descriptors
and threads end where they started. The full run (10,000 visits, memory flat) is the
benchmark's, with its figures in the README."""
import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_a_short_soak_with_faults_loses_nothing(tmp_path):
    report_path = tmp_path / "soak.json"
    done = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "soak.py"), "--visits", "40",
         "--fault-rate", "0.6", "--seed", "7", "--kill-every", "15", "--checkpoint-every", "20",
         "--baseline-visits", "1",
         "--json", str(report_path)],
        cwd=REPO, capture_output=True, text=True, timeout=900)
    report = json.loads(report_path.read_text()) if report_path.exists() else None
    assert report is not None, done.stdout[-3000:] + done.stderr[-3000:]
    assert report["targets_missed"] == [], report
    assert done.returncode == 0
    assert report["visits"] == 40 and report["crashes"] == {}
    assert report["outcomes"].get("stuck", 0) == 0
    assert report["outcomes"].get("done", 0) >= 10            # most faults still end well
    assert len(report["faults"]) >= 8                         # many kinds of fault were met
    packets = report["packets"]
    assert packets["accepted"] == packets["stored"] > 0
    assert packets["lost"] == packets["doubled"] == packets["unknown_stored"] == 0
    assert report["receipts"]["without_packet"] == 0
    assert report["outbox"]["drained"] and report["outbox"]["dead"] == 0
    assert report["uploader_kills"] == 2
    assert set(report["baseline"]) == {"visits", "real_time_s", "soak_s", "speedup"}
    assert report["end"]["fds"] <= report["start"]["fds"] + 2
    assert report["end"]["python_threads"] <= report["start"]["python_threads"] + 2
