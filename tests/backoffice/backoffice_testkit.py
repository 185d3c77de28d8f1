"""Test kit for the back office: a real uvicorn server in a thread, a signing terminal client,
and builders of realistic packets (real photos, rendered material pages, a PDF, a signature).

Used by tests/backoffice and by benchmarks/intake_latency.py.
"""
from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import io
import json
import socket
import threading
import time
from pathlib import Path

import httpx
import img2pdf
import nacl.public
import nacl.signing
import uuid6
from PIL import Image, ImageDraw, ImageFont

from devices.assets import FACES_DIR
from protocol import packet as kp
from protocol.signing import sign_request

REPO = Path(__file__).resolve().parents[2]
CJK_FONT = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")


class ServerThread:
    """`create_app(settings)` served by uvicorn on 127.0.0.1 (random port) in a daemon thread,
    on a database brought to the head schema first; `uvicorn_options` go to uvicorn.Config
    (e.g. forwarded_allow_ips)."""

    def __init__(self, settings, **uvicorn_options):
        import uvicorn

        from backoffice import schema
        from backoffice.app import create_app
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        schema.upgrade(settings.database_url)     # the tests make their tables (serve refuses)
        self.app = create_app(settings)
        self.services = self.app.state.services
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]
        self.base_url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(self.app, log_level="warning", access_log=False, lifespan="on",
                                **uvicorn_options)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._run, daemon=True, name="backoffice-uvicorn")

    def _run(self):
        asyncio.run(self._server.serve(sockets=[self._sock]))

    def __enter__(self) -> "ServerThread":
        self._thread.start()
        deadline = time.monotonic() + 20
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("back office did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc):
        self._server.should_exit = True
        self._thread.join(10)
        self._sock.close()
        self.services.db.dispose()      # its pooled connections (PostgreSQL: server processes)


def cli_env(settings) -> dict[str, str]:
    """The environment that points `backoffice` commands at `settings`' database (the data
    directory alone names only the SQLite default)."""
    return {"BACKOFFICE_DATABASE_URL": settings.database_url}


class TerminalClient:
    """A terminal as the back office sees it: an id, an Ed25519 key, signed HTTP requests."""

    def __init__(self, base_url: str, terminal_id: str, site: str = "site-1",
                 signing_key: nacl.signing.SigningKey | None = None, http: httpx.Client | None = None):
        self.base_url = base_url
        self.terminal_id = terminal_id
        self.site = site
        self.signing_key = signing_key or nacl.signing.SigningKey.generate()
        self.http = http or httpx.Client(base_url=base_url, timeout=30)
        self.recipient: nacl.public.PublicKey | None = None
        self.sequence = 0

    @property
    def public_key_b64(self) -> str:
        return base64.b64encode(bytes(self.signing_key.verify_key)).decode("ascii")

    def enrol(self, token: str) -> httpx.Response:
        response = self.http.post("/api/v1/terminals/enrol", json={
            "token": token, "terminal_id": self.terminal_id, "public_key": self.public_key_b64})
        if response.status_code == 201:
            self.recipient = nacl.public.PublicKey(
                base64.b64decode(response.json()["backoffice_public_key"]))
        return response

    def signed(self, method: str, path: str, body: bytes = b"", headers: dict | None = None,
               signed_headers: dict | None = None) -> httpx.Response:
        sig = signed_headers or sign_request(self.signing_key, self.terminal_id, method, path, body)
        return self.http.request(method, path, content=body, headers={**sig, **(headers or {})})

    def send_packet(self, blob: bytes, packet_id: str | None = None) -> httpx.Response:
        packet_id = packet_id or kp.read_envelope(blob).packet_id
        return self.signed("POST", "/api/v1/packets", blob, {
            "Idempotency-Key": packet_id, "Content-Type": "application/octet-stream"})

    def heartbeat(self, **overrides) -> httpx.Response:
        payload = {"terminal_id": self.terminal_id,
                   "at": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
                   "versions": {"app": "0.1.0", "catalog": "2025.06"},
                   "devices": {"id_card": {"available": True, "fault": None},
                               "printer": {"available": True, "fault": None},
                               "camera": {"available": True, "fault": None}},
                   "paper": "ok", "outbox": {"pending": 0, "in_flight": 0, "dead": 0,
                                             "oldest_pending_age_s": None},
                   "disk_free_bytes": 12_000_000_000}
        payload.update(overrides)
        return self.signed("POST", "/api/v1/heartbeats", json.dumps(payload).encode(),
                           {"Content-Type": "application/json"})

    def lookup(self, id_number: str) -> httpx.Response:
        return self.signed("POST", "/api/v1/cases/lookup", json.dumps({"id_number": id_number}).encode(),
                           {"Content-Type": "application/json"})

    def next_case_number(self) -> str:
        self.sequence += 1
        return f"{self.terminal_id}-{dt.date.today():%Y%m%d}-{self.sequence:06d}"

    def seal(self, manifest: dict, files: dict[str, bytes]) -> bytes:
        return kp.seal_packet(manifest, files, self.signing_key, self.recipient)


# ---- realistic packet content -------------------------------------------------------------

def _jpeg(image: Image.Image, quality: int = 80) -> bytes:
    out = io.BytesIO()
    image.convert("RGB").save(out, "JPEG", quality=quality)
    return out.getvalue()


def card_photo(person: str = "obama") -> bytes:
    """A 102 x 126 card photo cut from a test face (the size of a resident ID card photo)."""
    image = Image.open(FACES_DIR / f"{person}_1.jpg")
    w, h = image.size
    side = min(w, h)
    crop = image.crop(((w - side) // 2, 0, (w + side) // 2, side))
    return _jpeg(crop.resize((102, 126)))


def best_frame(person: str = "obama") -> bytes:
    image = Image.open(FACES_DIR / f"{person}_2.jpg")
    image.thumbnail((480, 480))
    return _jpeg(image)


def material_page(title: str, lines: int = 8, width: int = 620, height: int = 860) -> bytes:
    """A rendered A4-like page with a Chinese title and text lines (a captured material)."""
    page = Image.new("RGB", (width, height), (250, 250, 246))
    draw = ImageDraw.Draw(page)
    font = ImageFont.truetype(str(CJK_FONT), 34) if CJK_FONT.exists() else ImageFont.load_default()
    small = ImageFont.truetype(str(CJK_FONT), 20) if CJK_FONT.exists() else ImageFont.load_default()
    draw.text((60, 50), title, fill=(20, 20, 20), font=font)
    for i in range(lines):
        draw.text((60, 140 + i * 60), f"第{i + 1}条  兹证明申请人情况属实，特此证明。", fill=(60, 60, 60),
                  font=small)
    draw.ellipse((400, 660, 560, 820), outline=(200, 30, 30), width=6)
    return _jpeg(page, 70)


def signature_png() -> bytes:
    image = Image.new("RGBA", (360, 120), (255, 255, 255, 0))
    draw = ImageDraw.Draw(image)
    draw.line([(20, 80), (70, 30), (110, 90), (160, 40), (220, 85), (300, 35), (340, 70)],
              fill=(10, 10, 80, 255), width=5)
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def entry(name: str, data: bytes, media_type: str) -> dict:
    return {"name": name, "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data),
            "media_type": media_type}


def _base(client: TerminalClient, kind: str, case_number: str | None) -> dict:
    now = dt.datetime.now().astimezone().isoformat(timespec="seconds")
    return {"packet_id": str(uuid6.uuid7()), "kind": kind, "case_number": case_number,
            "terminal_id": client.terminal_id, "site_id": client.site, "created_at": now,
            "matter": None, "applicant": None, "form": {}, "face": None, "materials": [],
            "commitment": None, "evaluation": None,
            "timestamps": {"started_at": now, "identity_at": now, "submitted_at": now},
            "help": None}


def applicant(id_number: str = "110101195001011234", name: str = "王小明") -> dict:
    return {"card_type": "resident_id", "name": name, "id_number": id_number, "sex": "男",
            "birth_date": "1950-01-01", "nation": "汉", "address": "北京市东城区景山前街4号",
            "valid_until": "2035-01-01"}


def application(client: TerminalClient, id_number: str = "110101195001011234",
                name: str = "王小明", light: bool = False) -> tuple[dict, dict[str, bytes]]:
    """An old-age allowance application with two materials (one 容缺), face and signature.
    `light=True` uses tiny page images (for benchmarks)."""
    manifest = _base(client, "application", client.next_case_number())
    manifest["progress_token"] = kp.new_progress_token()     # the receipt's QR code
    page = material_page("户口簿 户主页") if not light else _jpeg(Image.new("RGB", (64, 64), "white"))
    files = {"face/card_photo.jpg": card_photo(), "face/best.jpg": best_frame(),
             "materials/hukou/page-001.jpg": page,
             "commitment/signature.png": signature_png()}
    files["materials/hukou/hukou.pdf"] = img2pdf.convert(page)
    manifest.update(
        matter={"code": "gaoling_jintie", "name_zh": "高龄津贴申请", "bundle_of": None},
        applicant=applicant(id_number, name),
        form={"phone": "13800138000", "bank_account": "6222020200112233445"},
        face={"decision": "match", "distance": 0.38, "threshold": 0.6, "liveness": "passed",
              "declined": False, "attempts": 1},
        materials=[
            {"code": "hukou", "name_zh": "户口簿", "status": "received", "page_count": 1,
             "files": [entry("materials/hukou/page-001.jpg", page, "image/jpeg"),
                       entry("materials/hukou/hukou.pdf", files["materials/hukou/hukou.pdf"],
                             "application/pdf")]},
            {"code": "bank_card", "name_zh": "银行卡", "status": "missing_allowed", "page_count": 0,
             "files": []}],
        commitment={"text_zh": "本人承诺所填信息真实有效。", "signed_at": manifest["created_at"],
                    "signature_file": "commitment/signature.png"})
    manifest["files"] = [entry(n, d, _media(n)) for n, d in files.items()]
    return manifest, files


def supplement(client: TerminalClient, case_number: str, code: str = "bank_card",
               id_number: str = "110101195001011234") -> tuple[dict, dict[str, bytes]]:
    manifest = _base(client, "supplement", case_number)
    page = material_page("银行卡 复印件", lines=3)
    name = f"materials/{code}/page-001.jpg"
    manifest.update(applicant=applicant(id_number),
                    materials=[{"code": code, "name_zh": "银行卡", "status": "received",
                                "page_count": 1, "files": [entry(name, page, "image/jpeg")]}])
    manifest["files"] = [entry(name, page, "image/jpeg")]
    return manifest, {name: page}


def evaluation(client: TerminalClient, case_number: str, level: int = 5) -> tuple[dict, dict]:
    manifest = _base(client, "evaluation", case_number)
    manifest.update(evaluation={"level": level, "comment": "很方便"}, files=[])
    return manifest, {}


def help_request(client: TerminalClient, step: str = "materials") -> tuple[dict, dict]:
    manifest = _base(client, "help_request", None)
    manifest.update(help={"reason": "camera_cannot_read_page", "step": step}, files=[])
    return manifest, {}


def _media(name: str) -> str:
    return {"jpg": "image/jpeg", "png": "image/png", "pdf": "application/pdf"}[name.rsplit(".", 1)[-1]]


def console_client(base_url: str, name: str, password: str) -> httpx.Client:
    """An httpx client logged in to the console (follows the real login form and its CSRF)."""
    client = httpx.Client(base_url=base_url, timeout=30)
    page = client.get("/console/login")
    response = client.post("/console/login", data={"csrf": csrf_of(page.text), "name": name,
                                                   "password": password})
    assert response.status_code == 303 and response.headers["location"] == "/console/cases", \
        response.text
    return client


def csrf_of(html: str) -> str:
    import re
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no CSRF field on the page"
    return found.group(1)
