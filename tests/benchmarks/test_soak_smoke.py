"""The short soak of `./dev test`: benchmarks/soak.py with 40 visits, more than half of them
with a fault (card pulled, reader unplugged, paper out, network down, back office 503, uploader
killed ...), on the real session, drivers, outbox, uploader and back office. Nothing may crash,
get stuck, be lost or doubled; every printed receipt names an accepted packet; file descriptors
and threads end where they started. The full run (10,000 visits, memory flat) is the
benchmark's, with its figures in the README."""
import json
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_a_short_soak_with_faults_loses_nothing(tmp_path):
    report_path = tmp_path / "soak.json"
    pause = tmp_path / "pause"              # it waits between visits while this file exists
    pause.touch()
    soak = subprocess.Popen(
        [sys.executable, str(REPO / "benchmarks" / "soak.py"), "--visits", "40",
         "--fault-rate", "0.6", "--seed", "7", "--kill-every", "15", "--checkpoint-every", "20",
         "--baseline-visits", "1", "--pause-file", str(pause),
         "--json", str(report_path)],
        cwd=REPO, stdout=(tmp_path / "soak.out").open("w"), stderr=subprocess.PIPE, text=True)
    err: list[str] = []

    def read_log():
        for line in soak.stderr:
            err.append(line)
            if "soak: paused" in line:
                time.sleep(2)
                pause.unlink()
    reader = threading.Thread(target=read_log, daemon=True)
    reader.start()
    soak.wait(timeout=900)
    reader.join(10)
    done = subprocess.CompletedProcess(soak.args, soak.returncode,
                                       (tmp_path / "soak.out").read_text(), "".join(err))
    report = json.loads(report_path.read_text()) if report_path.exists() else None
    assert report is not None, done.stdout[-3000:] + done.stderr[-3000:]
    assert report["targets_missed"] == [], report
    assert done.returncode == 0
    assert report["visits"] == 40 and report["crashes"] == {}
    assert report["paused_s"] >= 2                             # it waited, uncounted
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
