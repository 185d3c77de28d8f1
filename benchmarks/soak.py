"""Soak: thousands of whole visits on one terminal, with faults; nothing lost, memory flat.

    python benchmarks/soak.py                      # 10,000 visits
    python benchmarks/soak.py --visits 300 --json soak.json
    python benchmarks/soak.py --minutes 60         # as many visits as fit in an hour

One terminal as in service, all real but its devices: the session, drivers, outbox (sealing,
queue) and face worker of kiosk/app/terminal.py in this process, on the wire-level emulators
(kiosk/app/demo_devices.py: ID-card reader and printer on pseudo-terminals, the reader behind
a stable by-id link as udev makes one, so it can be unplugged and plugged back);
`kiosk-uploader` and `backoffice serve` (SQLite) as their own processes; between them a relay
(benchmarks/soak_link.py) that takes the network down or answers 503/500 on command.

Only waiting shrinks: the session runs on a clock `--scale` times faster than real time
(devices/clock.py), so its idle timeout and end screen pass quickly, and the face camera
emulator runs on a frame clock (`pace=frames`), so a face check costs the frames it analyses
and no more. The faults, their mix and the visits are drawn from `--seed`
(benchmarks/soak_visits.py); every `--kill-every` visits the uploader is killed with SIGKILL
and started again, as systemd would.

It prints (and writes with --json): visits done / refused / abandoned by reason; crashes (any
exception that reached the top of a thread, any error logged with a traceback, the session
thread gone, an uploader that died unasked); packets accepted vs stored by the back office
(lost, doubled, unknown); receipts printed vs packets accepted (every printed case number must
be an accepted packet's); RSS of this process after 100 visits and every 1,000 (the median of
its readings after the last 10 visits), with the Python object kinds that grew; file
descriptors and threads at the start and the end; and where the time went (seconds per
screen). It exits 1 when a target is missed: a crash, a packet lost or
doubled, a receipt without its packet, a visit ended by the idle timeout although its applicant
did not walk away, or RSS more than --rss-slack-mib above its value after 100 visits (only
checked from 1,000 visits on).

Longer than 400 lines because it is one run from the first visit to the report: the visit
with its fault, the run loop with its checkpoints, and the tally the report is made of, each
reading the others' state; the terminal and its network are benchmarks/soak_terminal.py, who
comes and what goes wrong benchmarks/soak_visits.py.
"""
from __future__ import annotations

import argparse
import collections
import contextlib
import datetime as dt
import gc
import json
import logging
import os
import random
import shutil
import signal
import statistics
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import soak_terminal  # noqa: E402
from soak_terminal import TERMINAL_ID, Link, SoakTerminal  # noqa: E402
from soak_visits import (FAULTS, PlannedVisit, SoakApplicant, VisitRecord,  # noqa: E402
                         plan_visits)

log = logging.getLogger("soak")
CHECKPOINT_EVERY = 1000


# ---- what can go wrong, counted ---------------------------------------------------------------
class Crashes:
    """Every exception that reached the top of a thread, and every error logged with a
    traceback, by where it happened (no messages: they could carry a visit's data)."""

    def __init__(self):
        self.seen: collections.Counter = collections.Counter()
        self.errors_logged: collections.Counter = collections.Counter()
        self._previous_hook = threading.excepthook

    def install(self) -> None:
        threading.excepthook = self._thread_died
        handler = logging.Handler(logging.ERROR)
        handler.emit = self._logged
        logging.getLogger().addHandler(handler)

    def _thread_died(self, args) -> None:
        self.seen[f"thread {args.thread.name if args.thread else '?'}: "
                  f"{args.exc_type.__name__} at {_where(args.exc_traceback)}"] += 1

    def _logged(self, record: logging.LogRecord) -> None:
        if record.exc_info:
            self.seen[f"logged traceback {record.name}: {record.exc_info[0].__name__} at "
                      f"{_where(record.exc_info[2])}"] += 1
        else:
            self.errors_logged[f"{record.name}: {record.msg}"] += 1

    def add(self, what: str) -> None:
        self.seen[what] += 1


def _where(tb) -> str:
    frames = traceback.extract_tb(tb) if tb is not None else []
    if not frames:
        return "?"
    last = frames[-1]
    return f"{os.path.relpath(last.filename, REPO)}:{last.lineno}"


class RecentLog(logging.Handler):
    """The terminal's last log records at INFO (the project's logs carry no personal data), with
    the start of each visit marked: what a visit that ended badly is shown with."""

    LINES = 400

    def __init__(self):
        super().__init__(logging.INFO)
        self.lines: collections.deque = collections.deque(maxlen=self.LINES)

    LOGGERS = ("kiosk", "devices", "flows")

    def install(self) -> None:
        self._levels = {name: logging.getLogger(name).level for name in self.LOGGERS}
        for name in self.LOGGERS:
            logging.getLogger(name).setLevel(logging.INFO)
        logging.getLogger().addHandler(self)

    def uninstall(self) -> None:
        logging.getLogger().removeHandler(self)
        for name, level in self._levels.items():
            logging.getLogger(name).setLevel(level)

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.created:.3f} {record.threadName} {record.name} "
                          f"{record.getMessage()}")

    def visit_starts(self, number: int) -> None:
        self.lines.append(f"{time.time():.3f} soak visit {number} starts")

    def since_visit(self, number: int) -> list[str]:
        """The lines from the start of visit `number` on (all that are left, if it is gone)."""
        lines = list(self.lines)
        start = next((i for i, line in enumerate(lines)
                      if line.endswith(f" soak visit {number} starts")), 0)
        return lines[start:]


# ---- the process, measured --------------------------------------------------------------------
def _status(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


IN_FLIGHT_SLACK = 2  # fds or threads a last fault's timer or reopen may hold at the end
RSS_WINDOW = 10     # RSS is taken as the median of the readings after this many visits


RSS_PARTS = ("VmRSS", "RssAnon", "RssFile")


def rss_reading() -> tuple[float, ...]:
    """The RSS in MiB, and its anonymous (heap, arenas, buffers) and file-backed (mapped
    libraries and fonts, pages the kernel can drop and read back) parts."""
    return tuple(_status(field) / 1024 for field in RSS_PARTS)


def worker_rss_mib(pid: int | None) -> float | None:
    """The RSS of another process (the face worker), None when it is not there."""
    try:
        status = Path(f"/proc/{pid}/status").read_text() if pid else ""
    except OSError:
        return None
    line = next((ln for ln in status.splitlines() if ln.startswith("VmRSS:")), None)
    return round(int(line.split()[1]) / 1024, 1) if line else None


def rss_at_rest() -> tuple[float, ...]:
    """`rss_reading()` of the terminal at rest on its attract screen: the soak's own work since
    the wipe (reading the receipts' QR codes, which no terminal does) freed memory that glibc
    would keep resident until the next wipe, so it is handed back first, as the wipe does."""
    from kiosk.app.allocator import release_freed_memory
    release_freed_memory()
    return rss_reading()


def resources(recent_rss=()) -> dict:
    """RSS and its two parts (each the median of `recent_rss`, the readings after the last few
    visits, when given: a single reading moves by several MiB with what the allocator holds,
    the frames the cameras' threads have in flight and which font pages are mapped at that
    moment), the lowest RSS of those readings (what stayed resident at every one of them: a
    leak raises it, a buffer of the moment does not), open file descriptors and threads."""
    readings = list(recent_rss) or [rss_reading()]
    rss, anon, file = (statistics.median(r[i] for r in readings) for i in range(3))
    return {"rss_mib": round(rss, 1), "rss_floor_mib": round(min(r[0] for r in readings), 1),
            "rss_anon_mib": round(anon, 1), "rss_file_mib": round(file, 1),
            "fds": len(os.listdir("/proc/self/fd")),
            "python_threads": threading.active_count(), "os_threads": _status("Threads")}


def object_counts() -> collections.Counter:
    gc.collect()
    return collections.Counter(type(o).__qualname__ for o in gc.get_objects())


# ---- one visit --------------------------------------------------------------------------------
def run_visit(kiosk: SoakTerminal, link: Link, plan: PlannedVisit, rng: random.Random,
              timeout: float) -> VisitRecord:
    from kiosk.visit import intents as I
    from kiosk.visit.scripted_applicant import drive_intent, wait_for_attract

    record = VisitRecord(plan.number, plan.matter, plan.fault, outcome="stuck",
                         language=plan.language, elder=plan.elder)
    kiosk.accepted.visit = []
    # the applicant stands before the camera (a fault card of the scenario has no photo of its
    # own: the person is the holder of the healthy card) and lays the card on the reader when
    # the ID-card screen asks for it
    kiosk.show_person(plan.good_card)
    card_laid = []
    undo = _inject(kiosk, link, plan, rng)
    pilot = SoakApplicant(plan, on_card_error=lambda _reason: kiosk.demo.place_card(
        plan.good_card) if kiosk.demo.current_card != plan.good_card else None)
    screens = record.screens
    last = [None, time.monotonic()]

    def watch(snap) -> None:
        now = time.monotonic()
        if last[0] is not None:
            screens[last[0]] = screens.get(last[0], 0.0) + now - last[1]
        last[0], last[1] = snap.screen, now
        if snap.screen == "id_card" and not card_laid:
            kiosk.demo.place_card(plan.card)
            card_laid.append(plan.card)
        if pilot.ended(snap) or pilot.left:
            kiosk.demo.remove_card()        # the applicant takes the card along

    started = time.monotonic()
    intents = [I.SetLanguage(plan.language), I.SetElderMode(plan.elder),
               I.StartVisit(plan.matter)]
    try:
        drive_intent(kiosk.session, pilot, intents, timeout=timeout, on_snapshot=watch)
        record.outcome = pilot.outcome if pilot.outcome in ("done", "refused", "abandoned") \
            else "refused" if pilot.outcome == "help" else str(pilot.outcome)
        record.reason = pilot.reason_key
        shown = [name for name in pilot.screens if name not in ("done", "refused", "help")]
        if record.outcome != "done" and shown:
            record.reason = f"{record.reason} (on {shown[-1]})"
    except TimeoutError as exc:
        record.reason = str(exc)
    finally:
        kiosk.demo.remove_card()
        if not wait_for_attract(kiosk.session, timeout):
            raise TimeoutError("the terminal did not come back to the attract screen")
        for restore in undo:
            restore()
        if undo:
            record.not_recovered = kiosk.until_healthy()
    record.seconds = time.monotonic() - started
    record.packets = kiosk.accepted.visit
    record.receipts = kiosk.receipts()
    return record


def _inject(kiosk: SoakTerminal, link: Link, plan: PlannedVisit, rng) -> list:
    """Start the visit's fault; returns what puts things right after the visit."""
    fault = plan.fault
    printer = kiosk.demo.printer
    if fault in ("paper_near_end", "cover_open"):
        printer.set_state("near_end" if fault == "paper_near_end" else "cover_open")
        return [lambda: printer.set_state("ok")]
    if fault == "paper_out":
        printer.run_out_after(rng.randint(50, 600))
        return [lambda: printer.set_state("ok")]
    if fault == "reader_unplugged":
        kiosk.unplug_reader()
        return [kiosk.plug_reader_back]
    if fault == "camera_gone":
        kiosk.unplug_camera()
        return [lambda: kiosk.show_person(plan.good_card)]
    if fault == "blurred_pages":
        kiosk.blur_next_page(True)
        return [lambda: kiosk.blur_next_page(False)]
    if fault == "network_down":
        link.down_for(rng.uniform(1.0, 5.0))
    elif fault == "backoffice_5xx":
        link.command(f"status {rng.choice((500, 503))} {rng.randint(1, 6)}")
    elif fault == "disk_full":
        kiosk.disk_nearly_full(True)
        return [lambda: kiosk.disk_nearly_full(False)]
    return []


# ---- the run ----------------------------------------------------------------------------------
def wait_while_paused(pause_file: Path | None) -> float:
    """Between two visits, while `pause_file` exists (another heavy job needs the machine):
    the terminal stays on its attract screen, as at night; returns the seconds waited."""
    if pause_file is None or not pause_file.exists():
        return 0.0
    log.warning("soak: paused while %s exists", pause_file)
    began = time.monotonic()
    while pause_file.exists():
        time.sleep(1)
    log.warning("soak: going on after %.0f s", time.monotonic() - began)
    return time.monotonic() - began


def soak(args) -> dict:
    from tests.kit.terminal_processes import (BackofficeProcess, UploaderProcess,
                                              outbox_status, wait_drained)
    from kiosk.app.allocator import steady_allocator
    steady_allocator()          # as `kiosk run` does
    crashes = Crashes()
    crashes.install()
    recent_log = RecentLog()
    recent_log.install()
    work = Path(tempfile.mkdtemp(prefix="kiosk-soak-"))
    report: dict = {"visits_planned": args.visits, "seed": args.seed, "scale": args.scale}
    stack = contextlib.ExitStack()
    stack.callback(shutil.rmtree, work, True)
    with stack:
        backoffice = BackofficeProcess(work / "backoffice").start()
        stack.callback(backoffice.stop)
        link = Link(work, backoffice.port)
        stack.callback(link.close)
        kiosk = SoakTerminal(work, backoffice, args.scale)
        stack.callback(kiosk.close)
        uploader = UploaderProcess(kiosk.state_dir, link.url, TERMINAL_ID).start()
        stack.callback(uploader.stop)
        plans = plan_visits(kiosk.catalog, kiosk.demo.cards, args.visits, args.seed,
                            args.fault_rate, faults=tuple(args.faults.split(",")))
        rng = random.Random(args.seed + 1)
        if args.baseline_visits:
            report["baseline"] = baseline(work, backoffice, kiosk, link, args)
        tally = Tally(work / "receipts.tsv")
        memory: list[dict] = []
        start_resources = resources()
        recent_rss: collections.deque = collections.deque(maxlen=RSS_WINDOW)
        baseline_objects = None
        traced = TracedMemory(args.trace_memory)
        started = time.monotonic()
        deadline = started + args.minutes * 60 if args.minutes else None
        paused = 0.0
        for plan in plans:
            paused += wait_while_paused(args.pause_file)
            if deadline is not None and time.monotonic() - paused > deadline:
                break
            if args.kill_every and plan.number and plan.number % args.kill_every == 0:
                uploader.kill()
                uploader.start()
            elif not uploader.alive():
                crashes.add(f"uploader exited by itself (code {uploader.proc.returncode})")
                uploader.start()
            recent_log.visit_starts(plan.number)
            record = run_visit(kiosk, link, plan, rng, args.visit_timeout)
            tally.add(record)
            tally.keep_log(record, recent_log)
            recent_rss.append(rss_at_rest())
            done = tally.visits
            if done == min(100, args.checkpoint_every) or done % args.checkpoint_every == 0:
                objects = object_counts()
                if baseline_objects is None:
                    baseline_objects = objects
                memory.append({"visits": done, **resources(recent_rss),
                               "rss_reading_mib": round(recent_rss[-1][0], 1),
                               "face_worker_rss_mib": worker_rss_mib(
                                   getattr(kiosk.terminal.face_verifier, "worker_pid", None)),
                               "grew": _grew(baseline_objects, objects),
                               **traced.compare()})
                log.warning("soak: %d visits, %s", done, memory[-1])
                if args.json:       # how far a long run got, should it be stopped before the end
                    write_progress(args.json, tally, crashes, memory, started + paused,
                                   uploader.kills)
        report["wall_s"] = round(time.monotonic() - started - paused, 1)
        report["paused_s"] = round(paused, 1)
        end_resources = resources(recent_rss)
        if not kiosk.session._thread.is_alive():
            crashes.add("the session thread is gone")
        # everything up again: the outbox must drain to the back office
        link.command("up")
        link.command("status 503 0")
        kiosk.disk_nearly_full(False)
        if not uploader.alive():
            uploader.start()
        drained = wait_drained(kiosk.state_dir, args.drain_timeout)
        report["outbox"] = outbox_status(kiosk.state_dir) | {"drained": bool(drained)}
        report["uploader_kills"] = uploader.kills
        stored = stored_packets(backoffice.data_dir)
        report.update(tally.summary(kiosk.accepted.all(), stored, crashes, memory,
                                    start_resources, end_resources))
    return report


def baseline(work: Path, backoffice, kiosk: SoakTerminal, link: Link, args) -> dict:
    """The same fault-free visits on a terminal of its own on real time (the naive way: the
    session on the real clock, the face camera paced by it), then on the soak's terminal; mean
    seconds of each and the ratio. The baseline terminal is closed before the soak starts."""
    plans = plan_visits(kiosk.catalog, kiosk.demo.cards, args.baseline_visits, args.seed + 2,
                        0.0)
    real = SoakTerminal(work / "baseline", backoffice, 1.0, "SOAK-BASELINE", real_time=True)
    means = {}
    try:
        for name, terminal in (("real_time_s", real), ("soak_s", kiosk)):
            took = [run_visit(terminal, link, plan, random.Random(0), args.visit_timeout)
                    for plan in plans]
            if any(r.outcome != "done" for r in took):
                raise RuntimeError(f"a baseline visit did not end well: "
                                   f"{[(r.matter, r.outcome, r.reason) for r in took]}")
            means[name] = round(sum(r.seconds for r in took) / len(took), 2)
    finally:
        real.close()
    return {"visits": len(plans), **means,
            "speedup": round(means["real_time_s"] / means["soak_s"], 1)}


class TracedMemory:
    """--trace-memory: where the allocations that grew since the first checkpoint were made
    (tracemalloc; it slows everything down, so it is for finding a leak, not for figures)."""

    def __init__(self, on: bool):
        import tracemalloc
        self.on, self.first = on, None
        if on:
            tracemalloc.start(8)

    def compare(self) -> dict:
        import tracemalloc
        if not self.on:
            return {}
        snap = tracemalloc.take_snapshot().filter_traces(
            [tracemalloc.Filter(False, tracemalloc.__file__)])
        if self.first is None:
            self.first = snap
            return {}
        top = snap.compare_to(self.first, "traceback")[:6]
        return {"allocated_since_first": [
            {"kib": round(d.size_diff / 1024), "count": d.count_diff,
             "where": [f"{os.path.relpath(f.filename, REPO)}:{f.lineno}"
                       for f in d.traceback[-4:]]} for d in top]}


def _grew(before: collections.Counter, after: collections.Counter, top: int = 8) -> dict:
    grown = {k: after[k] - before.get(k, 0) for k in after if after[k] > before.get(k, 0)}
    return dict(sorted(grown.items(), key=lambda kv: -kv[1])[:top])


def stored_packets(data_dir: Path) -> list[tuple]:
    """(packet_id, kind, case_number) of every packet the back office stored."""
    import sqlite3
    db = sqlite3.connect(f"file:{data_dir / 'backoffice.db'}?mode=ro", uri=True, timeout=30)
    try:
        return list(db.execute("SELECT packet_id, kind, case_number FROM packets "
                               "WHERE terminal_id = ?", (TERMINAL_ID,)))
    finally:
        db.close()


class Tally:
    """What the visits came to, counted as they end (a list of 10,000 visit records would be
    growth of its own in the process the soak measures); a few examples of visits that did not
    end well are kept: the first EXAMPLES_PER_REASON of each reason (a bounded number of
    reasons), and of the stray receipts the first EXAMPLES."""

    EXAMPLES = 30
    EXAMPLES_PER_REASON = 3

    def __init__(self, receipts_path: Path):
        self.visits = 0
        self.outcomes: collections.Counter = collections.Counter()
        self.reasons: collections.Counter = collections.Counter()
        self.faults: collections.Counter = collections.Counter()
        self.screens: collections.Counter = collections.Counter()
        self.seconds = 0.0
        self.printed = self.applications = 0
        self.examples: list[dict] = []
        self.matters: collections.Counter = collections.Counter()
        self.modes: collections.Counter = collections.Counter()
        self.not_recovered: collections.Counter = collections.Counter()
        self.timed_out_while_acting = 0   # idle timeouts of applicants who did not walk away
        self.timed_out_logs: list[dict] = []   # the log of the first few, from the visit before
        self.receipts_path = receipts_path

    def add(self, r: VisitRecord) -> None:
        self.visits += 1
        self.matters[r.matter] += 1
        self.modes[f"{r.language}{' elder' if r.elder else ''}"] += 1
        self.outcomes[r.outcome] += 1
        if r.outcome != "done":
            reason = f"{r.outcome}: {r.reason}"
            self.reasons[reason] += 1
            if self.reasons[reason] <= self.EXAMPLES_PER_REASON:
                self.examples.append({"visit": r.number, "matter": r.matter, "fault": r.fault,
                                      "language": r.language, "elder": r.elder,
                                      "outcome": r.outcome, "reason": r.reason,
                                      "seconds_by_screen": {k: round(v, 2)
                                                            for k, v in r.screens.items()}})
        if r.fault:
            self.faults[f"{r.fault}: {r.outcome}"] += 1
        if self.timed_out_while_acting_in(r):
            self.timed_out_while_acting += 1
        self.screens.update(r.screens)
        self.seconds += r.seconds
        self.applications += sum(1 for kind, _id, _case in r.packets if kind == "application")
        self.printed += len(r.receipts)
        with open(self.receipts_path, "a", encoding="utf-8") as out:
            out.writelines(f"{r.number}\t{r.fault or ''}\t{case}\n" for case in r.receipts)
        for slot in r.not_recovered:
            self.not_recovered[slot] += 1

    @staticmethod
    def timed_out_while_acting_in(r: VisitRecord) -> bool:
        return bool(r.reason and r.reason.startswith("idle.") and r.fault != "walk_away")

    def keep_log(self, r: VisitRecord, recent: RecentLog) -> None:
        """For the first few visits that timed out although their applicant was acting, the
        terminal's log from the start of the visit before."""
        if self.timed_out_while_acting_in(r) and \
                len(self.timed_out_logs) < self.EXAMPLES_PER_REASON:
            self.timed_out_logs.append({"visit": r.number,
                                        "log": recent.since_visit(r.number - 1)})

    def stray_receipts(self, accepted) -> tuple[int, list[dict]]:
        """Printed receipts whose case number (read off the paper) is no accepted application's,
        and a few of them. Checked against every packet of the run, at the end: a receipt still
        being printed when its visit was cancelled is cut during the next visit."""
        cases = {case for kind, _id, case in accepted if kind == "application"}
        strays = []
        if self.receipts_path.exists():
            for line in self.receipts_path.read_text(encoding="utf-8").splitlines():
                visit, fault, case = line.split("\t")
                if case not in cases:
                    strays.append({"visit": int(visit), "fault": fault or None,
                                   "printed": case})
        return len(strays), strays[:self.EXAMPLES]

    def counts(self, crashes: Crashes) -> dict:
        """What the visits so far came to (the progress file at each checkpoint, and the
        report's first part)."""
        return {
            "visits": self.visits, "outcomes": dict(self.outcomes),
            "matters_visited": len(self.matters), "languages_and_modes": dict(self.modes),
            "not_done_by_reason": dict(self.reasons.most_common()),
            "idle_timeouts_while_acting": self.timed_out_while_acting,
            "idle_timeout_logs": self.timed_out_logs,
            "faults": dict(sorted(self.faults.items())), "not_done_examples": self.examples,
            "crashes": dict(crashes.seen), "errors_logged": dict(crashes.errors_logged),
            "devices_not_recovered": dict(self.not_recovered),
            "mean_visit_s": round(self.seconds / max(self.visits, 1), 3)}

    def summary(self, accepted, stored, crashes: Crashes, memory, start, end) -> dict:
        accepted_ids = collections.Counter(p[1] for p in accepted)
        stored_ids = collections.Counter(p[0] for p in stored)
        cases = collections.Counter(p[2] for p in stored if p[1] == "application")
        rss100 = next((m["rss_mib"] for m in memory if m["visits"] == 100), None)
        strays, stray_examples = self.stray_receipts(accepted)
        return {
            **self.counts(crashes),
            "packets": {"accepted": len(accepted_ids), "stored": len(stored_ids),
                        "lost": len(set(accepted_ids) - set(stored_ids)),
                        "unknown_stored": len(set(stored_ids) - set(accepted_ids)),
                        "doubled": sum(n - 1 for n in stored_ids.values() if n > 1)
                        + sum(n - 1 for n in cases.values() if n > 1)
                        + sum(n - 1 for n in accepted_ids.values() if n > 1)},
            "receipts": {"printed": self.printed, "applications_accepted": self.applications,
                         "without_packet": strays, "without_packet_examples": stray_examples},
            "memory": memory, "rss_after_100_mib": rss100,
            "rss_end_mib": end["rss_mib"], "rss_floor_end_mib": end["rss_floor_mib"],
            "start": start, "end": end,
            "seconds_by_screen": {k: round(v, 1) for k, v in self.screens.most_common()}}


def write_progress(report_path: Path, tally: Tally, crashes: Crashes, memory: list,
                   started: float, kills: int) -> None:
    """At each checkpoint, REPORT.progress.json: the counts so far (packets are compared only
    at the end, once the outbox has drained)."""
    progress = {**tally.counts(crashes), "wall_s": round(time.monotonic() - started, 1),
                "uploader_kills": kills, "receipts_printed": tally.printed, "memory": memory}
    path = report_path.with_suffix(".progress.json")
    path.write_text(json.dumps(progress, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


def targets_missed(report: dict, rss_slack_mib: float) -> list[str]:
    missed = []
    if report["crashes"]:
        missed.append("crashes")
    if report["outcomes"].get("stuck"):
        missed.append("visits stuck")
    p = report["packets"]
    if p["lost"] or p["doubled"] or p["unknown_stored"]:
        missed.append("packets lost or doubled")
    if report["receipts"]["without_packet"]:
        missed.append("a receipt without its packet")
    if report["idle_timeouts_while_acting"]:
        missed.append("visits ended by the idle timeout although the applicant was acting")
    if report["devices_not_recovered"]:
        missed.append("a device did not come back after its fault")
    if not report["outbox"]["drained"] or report["outbox"]["dead"]:
        missed.append("outbox not drained")
    for what in ("fds", "python_threads", "os_threads"):    # one of the moment's may be open
        if report["end"][what] > report["start"][what] + IN_FLIGHT_SLACK:
            missed.append(f"{what} grew from {report['start'][what]} to {report['end'][what]}")
    rss100 = report["rss_after_100_mib"]
    if report["visits"] >= 1000 and rss100 is not None and \
            report["rss_end_mib"] > rss100 + rss_slack_mib:
        missed.append(f"RSS grew {report['rss_end_mib'] - rss100:.1f} MiB after visit 100")
    return missed


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--visits", type=int, default=10_000)
    parser.add_argument("--minutes", type=float, default=None,
                        help="stop starting visits after this long")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--fault-rate", type=float, default=0.3,
                        help="share of visits with a fault")
    parser.add_argument("--faults", default=",".join(FAULTS),
                        help="the fault kinds to draw from, comma-separated (default: all)")
    parser.add_argument("--scale", type=float, default=20.0,
                        help="how much faster than real time the session's clock runs; a "
                             "device step's work looks this much longer to it, so at 20 a "
                             "3 s face check is 60 s, within the 90 s idle limit")
    parser.add_argument("--kill-every", type=int, default=250,
                        help="kill -9 the uploader every this many visits (0: never)")
    parser.add_argument("--visit-timeout", type=float, default=60.0)
    parser.add_argument("--drain-timeout", type=float, default=600.0)
    parser.add_argument("--rss-slack-mib", type=float, default=5.0)
    parser.add_argument("--checkpoint-every", type=int, default=CHECKPOINT_EVERY,
                        help="measure memory after this many visits, and every as many")
    parser.add_argument("--trace-memory", action="store_true",
                        help="also say where the memory that grew was allocated (slow)")
    parser.add_argument("--baseline-visits", type=int, default=3,
                        help="first run this many fault-free visits on the camera's real time "
                             "and again on the soak's frame clock, for the speed-up ratio")
    parser.add_argument("--unreadable-receipts", type=Path,
                        help="save printed receipts whose QR code cannot be read in this folder")
    parser.add_argument("--pause-file", type=Path,
                        help="between visits, wait while this file exists (not counted in the "
                             "wall time)")
    parser.add_argument("--json", type=Path, help="write the report here too")
    args = parser.parse_args(argv)
    soak_terminal.UNREADABLE_DIR = args.unreadable_receipts
    # SIGTERM (kill, a CI timeout) unwinds like Ctrl+C: the back office, uploader and relay
    # processes are stopped and the soak's folder removed
    signal.signal(signal.SIGTERM, lambda signum, _frame: sys.exit(128 + signum))
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s "
                        "%(message)s")
    for handler in logging.getLogger().handlers:   # INFO is kept in memory (RecentLog), not printed
        handler.setLevel(logging.WARNING)
    report = soak(args)
    report["date"] = dt.date.today().isoformat()
    report["targets_missed"] = targets_missed(report, args.rss_slack_mib)
    text = json.dumps(report, ensure_ascii=False, indent=1)
    print(text)
    if args.json:
        args.json.write_text(text + "\n", encoding="utf-8")
    return 1 if report["targets_missed"] else 0


if __name__ == "__main__":
    sys.exit(main())
