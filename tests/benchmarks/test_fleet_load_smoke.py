"""benchmarks/fleet_load.py keeps working: a seconds-long run with a handful of terminals against
both configurations (SQLite, one process; PostgreSQL with two workers) must report every field,
no error, and every packet answered 201 stored exactly once. Speed is not asserted here: the
benchmark measures it."""
import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PHASE_FIELDS = {"wall_s", "requests_per_s", "server_cores", "server_peak_pss_mib",
                "postgres_cores", "postgres_peak_pss_mib", "client_cores",
                "machine_busy_cores", "machine_iowait_cores", "pg_commits_per_request",
                "client_loop_lag_p99_ms", "pg_waits", "intake", "heartbeat"}
LATENCY_FIELDS = {"n", "per_s", "p50_ms", "p95_ms", "p99_ms", "max_ms"}


def test_a_small_fleet_runs_on_both_engines_without_errors(tmp_path):
    report_path = tmp_path / "fleet.json"
    done = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "fleet_load.py"), "--terminals", "6",
         "--steady-s", "4", "--app-interval-s", "3", "--backlog", "2", "--burst-max-s", "60",
         "--workers", "2", "--json", str(report_path)],
        cwd=REPO, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    runs = json.loads(report_path.read_text())["runs"]
    assert [r["config"] for r in runs] == ["SQLite, 1 process",
                                           "PostgreSQL 15, serve --workers 2"]
    for run in runs:
        assert run["terminals"] == 6
        assert run["errors"] == {}, run["errors"]
        assert run["backlog_left"] == 0
        assert run["dead"] == 0
        assert run["answered_201"] >= 6 * 2          # at least the backlog of each terminal
        assert run["stored_packets"] == run["answered_201"]
        assert run["exactly_once"]["ok"] and run["exactly_once"]["stored_answer_lost"] == 0
        for phase in ("steady", "burst"):
            row = run["phases"][phase]
            assert PHASE_FIELDS <= set(row), set(row) ^ PHASE_FIELDS
            for kind in ("intake", "heartbeat"):
                assert LATENCY_FIELDS <= set(row[kind])
        assert run["phases"]["steady"]["heartbeat"]["n"] >= 1
        assert run["phases"]["burst"]["intake"]["n"] >= 6 * 2
        assert run["phases"]["burst"]["server_cores"] > 0
    assert runs[1]["phases"]["burst"]["postgres_cores"] > 0
    assert "-- 6 terminals: PostgreSQL 15, serve --workers 2 / SQLite, 1 process --" in done.stdout
