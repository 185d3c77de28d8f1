"""Shared helpers of the outbox tests (also used by their subprocesses): keys and packets."""
from __future__ import annotations

import hashlib
import io
import os
from dataclasses import dataclass
from pathlib import Path

import nacl.public
import nacl.signing
from PIL import Image

ID_NUMBER = "110101195001011234"
NAME = "欧阳清秋"


@dataclass
class Keys:
    key_dir: Path
    signing: nacl.signing.SigningKey
    private: nacl.public.PrivateKey


def entry(name: str, data: bytes, media_type: str) -> dict:
    return {"name": name, "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data),
            "media_type": media_type}


def _image(kind: str, size: int) -> bytes:
    """A real image (the back office decodes every file) padded with `size` random bytes after
    its end, so that every packet's files differ."""
    out = io.BytesIO()
    Image.new("RGB", (32, 24), (240, 240, 230)).save(out, kind)
    return out.getvalue() + os.urandom(size)


def application(page_bytes: int = 4000) -> tuple[dict, dict[str, bytes]]:
    """An application manifest as the session hands it to the outbox (no id, number or time)."""
    page = _image("JPEG", page_bytes)
    signature = _image("PNG", 200)
    files = {"materials/hukou/page-001.jpg": page, "commitment/signature.png": signature}
    manifest = {
        "format": "kiosk-packet/1", "kind": "application",
        "matter": {"code": "gaoling_jintie", "name_zh": "高龄津贴申请", "bundle_of": None},
        "applicant": {"card_type": "resident_id", "name": NAME, "id_number": ID_NUMBER,
                      "sex": "女", "birth_date": "1940-01-01", "nation": "汉",
                      "address": "北京市东城区景山前街4号", "valid_until": "长期"},
        "form": {"phone": "13800138000"},
        "face": {"decision": "match", "distance": 0.4, "threshold": 0.6, "liveness": "passed",
                 "declined": False, "attempts": 1},
        "materials": [{"code": "hukou", "name_zh": "户口簿", "status": "received", "page_count": 1,
                       "files": [entry("materials/hukou/page-001.jpg", page, "image/jpeg")]}],
        "commitment": {"text_zh": "本人承诺所填信息真实有效。", "signed_at": None,
                       "signature_file": "commitment/signature.png"},
        "evaluation": None, "timestamps": {}, "help": None,
        "files": [entry(n, d, "image/jpeg" if n.endswith("jpg") else "image/png")
                  for n, d in files.items()]}
    return manifest, files
