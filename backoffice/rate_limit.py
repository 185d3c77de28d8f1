"""Per-address rate limits on the back office's unauthenticated routes (a token bucket each).

Which routes (`group_of`), by method and path, whoever asks:

| group      | routes                                                              |
|------------|---------------------------------------------------------------------|
| `progress` | GET /progress/{case}, GET /api/v1/cases/{case}/progress             |
| `login`    | POST /console/login                                                 |
| `enrol`    | POST /api/v1/terminals/enrol                                        |
| `public`   | GET / , GET /console/login, /docs, /redoc, /openapi.json (when on)  |

Everything else needs a signed request (a terminal) or a console session; its own checks come
first. Static files are not limited (the console's pages load them).

Each group has, per client address, a bucket of `burst` requests refilled at `per_minute`;
an empty bucket answers 429 with `Retry-After` (whole seconds until one request is allowed)
and the reason key `backoffice.rate_limited` (JSON under /api/, a short text page elsewhere),
before the application reads the request's body. Limits come from the setting `rate_limits`
(`BACKOFFICE_RATE_LIMITS`), e.g. "progress=30:30,login=10:10" (requests per minute : burst);
a group not named keeps its default, `group=0` turns it off, "off" turns all off
(`parse_limits`, in settings.py with the other settings' checks).

The client address is the connection's peer as uvicorn reports it: behind a reverse proxy,
start uvicorn with proxy headers from that proxy only (`--proxy-headers`,
`--forwarded-allow-ips`), or every client shares the proxy's address and its limit.
The buckets live in this process's memory (at most `rate_limit_addresses` per group, the
least recently seen dropped first; a bucket that has filled up again is forgotten): several
back-office processes or hosts each keep their own, so the limit a client meets is per
process. The login guard (login_guard.py) keeps its own per-account and per-address counts
of failed logins in the database; the two are independent. Logs name the group and how many
were refused (one line a minute at most), never the address.
"""
from __future__ import annotations

import logging
import math
import re
import threading
import time
from collections import OrderedDict
from typing import Callable

from backoffice.settings import Limit

log = logging.getLogger(__name__)

REASON = "backoffice.rate_limited"
_RULES = (
    ("GET", re.compile(r"^/progress/[^/]*/?$"), "progress"),
    ("GET", re.compile(r"^/api/v1/cases/[^/]*/progress/?$"), "progress"),
    ("POST", re.compile(r"^/console/login/?$"), "login"),
    ("POST", re.compile(r"^/api/v1/terminals/enrol/?$"), "enrol"),
    ("GET", re.compile(r"^/(?:console/login/?|docs|redoc|openapi\.json)?$"), "public"),
)


def group_of(method: str, path: str) -> str | None:
    for rule_method, pattern, group in _RULES:
        if method in (rule_method, "HEAD" if rule_method == "GET" else rule_method) \
                and pattern.match(path):
            return group
    return None


class TokenBuckets:
    """One bucket per address: `take(address)` is 0.0 when a request may pass, else the
    seconds until one may."""

    def __init__(self, limit: Limit, max_addresses: int = 10_000,
                 clock: Callable[[], float] = time.monotonic):
        self.rate = limit.per_minute / 60.0
        self.burst = float(limit.burst)
        self.max_addresses = max(int(max_addresses), 1)
        self.clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # tokens, at
        self._lock = threading.Lock()

    def take(self, address: str) -> float:
        with self._lock:
            now = self.clock()
            tokens, at = self._buckets.pop(address, (self.burst, now))
            tokens = min(self.burst, tokens + (now - at) * self.rate)
            wait = 0.0 if tokens >= 1.0 else (1.0 - tokens) / self.rate
            self._buckets[address] = (tokens - 1.0 if not wait else tokens, now)
            self._prune(now)
            return wait

    def _prune(self, now: float) -> None:
        """Forget the least recently seen addresses beyond the cap, and those whose bucket
        is full again (forgetting them changes nothing)."""
        while len(self._buckets) > self.max_addresses:
            self._buckets.popitem(last=False)
        full_after = self.burst / self.rate
        while self._buckets:
            _address, (_tokens, at) = next(iter(self._buckets.items()))
            if now - at < full_after:
                break
            self._buckets.popitem(last=False)

    def __len__(self) -> int:
        return len(self._buckets)


class RateLimitMiddleware:
    """ASGI middleware: refuses a request of a limited group over its address's limit with
    429, before the application (or anything reading the body) sees it."""

    LOG_EVERY_S = 60.0      # one INFO line per group and minute, with the count refused

    def __init__(self, app, limits: dict[str, Limit], max_addresses: int = 10_000):
        self.app = app
        self.buckets = {group: TokenBuckets(limit, max_addresses)
                        for group, limit in limits.items()}
        self._refused = {group: 0 for group in limits}
        self._logged_at = {group: float("-inf") for group in limits}

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or not self.buckets:
            return await self.app(scope, receive, send)
        group = group_of(scope.get("method", ""), scope.get("path", ""))
        buckets = self.buckets.get(group) if group else None
        if buckets is None:
            return await self.app(scope, receive, send)
        address = (scope.get("client") or ("unknown",))[0] or "unknown"
        wait = buckets.take(str(address))
        if not wait:
            return await self.app(scope, receive, send)
        self._log_refusal(group)
        await _too_many(scope, send, math.ceil(wait))

    def _log_refusal(self, group: str) -> None:
        self._refused[group] += 1
        now = time.monotonic()
        if now - self._logged_at[group] >= self.LOG_EVERY_S:
            log.info("rate limited group=%s refused=%d", group, self._refused[group])
            self._refused[group], self._logged_at[group] = 0, now


async def _too_many(scope, send, retry_after: int) -> None:
    if scope.get("path", "").startswith("/api/"):
        body = ('{"error":"%s","detail":"too many requests from this address; retry after %d s"}'
                % (REASON, retry_after)).encode()
        media = b"application/json"
    else:
        body = (f"请求过于频繁，请 {retry_after} 秒后再试。\n"
                f"Too many requests; please try again in {retry_after} s. ({REASON})\n").encode()
        media = b"text/plain; charset=utf-8"
    await send({"type": "http.response.start", "status": 429,
                "headers": [(b"content-type", media), (b"retry-after", str(retry_after).encode()),
                            (b"content-length", str(len(body)).encode()),
                            (b"cache-control", b"no-store")]})
    await send({"type": "http.response.body", "body": body})
