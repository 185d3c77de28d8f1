"""HTTP hardening of every back-office response and request body (registered by app.py).

`SecurityHeaders` gives every response a strict Content-Security-Policy (scripts, styles and
images from the back office itself only, no inline script, no plugins, no framing, forms post
only to it), `X-Frame-Options: DENY`, `Referrer-Policy: no-referrer` and
`X-Content-Type-Options: nosniff`, unless the response set its own (the case files' stricter
one). The console has no inline script or handler: its one script is /static/console.js.
Only Swagger UI and ReDoc (/docs, /redoc, off unless `enable_docs`) keep FastAPI's own page,
which needs inline script and a CDN; they get no policy.

`BodyLimit` reads no request body beyond a limit: the configured `max_packet_bytes` for
POST /api/v1/packets, `MAX_OTHER_BODY` for everything else (enrolment, console forms, signed
JSON). It counts the bytes as they arrive and raises `BodyTooLarge` (413) at the first byte
over, so an anonymous chunked body of any size costs at most the limit. A client that goes
away before its body is complete raises `ClientGone` (400, which nobody reads) after an INFO
line, instead of a ClientDisconnect traceback. The terminal API checks a signed request's
headers before it reads the body at all (api.py, terminal_auth.py).

`file_response` serves a case file with the type intake verified from its bytes: JPEG and PNG
inline, a PDF (or anything stored by an older build with another type, served as
application/octet-stream) as an attachment, under a policy that sandboxes it.
"""
from __future__ import annotations

import logging
import re

from fastapi.responses import Response
from starlette.exceptions import HTTPException

from backoffice.file_types import KIOSK_TYPES, SHOWN_INLINE

log = logging.getLogger(__name__)

CONTENT_SECURITY_POLICY = ("default-src 'none'; script-src 'self'; style-src 'self'; "
                           "img-src 'self'; connect-src 'self'; form-action 'self'; "
                           "frame-ancestors 'none'; base-uri 'none'")
FILE_POLICY = "default-src 'none'; img-src 'self'; sandbox; frame-ancestors 'none'"
HEADERS = ((b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
           (b"x-frame-options", b"DENY"),
           (b"referrer-policy", b"no-referrer"),
           (b"x-content-type-options", b"nosniff"))
NO_POLICY_PATHS = ("/docs", "/docs/oauth2-redirect", "/redoc")
PACKETS_PATH = "/api/v1/packets"
MAX_OTHER_BODY = 1024 * 1024
SAFE_NAME = re.compile(r"[^A-Za-z0-9_.-]")


class SecurityHeaders:
    """Pure ASGI middleware: the headers above on every HTTP response that lacks them."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["path"] in NO_POLICY_PATHS:
            return await self.app(scope, receive, send)

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [(name, value) for name, value in HEADERS if name not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


class BodyTooLarge(HTTPException):
    def __init__(self):
        super().__init__(413, "request body too large")


class ClientGone(HTTPException):
    def __init__(self):
        super().__init__(400, "client disconnected before its request body was complete")


class BodyLimit:
    """Pure ASGI middleware: a request body is read up to its limit, and no further."""

    def __init__(self, app, max_packet_bytes: int):
        self.app = app
        self.max_packet_bytes = max_packet_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path = scope["path"]
        limit = self.max_packet_bytes if path == PACKETS_PATH else MAX_OTHER_BODY
        state = {"read": 0, "complete": False}

        async def limited_receive():
            message = await receive()
            if message["type"] == "http.request":
                state["read"] += len(message.get("body", b""))
                state["complete"] = not message.get("more_body", False)
                if state["read"] > limit:
                    raise BodyTooLarge()
            elif message["type"] == "http.disconnect" and not state["complete"]:
                log.info("client disconnected before its request body was complete path=%s "
                         "after %d bytes", path, state["read"])
                raise ClientGone()
            return message

        await self.app(scope, limited_receive, send)


def file_response(data: bytes, stored_type: str, path: str) -> Response:
    """A case file as the console serves it: never rendered as a page."""
    media_type = stored_type if stored_type in KIOSK_TYPES else "application/octet-stream"
    disposition = "inline" if media_type in SHOWN_INLINE else "attachment"
    filename = SAFE_NAME.sub("_", path.rsplit("/", 1)[-1])[:100] or "file"
    return Response(data, media_type=media_type, headers={
        "Cache-Control": "private, no-store",
        "Content-Disposition": f'{disposition}; filename="{filename}"',
        "Content-Security-Policy": FILE_POLICY,
        "X-Content-Type-Options": "nosniff"})


def install(app, settings) -> None:
    """Register both middlewares on `app` (the headers outermost, so every answer has them)."""
    app.add_middleware(BodyLimit, max_packet_bytes=settings.max_packet_bytes)
    app.add_middleware(SecurityHeaders)
