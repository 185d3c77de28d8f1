"""The simulated terminals of benchmarks/fleet_load.py: one asyncio task per terminal, each
behaving as kiosk/link/uploader.py `Uploader.run` does, on its own HTTP connection.

A terminal's loop: a heartbeat when one is due (every `HEARTBEAT_S`, the first at
i/N x 30 s into the run so the fleet's heartbeats are spread evenly), then drain its queue
oldest first, one packet at a time, then sleep until the next thing is due. Requests are
signed with protocol/signing.py `sign_request` over the URL's path and body, with the
uploader's headers (`Idempotency-Key` = packet id, `Content-Type`) and timeouts (30 s,
connect 5 s). What the back office answers is acted on as the uploader acts: 200/201
delivered; 401/408/429/5xx or no answer: the queue waits (5 s doubling, jittered, or until a
heartbeat gets through) and the same packet is tried again; any other 4xx: the packet is dead.
Every refusal and every failed request is counted by its reason (`kiosk.link.answers`).

Phases: `steady` from the start for `steady_s` (heartbeats, applications at their Poisson
times); then `burst`: every terminal finds `backlog` packets queued (the back office is back
after an outage) and drains them as above, heartbeats going on between drains as in the
uploader, until every backlog is delivered or `burst_max_s` has passed. A request belongs to
the phase it was sent in. A ticker measures the client's event-loop lag, so a saturated
client shows in the report instead of passing for server latency.
"""
from __future__ import annotations

import asyncio
import collections
import copy
import datetime as dt
import json
import random
import ssl
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import httpx

from kiosk.link.answers import refusal_reason
from kiosk.link.enrolment import enrol
from kiosk.link.outbox import BACKOFF_BASE_S, BACKOFF_CAP_S
from kiosk.link.uploader import UNREACHABLE_STATUSES
from protocol.packet import read_envelope
from protocol.signing import sign_request

HEARTBEAT_S = 30.0
TIMEOUT = httpx.Timeout(30, connect=5)       # kiosk/link/uploader.py's


@dataclass
class Results:
    """Latencies (s) by (phase, kind), errors by (phase, kind, reason), and the phase clocks."""
    latencies: dict = field(default_factory=lambda: collections.defaultdict(list))
    errors: collections.Counter = field(default_factory=collections.Counter)
    outcomes: collections.Counter = field(default_factory=collections.Counter)
    loop_lag: dict = field(default_factory=lambda: collections.defaultdict(list))
    wall: dict = field(default_factory=dict)
    attempted: set = field(default_factory=set)        # packet ids posted at least once
    acknowledged: set = field(default_factory=set)     # packet ids answered 200 or 201
    backlog_left: int = 0

    def phase_of(self, sent_at: float) -> str:
        return "steady" if sent_at < self.burst_at else "burst"

    burst_at: float = float("inf")


def enrol_all(terminals, tokens: dict[str, str], url_of) -> None:
    """Enrol every terminal through POST /api/v1/terminals/enrol with kiosk/link/enrolment.py's
    `enrol` (what `kiosk provision` does), 16 at a time."""
    with httpx.Client(timeout=TIMEOUT) as http, ThreadPoolExecutor(16) as pool:
        done = pool.map(lambda t: enrol(url_of(t), tokens[t.terminal_id], t.terminal_id,
                                        t.key_dir, http=http), terminals)
        for _ in done:
            pass


class SimulatedTerminal:
    def __init__(self, terminal, base_url: str, template: dict, results: Results,
                 ssl_context: ssl.SSLContext, rng: random.Random, keepalive_expiry_s: float):
        self.t = terminal
        self.base_url = base_url
        self.template = template
        self.results = results
        self.rng = rng
        self.http = httpx.AsyncClient(timeout=TIMEOUT, verify=ssl_context, limits=httpx.Limits(
            max_connections=1, keepalive_expiry=keepalive_expiry_s))
        self.queue: collections.deque = collections.deque()
        self.failures = 0
        self.wait_until = 0.0          # the queue waits for the back office until then

    async def post_signed(self, path: str, body: bytes, content_type: str,
                          extra: dict | None = None) -> httpx.Response:
        headers = sign_request(self.t.signing_key, self.t.terminal_id, "POST", path, body)
        headers.update({"Content-Type": content_type, **(extra or {})})
        return await self.http.post(self.base_url + path, content=body, headers=headers)

    async def request(self, kind: str, path: str, body: bytes, content_type: str,
                      extra: dict | None = None) -> int | None:
        """One timed request; returns the status, None when no answer came."""
        loop = asyncio.get_running_loop()
        phase = self.results.phase_of(loop.time())
        started = time.perf_counter()
        try:
            response = await self.post_signed(path, body, content_type, extra)
        except httpx.HTTPError as exc:
            self.results.errors[(phase, kind, type(exc).__name__)] += 1
            return None
        self.results.latencies[(phase, kind)].append(time.perf_counter() - started)
        if response.status_code not in (200, 201, 204):
            self.results.errors[(phase, kind, refusal_reason(response))] += 1
        return response.status_code

    async def heartbeat(self) -> None:
        payload = copy.deepcopy(self.template)
        payload.update(terminal_id=self.t.terminal_id,
                       at=dt.datetime.now().astimezone().isoformat(timespec="seconds"))
        payload["outbox"]["pending"] = len(self.queue)
        status = await self.request("heartbeat", "/api/v1/heartbeats",
                                    json.dumps(payload).encode("utf-8"), "application/json")
        if status == 204:
            self.wait_until = 0.0            # Outbox.mark_reachable: the queue goes now

    async def drain(self, stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        while self.queue and not stop.is_set() and loop.time() >= self.wait_until:
            path, is_backlog = self.queue[0]
            blob = path.read_bytes()         # the uploader reads the sealed file, too
            packet_id = read_envelope(blob).packet_id
            self.results.attempted.add(packet_id)
            status = await self.request("intake", "/api/v1/packets", blob,
                                        "application/octet-stream",
                                        {"Idempotency-Key": packet_id})
            if status in (200, 201) or (status is not None and status < 500
                                        and status not in UNREACHABLE_STATUSES):
                self.queue.popleft()
                self.failures = 0
                self.results.outcomes[{200: "duplicate", 201: "stored"}.get(status, "dead")] += 1
                if status in (200, 201):
                    self.results.acknowledged.add(packet_id)
                if is_backlog:
                    self.results.backlog_left -= 1
                    if self.results.backlog_left == 0:
                        stop.set()
                continue
            self.failures += 1            # not reached, or failing: the whole queue waits
            delay = min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2 ** (self.failures - 1))
            self.wait_until = loop.time() + delay * self.rng.uniform(0.5, 1.0)
            return

    async def run(self, start: float, first_beat: float, stop: asyncio.Event,
                  burst_at: float, jitter: float) -> None:
        loop = asyncio.get_running_loop()
        steady = collections.deque((start + off, path) for off, path in self.t.steady)
        next_beat = start + first_beat
        backlog_due = burst_at + jitter
        try:
            while not stop.is_set():
                now = loop.time()
                while steady and steady[0][0] <= now:
                    self.queue.append((steady.popleft()[1], False))
                if backlog_due is not None and now >= backlog_due:
                    self.queue.extend((p, True) for p in self.t.backlog)
                    backlog_due = None
                if now >= next_beat:
                    next_beat = now + HEARTBEAT_S
                    await self.heartbeat()
                await self.drain(stop)
                wake = [next_beat] + ([steady[0][0]] if steady else []) + \
                    ([backlog_due] if backlog_due is not None else []) + \
                    ([self.wait_until] if self.queue else [])
                delay = max(min(wake) - loop.time(), 0.0)
                try:
                    await asyncio.wait_for(stop.wait(), timeout=max(delay, 0.001))
                except asyncio.TimeoutError:
                    pass
        finally:
            await self.http.aclose()


async def _ticker(results: Results, stop: asyncio.Event, every_s: float = 0.05) -> None:
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        before = loop.time()
        await asyncio.sleep(every_s)
        results.loop_lag[results.phase_of(loop.time())].append(loop.time() - before - every_s)


async def run_fleet(terminals, url_of, template: dict, steady_s: float, burst_max_s: float,
                    on_phase=None, seed: int = 15, keepalive_expiry_s: float = 5.0) -> Results:
    """Run the fleet through both phases; `on_phase(name)` is called as each starts and with
    "end" (the caller marks server CPU there). `keepalive_expiry_s`: how long an idle
    connection is kept for the next request (httpx's default, 5 s, is what the uploader has)."""
    loop = asyncio.get_running_loop()
    results = Results()
    rng = random.Random(seed)
    ssl_context = ssl.create_default_context()     # one for all clients (http:// uses none)
    sims = [SimulatedTerminal(t, url_of(t), template, results, ssl_context, rng,
                              keepalive_expiry_s) for t in terminals]
    results.backlog_left = sum(len(t.backlog) for t in terminals)
    stop = asyncio.Event()
    start = loop.time() + 1.0
    results.burst_at = start + steady_s
    n = len(sims)
    tasks = [asyncio.create_task(s.run(start, i * HEARTBEAT_S / n, stop, results.burst_at,
                                       rng.uniform(0, 1.0))) for i, s in enumerate(sims)]
    ticker = asyncio.create_task(_ticker(results, stop))
    await asyncio.sleep(max(start - loop.time(), 0))
    on_phase and on_phase("steady")
    await asyncio.sleep(max(results.burst_at - loop.time(), 0))
    on_phase and on_phase("burst")
    if results.backlog_left == 0:
        stop.set()
    try:
        await asyncio.wait_for(stop.wait(), timeout=burst_max_s)
    except asyncio.TimeoutError:
        stop.set()
    results.wall = {"steady": steady_s, "burst": loop.time() - results.burst_at}
    on_phase and on_phase("end")
    await asyncio.gather(*tasks, ticker)
    return results
