"""What an attacker holding a terminal's key can send: packets sealed without the terminal-side
consistency checks of `protocol.packet.seal_packet` (any manifest, any signed block bytes), and
the assertion every answer of the back office must satisfy."""
from __future__ import annotations

import hashlib
import io
import struct

import nacl.public
import nacl.secret
import nacl.signing
import nacl.utils
from PIL import Image

from protocol import packet as kp


def seal_block(signed_block: bytes, header: dict, files: dict[str, bytes],
               signing_key: nacl.signing.SigningKey, recipient: nacl.public.PublicKey) -> bytes:
    """A validly signed and encrypted packet around arbitrary signed-block bytes."""
    signature = signing_key.sign(kp.SIGNATURE_CONTEXT + signed_block).signature
    plaintext = b"".join([struct.pack(">I", len(signed_block)), signed_block, signature,
                          *(files[name] for name in sorted(files))])
    content_key = nacl.utils.random(nacl.secret.SecretBox.KEY_SIZE)
    body = bytes(nacl.secret.SecretBox(content_key).encrypt(plaintext))
    wrapped = nacl.public.SealedBox(recipient).encrypt(content_key)
    header_bytes = kp.canonical_json(header)
    return b"".join([kp.MAGIC, bytes([kp.VERSION]), struct.pack(">H", len(header_bytes)),
                     header_bytes, struct.pack(">H", len(wrapped)), wrapped, body])


def tiny_jpeg(color=(200, 10, 10)) -> bytes:
    """A real 64 x 48 JPEG: the smallest page intake takes (it decodes every file)."""
    out = io.BytesIO()
    Image.new("RGB", (64, 48), color).save(out, "JPEG")
    return out.getvalue()


def header_of(packet_id: str, terminal_id: str, kind: str) -> dict:
    return {"format": kp.FORMAT, "kind": kind, "packet_id": packet_id, "terminal_id": terminal_id}


def index_of(files: dict[str, bytes]) -> list[dict]:
    return [{"name": n, "sha256": hashlib.sha256(d).hexdigest(), "bytes": len(d)}
            for n, d in sorted(files.items())]


def seal_unchecked(manifest: dict, files: dict[str, bytes], signing_key, recipient,
                   kind: str) -> bytes:
    """Seal any JSON manifest (its own kind/packet_id/terminal_id may be anything): the header
    is `kind` with the manifest's packet id and terminal id when they are strings."""
    header = header_of(manifest.get("packet_id") if isinstance(manifest.get("packet_id"), str)
                       else "00000000-0000-7000-8000-000000000000",
                       manifest.get("terminal_id") if isinstance(manifest.get("terminal_id"), str)
                       else "X", kind)
    block = kp.canonical_json({"envelope": header, "files": index_of(files), "manifest": manifest})
    return seal_block(block, header, files, signing_key, recipient)


def assert_refused_or_accepted(response) -> None:
    """No input makes a 500; every refusal is the back office's error body with a reason key."""
    assert response.status_code < 500, (response.status_code, response.text[:300])
    if response.status_code >= 400:
        body = response.json()
        assert isinstance(body, dict) and isinstance(body.get("error"), str) and body["error"], body
        assert body["error"].startswith("backoffice."), body
