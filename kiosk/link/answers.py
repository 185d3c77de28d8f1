"""How the terminal reads a refusal from the back office.

The back office refuses with a JSON body `{"error": "<reason key>"}` (e.g.
`backoffice.case.exists`). `refusal_reason` turns a refusal into the short, PII-free text the
outbox keeps and the logs show (`http 409 backoffice.case.exists`); the uploader, enrolment
and the doctor use it.
"""
from __future__ import annotations

import re

import httpx

REASON_KEY = re.compile(r"^[a-z0-9_]+(?:\.[a-z0-9_]+)+$")


def refusal_reason(response: httpx.Response) -> str:
    """`http <status> <reason_key>` from a refusal, keeping only a well-formed reason key."""
    reason = ""
    try:
        body = response.json()
        if isinstance(body, dict) and isinstance(body.get("error"), str) \
                and REASON_KEY.match(body["error"]) and len(body["error"]) <= 80:
            reason = body["error"]
    except ValueError:
        pass
    return f"http {response.status_code} {reason}".strip()
