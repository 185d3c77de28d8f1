"""Signed terminal requests (kiosk-request/1), shared by terminal and back office.

`sign_request` gives the X-Terminal-Id/X-Timestamp/X-Nonce/X-Signature headers of one HTTP
request (Ed25519 over method, path, timestamp, nonce and the body's SHA-256);
`verify_request` checks them on the back office, with `NonceCache` refusing replays.
"""
from __future__ import annotations

import base64
import hashlib
import secrets
import time
from collections import OrderedDict

import nacl.exceptions
import nacl.signing

REQUEST_CONTEXT = "kiosk-request/1"


class RequestRejected(Exception):
    """A signed request that must be refused; `reason` is one of missing_headers, bad_signature,
    stale_timestamp, replayed."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.reason_key = f"request.{reason}"


def request_signing_input(method: str, path: str, timestamp: str, nonce: str, body: bytes) -> bytes:
    """METHOD\\nPATH\\nTIMESTAMP\\nNONCE\\nSHA256_HEX(body), UTF-8."""
    return "\n".join([method.upper(), path, timestamp, nonce,
                      hashlib.sha256(body or b"").hexdigest()]).encode("utf-8")


def sign_request(signing_key: nacl.signing.SigningKey, terminal_id: str, method: str, path: str,
                 body: bytes, now: float | None = None, nonce: str | None = None) -> dict:
    """The X-Terminal-Id/X-Timestamp/X-Nonce/X-Signature headers of one request."""
    timestamp = str(int(time.time() if now is None else now))
    nonce = nonce or secrets.token_hex(16)
    signature = signing_key.sign(request_signing_input(method, path, timestamp, nonce, body)).signature
    return {"X-Terminal-Id": terminal_id, "X-Timestamp": timestamp, "X-Nonce": nonce,
            "X-Signature": base64.b64encode(signature).decode("ascii")}


class NonceCache:
    """Nonces seen in the last `window_s` seconds (in memory), to refuse replayed requests."""

    def __init__(self, window_s: float = 600, max_entries: int = 100_000):
        self.window_s = window_s
        self.max_entries = max_entries
        self._seen: OrderedDict[tuple[str, str], float] = OrderedDict()

    def remember(self, terminal_id: str, nonce: str, now: float) -> bool:
        """True when new (and now remembered), False when seen before."""
        while self._seen:
            key, at = next(iter(self._seen.items()))
            if now - at <= self.window_s and len(self._seen) < self.max_entries:
                break
            self._seen.popitem(last=False)
        key = (terminal_id, nonce)
        if key in self._seen:
            return False
        self._seen[key] = now
        return True


def verify_request(verify_key: nacl.signing.VerifyKey, method: str, path: str, headers,
                   body: bytes, now: float | None = None, *, max_skew_s: float = 300,
                   nonces: NonceCache | None = None) -> None:
    """Raise RequestRejected unless the headers are a valid, fresh, unreplayed signature.
    Header names are matched case-insensitively. Without `nonces` the caller checks replay."""
    now = time.time() if now is None else now
    lower = {str(k).lower(): v for k, v in dict(headers).items()}
    needed = ("x-terminal-id", "x-timestamp", "x-nonce", "x-signature")
    if any(not lower.get(name) for name in needed):
        raise RequestRejected("missing_headers", "signed request headers missing")
    timestamp, nonce = str(lower["x-timestamp"]), str(lower["x-nonce"])
    if len(nonce) > 128 or len(timestamp) > 20:
        raise RequestRejected("bad_signature", "header too long")
    try:
        signature = base64.b64decode(lower["x-signature"], validate=True)
        verify_key.verify(request_signing_input(method, path, timestamp, nonce, body), signature)
    except (ValueError, TypeError, nacl.exceptions.BadSignatureError) as exc:
        raise RequestRejected("bad_signature", "signature does not verify") from exc
    try:
        sent_at = float(timestamp)
    except ValueError:
        raise RequestRejected("stale_timestamp", "timestamp unreadable") from None
    if not abs(now - sent_at) <= max_skew_s:
        raise RequestRejected("stale_timestamp", "timestamp too far off")
    if nonces is not None and not nonces.remember(str(lower["x-terminal-id"]), nonce, now):
        raise RequestRejected("replayed", "nonce already used")
