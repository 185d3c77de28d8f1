"""The back office's progress API, over HTTP: the kiosk's side of 办件查询 and 补件.

`GET /api/v1/cases/{n}/progress` with the receipt's progress token in `X-Progress-Token` (what
the receipt's QR code carries: `<base>/progress/<case>?t=<token>`; the answer is the public
view, no personal data, no reviewer's reasons, no sensitive matter) and the signed
`POST /api/v1/cases/lookup` (a person's cases by ID number, terminals only, everything).
Short timeouts: a citizen waits at the screen, and an unreachable back office must turn into a
plain message (`ProgressUnavailable`), not a hang. The session (kiosk/visit/returning.py) is
handed one of these as its `kiosk.visit.cases.CaseLookup`.
"""
from __future__ import annotations

import json
import logging
from urllib.parse import quote

import httpx

from kiosk.visit.cases import CaseNotFound, CaseProgress, ProgressUnavailable
from protocol.signing import sign_request

log = logging.getLogger(__name__)

TOKEN_HEADER = "X-Progress-Token"


class ProgressClient:
    """Asks the back office how cases stand (see the module doc); one per terminal."""

    def __init__(self, base_url: str, terminal_id: str, signing_key, *, timeout_s: float = 5.0,
                 http: httpx.Client | None = None):
        self.base_url = base_url.rstrip("/")
        self.terminal_id = terminal_id
        self.signing_key = signing_key
        self.http = http or httpx.Client(timeout=httpx.Timeout(timeout_s, connect=3.0))

    def case(self, case_number: str, token: str) -> CaseProgress:
        """One case by number and the receipt's token (the public view); raises CaseNotFound
        (no such case, or not this token: the back office does not say which) or
        ProgressUnavailable."""
        try:
            response = self.http.get(f"{self.base_url}/api/v1/cases/{quote(case_number)}/progress",
                                     headers={TOKEN_HEADER: token})
        except httpx.HTTPError as exc:
            log.info("progress query failed error=%s", type(exc).__name__)
            raise ProgressUnavailable(type(exc).__name__) from exc
        if response.status_code == 404:
            raise CaseNotFound("no such case")
        return CaseProgress.from_api(self._json(response))

    def cases_of(self, id_number: str) -> list[CaseProgress]:
        """A person's cases by ID number (signed request; the number is sent only over it)."""
        path = "/api/v1/cases/lookup"
        body = json.dumps({"id_number": id_number}).encode("utf-8")
        headers = sign_request(self.signing_key, self.terminal_id, "POST", path, body)
        headers["Content-Type"] = "application/json"
        try:
            response = self.http.post(self.base_url + path, content=body, headers=headers)
        except httpx.HTTPError as exc:
            log.info("case lookup failed error=%s", type(exc).__name__)
            raise ProgressUnavailable(type(exc).__name__) from exc
        data = self._json(response)
        if not isinstance(data, list):
            raise ProgressUnavailable("unreadable lookup answer")
        return [CaseProgress.from_api(item) for item in data]

    @staticmethod
    def _json(response: httpx.Response):
        if response.status_code != 200:
            log.warning("progress API refused status=%d", response.status_code)
            raise ProgressUnavailable(f"http {response.status_code}")
        try:
            return response.json()
        except ValueError as exc:
            raise ProgressUnavailable("not JSON") from exc

    def close(self) -> None:
        self.http.close()
