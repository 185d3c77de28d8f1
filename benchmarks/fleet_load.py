"""A fleet of terminals against a real back office on loopback: SQLite, one process (the
baseline) vs PostgreSQL with several workers, measured in one run.

For each N (default 500 and 2,000) and each configuration, the benchmark starts `backoffice
serve` as subprocesses (benchmarks/fleet_server.py: a fresh data folder; for PostgreSQL a
private cluster from tests/kit/postgres.py with fsync on, and `serve --workers W`, W = cores,
or W instances on W ports when `serve` has no --workers), issues one enrolment token per
terminal with the back office's Python API, enrols every terminal through the enrolment API
(kiosk/link/enrolment.py), then runs two phases (benchmarks/fleet_terminals.py):
  steady — every terminal sends a signed heartbeat every 30 s (spread evenly over the fleet)
           and sealed applications at Poisson times, one per terminal every `--app-interval-s`
           (180 s: a busy kiosk, a visit every three minutes all day) for `--steady-s` (60 s);
  burst  — the back office is back after an outage: every terminal has `--backlog` (3: ten
           minutes' worth) packets queued and drains them as its uploader does, one at a time,
           in order, all terminals at once (within 1 s); bounded by `--burst-max-s`.
It prints requests/s answered, p50/p95/p99 latency of the answered intake and heartbeat
requests per phase, errors by status or reason (no answer within the uploader's 30 s is a
ReadTimeout), the server's CPU (cores used) and peak memory (PSS summed over its processes;
PostgreSQL's processes separately), the client's own CPU and event-loop lag, how busy the whole
machine was (other jobs share it), whether the packets table holds every acknowledged packet
exactly once, for PostgreSQL its commits, WAL fsyncs and what its busy backends wait for, and
the ratio PostgreSQL/SQLite.

Why an own asyncio client rather than locust: a terminal is idle 99 % of the time and strictly
sequential (one request in flight, its queue in order, backing off as the uploader does), which
is one coroutine; 2,000 of them are one process and one core at most, measured. Locust would
add a dependency (gevent) for a user model we would bend into the same loop, and its
`HttpUser` does not sign. The terminals sign with protocol/signing.py exactly as
kiosk/link/uploader.py does, seal with protocol/packet.py, enrol with kiosk/link/enrolment.py,
and build heartbeats with `Uploader.heartbeat_payload`; every packet is sealed before anything
is timed (benchmarks/fleet_packets.py), so the client's CPU is HTTP and signing only.

`--diagnose-async-commit` adds a run on PostgreSQL with `synchronous_commit=off` for the
largest N: a diagnostic of what WAL fsyncs cost, never the reported configuration.
`--keepalive-expiry-s` (client side, default the uploader's `KEEPALIVE_S`, 4 s) tells the
keep-alive race apart: uvicorn closes an idle connection after 5 s, and a request sent on a
connection as the server closes it is reset (a ReadError; the uploader retries it). With httpx's
default of 5 s, which the uploader had before, every 500-terminal burst had such resets.

  .venv/bin/python benchmarks/fleet_load.py [--terminals 500,2000] [--steady-s 60]
      [--backlog 3] [--burst-max-s 300] [--configs sqlite,postgresql] [--workers 2]
      [--json report.json]
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from fleet_packets import heartbeat_template, load_recipient, make_fleet  # noqa: E402
from fleet_server import (BackOffice, ProcessTree, WaitEvents, machine_cpu_s,  # noqa: E402
                          serve_has_workers)  # noqa: E402
from fleet_terminals import Results, enrol_all, run_fleet  # noqa: E402
from kiosk.link.uploader import KEEPALIVE_S  # noqa: E402

PHASES = ("steady", "burst")
KINDS = ("intake", "heartbeat")


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(round(q * len(ordered))) - 1))] * 1000


def measure(backoffice: BackOffice, terminals, template: dict, args) -> dict:
    """One configuration at one N: enrol, run both phases, return the report's numbers."""
    tokens = backoffice.issue_tokens(terminals)
    backoffice.start()
    urls = backoffice.urls
    index = {t.terminal_id: i for i, t in enumerate(terminals)}

    def url_of(t):
        return urls[index[t.terminal_id] % len(urls)]

    started = time.monotonic()
    enrol_all(terminals, tokens, url_of)
    enrol_s = time.monotonic() - started
    server = ProcessTree(backoffice.pids)
    pg = ProcessTree([backoffice.cluster_pid()]) if backoffice.cluster else None
    waits = WaitEvents(backoffice.cluster.conninfo(backoffice.dbname)) if backoffice.cluster \
        else None
    marks: dict[str, dict] = {}

    def on_phase(name: str) -> None:
        marks[name] = {"server": server.cpu_s(), "pg": pg.cpu_s() if pg else 0.0,
                       "client": time.process_time(), "machine": machine_cpu_s(),
                       "server_pss": server.peak_pss,
                       "pg_pss": pg.peak_pss if pg else 0,
                       "waits": waits.take() if waits else (0, {}, (0, 0))}
        server.reset_peak()
        if pg:
            pg.reset_peak()

    try:
        results: Results = asyncio.run(run_fleet(terminals, url_of, template, args.steady_s,
                                                 args.burst_max_s, on_phase, args.seed,
                                                 args.keepalive_expiry_s))
        stored = backoffice.stored_packets()
    finally:
        for sampler in (server, pg, waits):
            if sampler:
                sampler.stop()
        backoffice.stop()
    problems = backoffice.log_problems()
    report = {"config": backoffice.describe(), "terminals": len(terminals),
              "enrol_s": round(enrol_s, 1), "phases": {},
              "stored_packets": len(stored), "answered_201": results.outcomes["stored"],
              "exactly_once": _exactly_once(stored, results),
              "duplicates_200": results.outcomes["duplicate"], "dead": results.outcomes["dead"],
              "backlog_left": results.backlog_left,
              "errors": {f"{p} {k} {r}": n for (p, k, r), n in sorted(results.errors.items())},
              "server_log": problems}
    for phase, after in zip(PHASES, ("burst", "end")):
        wall = results.wall[phase]
        before, end = marks[phase], marks[after]
        samples, counts, totals = end["waits"]
        requests = sum(len(results.latencies[(phase, k)]) for k in KINDS)
        row = {"wall_s": round(wall, 1),
               "requests_per_s": round(requests / wall, 1),
               "pg_commits_per_request": round((totals[0] - before["waits"][2][0]) / requests, 1)
               if waits and requests else None,
               "pg_wal_syncs_per_s": round((totals[1] - before["waits"][2][1]) / wall, 1)
               if waits else None,
               "server_cores": round((end["server"] - before["server"]) / wall, 2),
               "server_peak_pss_mib": round(end["server_pss"] / 2**20),
               "postgres_cores": round((end["pg"] - before["pg"]) / wall, 2),
               "postgres_peak_pss_mib": round(end["pg_pss"] / 2**20),
               "client_cores": round((end["client"] - before["client"]) / wall, 2),
               "machine_busy_cores": round((end["machine"][0] - before["machine"][0]) / wall, 2),
               "machine_iowait_cores": round((end["machine"][1] - before["machine"][1]) / wall,
                                             2),
               "client_loop_lag_p99_ms": _round(pct(results.loop_lag[phase], 0.99)),
               "pg_active_backends_mean": round(sum(counts.values()) / samples, 1)
               if samples else None,
               "pg_waits": {k: round(v / sum(counts.values()), 2)
                            for k, v in counts.most_common(6)} if counts else {}}
        for kind in KINDS:
            values = results.latencies[(phase, kind)]
            row[kind] = {"n": len(values), "per_s": round(len(values) / wall, 1),
                         **{f"p{q}_ms": _round(pct(values, q / 100)) for q in (50, 95, 99)},
                         "max_ms": _round(max(values) * 1000 if values else None)}
        report["phases"][phase] = row
    return report


def _exactly_once(stored: list[str], results: Results) -> dict:
    """Every acknowledged packet stored, none twice, none the terminals never sent; a packet
    whose answer was lost (a timeout) may be stored unacknowledged: its retry is answered 200."""
    rows = set(stored)
    return {"acknowledged_missing": len(results.acknowledged - rows),
            "stored_twice": len(stored) - len(rows),
            "stored_not_sent": len(rows - results.attempted),
            "stored_answer_lost": len(rows - results.acknowledged),
            "ok": not (results.acknowledged - rows) and len(stored) == len(rows)
            and not rows - results.attempted}


def _round(value):
    return None if value is None else round(value, 1)


def print_report(r: dict) -> None:
    print(f"\n== {r['terminals']} terminals, {r['config']} (enrolled in {r['enrol_s']} s) ==")
    print(f"{'phase':7s} {'wall s':>6s} {'req/s':>6s}  {'intake n  /s   p50   p95   p99 ms':34s}"
          f"  {'heartbeat n  /s  p50  p95  p99 ms':34s}")
    for phase, row in r["phases"].items():
        cells = []
        for kind in KINDS:
            k = row[kind]
            cells.append(f"{k['n']:6d} {k['per_s']:5.1f} " + " ".join(
                f"{k[f'p{q}_ms']:5.0f}" if k[f"p{q}_ms"] is not None else "    -"
                for q in (50, 95, 99)))
        print(f"{phase:7s} {row['wall_s']:6.1f} {row['requests_per_s']:6.1f}  "
              f"{cells[0]:34s}  {cells[1]:34s}")
    for phase, row in r["phases"].items():
        pg = (f"; PostgreSQL {row['postgres_cores']:.2f} cores, peak {row['postgres_peak_pss_mib']}"
              f" MiB" if "PostgreSQL" in r["config"] else "")
        print(f"  {phase}: server {row['server_cores']:.2f} cores, peak "
              f"{row['server_peak_pss_mib']} MiB PSS{pg}; client {row['client_cores']:.2f} cores"
              f" (event-loop lag p99 {row['client_loop_lag_p99_ms']} ms); whole machine "
              f"{row['machine_busy_cores']:.2f} cores busy, {row['machine_iowait_cores']:.2f} "
              f"in iowait")
        if row["pg_wal_syncs_per_s"] is not None:
            waits = ", ".join(f"{k} {v:.0%}" for k, v in row["pg_waits"].items()) or "none seen"
            print(f"    PostgreSQL: {row['pg_commits_per_request']} commits a request, "
                  f"{row['pg_wal_syncs_per_s']} WAL fsyncs/s; {row['pg_active_backends_mean']} "
                  f"active backends on average, they were: {waits}")
    once = r["exactly_once"]
    print(f"  packets: {r['answered_201']} answered 201, {r['duplicates_200']} answered 200 "
          f"(retries), {r['dead']} refused; the database holds {r['stored_packets']}: "
          + ("every acknowledged one, once" if once["ok"] else f"WRONG {once}")
          + (f" ({once['stored_answer_lost']} stored whose answer the terminal never got)"
             if once["stored_answer_lost"] else "")
          + f"; backlog not drained: {r['backlog_left']}")
    print("  errors: " + (", ".join(f"{k}: {v}" for k, v in r["errors"].items()) or "none"))
    print("  server log: " + ("; ".join(f"{k} x{v}" for k, v in r["server_log"].items())
                              or "no warning or error"))


def print_ratio(base: dict, other: dict) -> None:
    print(f"\n-- {other['terminals']} terminals: {other['config']} / {base['config']} --")
    for phase in PHASES:
        b, o = base["phases"][phase], other["phases"][phase]
        parts = []
        for kind in KINDS:
            for q in (50, 99):
                x, y = b[kind][f"p{q}_ms"], o[kind][f"p{q}_ms"]
                if x and y:
                    parts.append(f"{kind} p{q} {y / x:.2f}x")
        rate = o["intake"]["per_s"] / b["intake"]["per_s"] if b["intake"]["per_s"] else None
        drain = b["wall_s"] / o["wall_s"] if phase == "burst" and o["wall_s"] else None
        print(f"  {phase}: latency " + ", ".join(parts) + (
            f"; intake packets/s {rate:.2f}x" if rate else "") +
            (f"; drain {drain:.2f}x as fast" if drain else ""))
    errors = sum(base["errors"].values()), sum(other["errors"].values())
    print(f"  errors: {errors[0]} vs {errors[1]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--terminals", default="500,2000", help="comma-separated N")
    parser.add_argument("--configs", default="sqlite,postgresql")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--steady-s", type=float, default=60)
    parser.add_argument("--app-interval-s", type=float, default=180)
    parser.add_argument("--backlog", type=int, default=3)
    parser.add_argument("--burst-max-s", type=float, default=300)
    parser.add_argument("--diagnose-async-commit", action="store_true")
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--keepalive-expiry-s", type=float, default=KEEPALIVE_S,
                        help="client side; default the uploader's (uvicorn closes idle "
                        "connections after 5 s; 5 = httpx's default, the uploader's before)")
    parser.add_argument("--json", type=Path, help="also write the report here")
    args = parser.parse_args()
    sizes = [int(n) for n in args.terminals.split(",")]
    configs = args.configs.split(",")

    from backoffice.services import Services
    from backoffice.settings import Settings
    with tempfile.TemporaryDirectory(prefix="fleet-bench-") as tmp:
        root = Path(tmp)
        key_dir = root / "keys"
        Services.start(Settings.for_data_dir(key_dir, database_url="sqlite://")).db.dispose()
        started = time.monotonic()
        (root / "packets").mkdir()
        fleet = make_fleet(max(sizes), args.steady_s, args.app_interval_s, args.backlog,
                           key_dir, root / "packets", args.seed)
        count = sum(len(t.steady) + len(t.backlog) for t in fleet)
        size = sum(p.stat().st_size for p in (root / "packets").glob("*.sealed")) / count
        print(f"sealed {count} packets ({size / 1024:.0f} KiB each on average) for {len(fleet)} "
              f"terminals in {time.monotonic() - started:.0f} s; {os.cpu_count()} cores; "
              f"serve --workers: {'yes' if serve_has_workers() else 'no'}")
        template = heartbeat_template(load_recipient(key_dir))
        cluster = None
        if "postgresql" in configs:
            from tests.kit.postgres import PostgresCluster
            cluster = PostgresCluster(max_connections=400)
        reports = []
        try:
            for n in sizes:
                runs = [(c, {}) for c in configs]
                if args.diagnose_async_commit and cluster and n == max(sizes):
                    runs.append(("postgresql", {"synchronous_commit": "off"}))
                by_config = {}
                for config, pg_settings in runs:
                    name = f"{config}-{n}" + ("-async" if pg_settings else "")
                    backoffice = BackOffice(
                        name, root / "data", key_dir,
                        workers=args.workers if config == "postgresql" else 1,
                        cluster=cluster if config == "postgresql" else None,
                        pg_settings=pg_settings)
                    report = measure(backoffice, fleet[:n], template, args)
                    if pg_settings:
                        report["config"] += " [DIAGNOSTIC: synchronous_commit=off]"
                    print_report(report)
                    reports.append(report)
                    by_config[name] = report
                base = by_config.get(f"sqlite-{n}")
                for name, report in by_config.items():
                    if base and report is not base:
                        print_ratio(base, report)
        finally:
            if cluster:
                cluster.stop()
        if args.json:
            args.json.write_text(json.dumps({"args": vars(args) | {"json": str(args.json)},
                                             "runs": reports}, indent=2))


if __name__ == "__main__":
    main()
