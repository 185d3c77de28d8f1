"""What the simulated terminals of benchmarks/fleet_load.py send: identities, sealed
applications and heartbeat bodies, all made before anything is timed.

An application is what a busy kiosk sends for a 高龄津贴 visit: the ID card photo, the best
face frame, one A4 material page as the document camera's pipeline leaves it (1050 x 1485 px,
JPEG quality 90, as kiosk/visit/packet.py encodes it) with its PDF, and the drawn signature,
about 480 KiB sealed. Every packet's files differ in their bytes (a JPEG comment or a PNG text
chunk carrying the packet's number), so the back office's content-addressed store cannot
deduplicate them as it could a thousand copies of one page; the images themselves are rendered
once. Packets are sealed with protocol/packet.py to the back office's key, each by its own
terminal's Ed25519 key, and written to a folder (the uploader, too, reads each sealed packet
from disk before posting it). The same sealed packets serve every configuration of one run:
each configuration's fresh data folder gets the same key files (`KEY_FILES`), so the back
offices compared receive identical bytes.

Heartbeat bodies are the shape kiosk/link/uploader.py `Uploader.heartbeat_payload` builds: it
is called once on a real, empty outbox and the result is the template.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import io
import random
import struct
import tempfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import nacl.public
import nacl.signing
import uuid6
from PIL import Image

from devices.document.material_page import render_page
from devices.document.pdf import pages_to_pdf
from devices.id_card.id_number import make_id_number
from protocol import packet as kp
from kiosk.link.enrolment import TERMINAL_KEY_FILE
from protocol.keys import generate_terminal_key, load_private_key

KEY_FILES = ("backoffice.key", "vault.key", "publisher.key")
INSTALLATION = "BNCH"       # the case numbers' installation part (Crockford base32)


@dataclass
class Terminal:
    """One simulated terminal: id, site, its key folder (terminal.key, as kiosk/link/enrolment.py
    keeps it) and its sealed packets in sending order."""
    terminal_id: str
    site: str
    key_dir: Path
    signing_key: nacl.signing.SigningKey
    steady: list[tuple[float, Path]] = field(default_factory=list)  # (offset s, sealed file)
    backlog: list[Path] = field(default_factory=list)               # queued during the outage


def _jpeg(rgb: Image.Image, quality: int) -> bytes:
    out = io.BytesIO()
    rgb.convert("RGB").save(out, "JPEG", quality=quality)
    return out.getvalue()


def _with_jpeg_comment(jpeg: bytes, text: bytes) -> bytes:
    """The same picture with a COM segment after SOI: other bytes, same image."""
    return jpeg[:2] + b"\xff\xfe" + struct.pack(">H", len(text) + 2) + text + jpeg[2:]


def _with_png_text(png: bytes, text: bytes) -> bytes:
    """The same picture with a tEXt chunk after IHDR (which ends at byte 33)."""
    body = b"Comment\x00" + text
    chunk = struct.pack(">I", len(body)) + b"tEXt" + body + \
        struct.pack(">I", zlib.crc32(b"tEXt" + body) & 0xFFFFFFFF)
    return png[:33] + chunk + png[33:]


class PacketFactory:
    """Renders the pictures once and builds distinct applications from them."""

    def __init__(self):
        page = render_page(7)
        self.page = _jpeg(Image.fromarray(page[:, :, ::-1].copy()), 90)
        face = Image.open(_faces_dir() / "obama_2.jpg")
        face.thumbnail((480, 480))
        self.best = _jpeg(face, 85)
        card = Image.open(_faces_dir() / "obama_1.jpg").resize((102, 126))
        self.card = _jpeg(card, 85)
        sig = Image.new("RGBA", (360, 120), (255, 255, 255, 0))
        from PIL import ImageDraw
        ImageDraw.Draw(sig).line([(20, 80), (90, 25), (150, 95), (230, 40), (340, 75)],
                                 fill=(10, 10, 80, 255), width=5)
        out = io.BytesIO()
        sig.save(out, "PNG")
        self.signature = out.getvalue()

    def application(self, terminal: Terminal, sequence: int, serial: int) -> tuple[dict, dict]:
        tag = f"fleet-bench {terminal.terminal_id} {sequence}".encode()
        page = _with_jpeg_comment(self.page, tag)
        files = {"face/card_photo.jpg": _with_jpeg_comment(self.card, tag),
                 "face/best.jpg": _with_jpeg_comment(self.best, tag),
                 "materials/hukou/page-001.jpg": page,
                 "materials/hukou/hukou.pdf": pages_to_pdf([page])[0],
                 "commitment/signature.png": _with_png_text(self.signature, tag)}
        entries = {name: {"name": name, "sha256": hashlib.sha256(data).hexdigest(),
                          "bytes": len(data), "media_type": _media(name)}
                   for name, data in files.items()}
        now = dt.datetime.now().astimezone().isoformat(timespec="seconds")
        id_number = make_id_number("110101", dt.date(1950, 1, 1) + dt.timedelta(days=serial % 9000),
                                   serial % 999 + 1)
        manifest = {
            "packet_id": str(uuid6.uuid7()), "kind": "application",
            "case_number": f"{terminal.terminal_id}-{dt.date.today():%Y%m%d}-{INSTALLATION}-"
                           f"{sequence:04d}",
            "terminal_id": terminal.terminal_id, "site_id": terminal.site, "created_at": now,
            "progress_token": kp.new_progress_token(),
            "matter": {"code": "gaoling_jintie", "name_zh": "高龄津贴申请", "bundle_of": None},
            "applicant": {"card_type": "resident_id", "name": "王小明", "id_number": id_number,
                          "sex": "男", "birth_date": "1950-01-01", "nation": "汉",
                          "address": "北京市东城区景山前街4号", "valid_until": "2035-01-01"},
            "form": {"phone": "13800138000", "bank_account": "6222020200112233445"},
            "face": {"decision": "match", "distance": 0.38, "threshold": 0.6,
                     "liveness": "passed", "declined": False, "attempts": 1},
            "materials": [{"code": "hukou", "name_zh": "户口簿", "status": "received",
                           "page_count": 1,
                           "files": [entries["materials/hukou/page-001.jpg"],
                                     entries["materials/hukou/hukou.pdf"]]}],
            "commitment": {"text_zh": "本人承诺所填信息真实有效。", "signed_at": now,
                           "signature_file": "commitment/signature.png"},
            "evaluation": None, "help": None,
            "timestamps": {"started_at": now, "identity_at": now, "submitted_at": now},
            "files": list(entries.values())}
        return manifest, files


def _media(name: str) -> str:
    return {"jpg": "image/jpeg", "png": "image/png", "pdf": "application/pdf"}[name.rsplit(".", 1)[1]]


def _faces_dir() -> Path:
    from devices.assets import FACES_DIR
    return Path(FACES_DIR)


def make_fleet(count: int, seconds: float, app_interval_s: float, backlog: int,
               key_dir: Path, out_dir: Path, seed: int = 15) -> list[Terminal]:
    """`count` terminals, their keys under `out_dir`/keys, their packets sealed to the back
    office's key in `key_dir` into `out_dir`: applications at Poisson times over `seconds`
    (mean one per `app_interval_s` per terminal) and `backlog` queued ones each for the burst."""
    rng = random.Random(seed)
    recipient = load_recipient(key_dir)
    factory = PacketFactory()
    terminals, serial = [], 0
    for i in range(count):
        tid = f"FLEET-{i:04d}"
        terminal_keys = out_dir / "keys" / tid
        t = Terminal(tid, f"site-{i % 40:02d}", terminal_keys,
                     generate_terminal_key(terminal_keys / TERMINAL_KEY_FILE))
        at, offsets = 0.0, []
        while True:
            at += rng.expovariate(1 / app_interval_s)
            if at >= seconds:
                break
            offsets.append(at)
        for n in range(len(offsets) + backlog):
            serial += 1
            manifest, files = factory.application(t, n + 1, serial)
            path = out_dir / f"{manifest['packet_id']}.sealed"
            path.write_bytes(kp.seal_packet(manifest, files, t.signing_key, recipient))
            if n < backlog:
                t.backlog.append(path)
            else:
                t.steady.append((offsets[n - backlog], path))
        terminals.append(t)
    return terminals


def load_recipient(key_dir: Path) -> nacl.public.PublicKey:
    """The back office's packet key (its public half), from the key files every
    configuration's data folder gets."""
    return load_private_key(key_dir / "backoffice.key").public_key


def heartbeat_template(recipient: nacl.public.PublicKey) -> dict:
    """What `Uploader.heartbeat_payload` sends from a fresh terminal with an empty outbox."""
    from kiosk.link.outbox import Outbox
    from kiosk.link.uploader import Uploader
    with tempfile.TemporaryDirectory(prefix="fleet-hb-") as tmp:
        key = nacl.signing.SigningKey.generate()
        outbox = Outbox(Path(tmp), "TEMPLATE", "site", key, recipient)
        uploader = Uploader(outbox, "http://127.0.0.1:9", "TEMPLATE", key, Path(tmp))
        try:
            return uploader.heartbeat_payload()
        finally:
            uploader.close()
            outbox.close()
