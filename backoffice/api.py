"""The terminals' HTTP API (/api/v1): enrolment, packet intake, heartbeats, progress, lookup,
signed updates (catalogue and site profile, see publishing.py).

Every endpoint except enrolment and progress needs a signed request (see terminal_auth.py).
`GET /api/v1/cases/{case_number}/progress` is PUBLIC but answers only with the receipt's
progress token in `X-Progress-Token` (what the receipt's QR code carries), else 404 whether
or not the case exists: the public view of progress_page.py (status, history, what to bring;
no reasons, no personal data, no sensitive matter). `POST /api/v1/cases/lookup` takes an ID
number, so it is signed (terminals only), and answers everything about that person's cases.
Refusals answer {"error": reason_key, "detail": text} and are logged to the rejections table.
A signed request's headers (terminal, timestamp, nonce) are checked before its body is read,
and the body is read only up to its limit (a packet `max_packet_bytes`, a heartbeat 64 KiB, a
lookup 4 KiB; else 413), then its signature is verified: nobody makes the back office hold a
body it has not bounded, and no anonymous body is read at all.
"""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from backoffice.db import Case
from backoffice.fleet import MAX_HEARTBEAT_BYTES, parse_heartbeat
from backoffice.http_security import BodyTooLarge
from backoffice.progress_page import TOKEN_HEADER, Public
from backoffice.services import Services, app_services
from backoffice.terminal_auth import ApiError, log_rejection
from backoffice.workflow import progress
from protocol import packet as kp


class EnrolRequest(BaseModel):
    token: str = Field(max_length=200)
    terminal_id: str = Field(max_length=64)
    public_key: str = Field(max_length=200, description="base64 Ed25519 verify key")


class EnrolResponse(BaseModel):
    terminal_id: str
    backoffice_public_key: str = Field(description="base64 X25519 public key to seal packets to")
    publisher_public_key: str = Field(description="base64 Ed25519 key that signs catalogue and "
                                                  "site-profile updates")


class UpdateOffer(BaseModel):
    version: int
    site: str = Field(description='"" when published for all sites')
    created_at: str
    sha256: str = Field(description="SHA-256 of the bundle bytes")
    bytes: int
    url: str = Field(description="signed GET of the bundle (application/x-tar)")


class UpdatesListing(BaseModel):
    terminal_id: str
    site: str
    publisher_public_key: str
    updates: dict[str, UpdateOffer | None] = Field(
        description='the newest version per kind ("catalog", "site-profile") for this site')


class IntakeResponse(BaseModel):
    packet_id: str
    case_number: str | None
    status: str


class ErrorResponse(BaseModel):
    error: str = Field(description="i18n reason_key, e.g. backoffice.packet.hash_mismatch")
    detail: str


class HistoryItem(BaseModel):
    status: str
    at: str


class SupplementMaterial(BaseModel):
    code: str
    name_zh: str
    reason: str


class SupplementView(BaseModel):
    requested_at: str
    materials: list[SupplementMaterial] = Field(
        description="by token: without reasons, and empty for a sensitive matter")
    count: int | None = Field(default=None, description="by token: how many materials")


class Progress(BaseModel):
    case_number: str
    matter_code: str = Field(description='by token: "" for a sensitive matter')
    status: str
    updated_at: str
    history: list[HistoryItem]
    supplement: SupplementView | None


MAX_LOOKUP_BYTES = 4096       # {"id_number": "..."}
ERRORS = {code: {"model": ErrorResponse} for code in (401, 403, 409, 413, 422)}


router = APIRouter(prefix="/api/v1", tags=["terminal API"])
AppServices = Annotated[Services, Depends(app_services)]


async def refuse(services: Services, error: ApiError, terminal_id: str,
                 endpoint: str) -> JSONResponse:
    """The refusal's answer, once it is logged to the rejections table."""
    await run_in_threadpool(log_rejection, services.db, error, terminal_id, endpoint)
    return JSONResponse(error.body(), status_code=error.status)


async def authenticated(services: Services, request: Request, body: bytes):
    """The terminal that signed `request` (with `body`); ApiError otherwise."""
    return await run_in_threadpool(services.auth.verify, request.method, request.url.path,
                                   request.headers, body)


async def signed_body(services: Services, request: Request, limit: int, too_large: str):
    """(terminal, body) of a signed request: its headers checked before a byte of the body
    is read, the body read up to `limit` (else 413 `too_large`), then the signature."""
    await run_in_threadpool(services.auth.check_headers, request.headers)
    refused = ApiError(413, too_large, "body too large")
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > limit:
        raise refused
    chunks, size = [], 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise refused
            chunks.append(chunk)
    except BodyTooLarge:
        raise refused from None
    body = b"".join(chunks)
    return await authenticated(services, request, body), body


@router.post("/terminals/enrol", status_code=201, response_model=EnrolResponse,
             responses=ERRORS, summary="Enrol a terminal with a one-time token")
async def enrol(payload: EnrolRequest, services: AppServices):
    try:
        await run_in_threadpool(services.fleet.enrol, payload.token, payload.terminal_id,
                                payload.public_key)
    except ApiError as error:
        return await refuse(services, error, payload.terminal_id, "enrol")
    return EnrolResponse(terminal_id=payload.terminal_id,
                         backoffice_public_key=services.public_key_b64,
                         publisher_public_key=services.publisher.public_key_b64)


@router.get("/updates", response_model=UpdatesListing, responses=ERRORS,
            summary="Signed: the current catalogue and site-profile versions for this terminal")
async def updates(request: Request, services: AppServices):
    terminal_id = request.headers.get("x-terminal-id", "")
    try:
        terminal = await authenticated(services, request, b"")
    except ApiError as error:
        return await refuse(services, error, terminal_id, "updates")
    offers = await run_in_threadpool(services.publisher.current_for, terminal.site)
    return {"terminal_id": terminal.id, "site": terminal.site,
            "publisher_public_key": services.publisher.public_key_b64,
            "updates": {k: v.offer() if v else None for k, v in offers.items()}}


@router.get("/updates/{kind}/{version}", responses={
    200: {"content": {"application/x-tar": {}}, "description": "the signed bundle"},
    404: {"model": ErrorResponse}, **ERRORS},
    summary="Signed: the bytes of one update bundle (kiosk-update/1)")
async def update_bundle(request: Request, services: AppServices, kind: str, version: int):
    terminal_id = request.headers.get("x-terminal-id", "")
    try:
        terminal = await authenticated(services, request, b"")
    except ApiError as error:
        return await refuse(services, error, terminal_id, "updates")
    blob = await run_in_threadpool(services.publisher.bundle, kind, version, terminal.site)
    if blob is None:
        return JSONResponse({"error": "backoffice.update.unknown",
                             "detail": "no such update for this site"}, status_code=404)
    return Response(blob, media_type="application/x-tar")


@router.post("/packets", status_code=201, response_model=IntakeResponse, responses={
    200: {"model": IntakeResponse, "description": "duplicate of a packet already received"},
    **ERRORS}, summary="Deliver one sealed packet (idempotent by packet_id)",
    openapi_extra={"requestBody": {"required": True, "content": {
        "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}})
async def receive_packet(request: Request, services: AppServices,
                         idempotency_key: str | None = Header(default=None)):
    terminal_id = request.headers.get("x-terminal-id", "")
    try:
        terminal, body = await signed_body(services, request, services.settings.max_packet_bytes,
                                           "backoffice.packet.too_large")
        result = await run_in_threadpool(services.intake.receive, terminal, idempotency_key,
                                         body)
    except ApiError as error:
        error.packet_id = error.packet_id or idempotency_key
        return await refuse(services, error, terminal_id, "packets")
    return JSONResponse(result.body, status_code=result.status_code)


@router.post("/heartbeats", status_code=204, responses=ERRORS,
             summary="Report terminal health (signed JSON)")
async def heartbeat(request: Request, services: AppServices):
    terminal_id = request.headers.get("x-terminal-id", "")
    try:
        terminal, body = await signed_body(services, request, MAX_HEARTBEAT_BYTES,
                                           "backoffice.heartbeat.too_large")
        payload = parse_heartbeat(body)
        await run_in_threadpool(services.fleet.record_heartbeat, terminal.id, payload)
    except ApiError as error:
        return await refuse(services, error, terminal_id, "heartbeats")
    return Response(status_code=204)


@router.get("/cases/{case_number}/progress", response_model=Progress,
            responses={404: {"model": ErrorResponse}},
            summary="Public view of one case with the receipt's token (X-Progress-Token)")
async def case_progress(request: Request, public: Public, case_number: str):
    found = await run_in_threadpool(public.find, case_number, request.headers.get(TOKEN_HEADER))
    if found is None:
        return JSONResponse({"error": "backoffice.case.unknown",
                             "detail": "no case with this number and token"}, status_code=404)
    return found


def _lookup(services: Services, id_number: str) -> list[dict]:
    id_hash = services.vault.id_hash(id_number)
    with services.db.read() as session:
        cases = session.scalars(select(Case).where(Case.id_hash == id_hash)
                                .order_by(Case.received_at.desc())).all()
        return [progress(case) for case in cases]


@router.post("/cases/lookup", response_model=list[Progress], responses=ERRORS,
             summary="A person's cases by ID number (signed; for 办件查询)",
             openapi_extra={"requestBody": {"required": True, "content": {"application/json": {
                 "schema": {"type": "object", "required": ["id_number"],
                            "properties": {"id_number": {"type": "string"}}}}}}})
async def lookup(request: Request, services: AppServices):
    terminal_id = request.headers.get("x-terminal-id", "")
    try:
        _, body = await signed_body(services, request, MAX_LOOKUP_BYTES,
                                    "backoffice.lookup.too_large")
        try:
            id_number = kp.loads_bounded(body).get("id_number")
        except (ValueError, AttributeError):
            id_number = None
        if not isinstance(id_number, str) or not 6 <= len(id_number) <= 40:
            raise ApiError(422, "backoffice.lookup.malformed", "id_number missing")
    except ApiError as error:
        return await refuse(services, error, terminal_id, "lookup")
    return await run_in_threadpool(_lookup, services, id_number)
