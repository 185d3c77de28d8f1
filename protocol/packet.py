"""Sealed packets (format kiosk-packet/1), shared by terminal and back office.

A packet is a manifest (JSON) plus named files. `seal_packet` signs the canonical manifest and
the files' hashes with the terminal's Ed25519 key, then encrypts everything to the back
office's X25519 key (a random XSalsa20-Poly1305 SecretBox key wrapped by a SealedBox). Only
format, packet_id, terminal_id and kind travel in clear. `open_packet` undoes it and checks
everything; failures raise `PacketError` subclasses carrying an i18n `reason_key`.
The byte layout and the reasons behind it are in docs/packet-format.md.

Also here: the case number's form (`CASE_NUMBER`), the receipt's progress token and URL, and
the bounded JSON reader (`loads_bounded`) both sides use for signed blocks and request bodies.
Signed requests are in protocol/signing.py, key files in protocol/keys.py, durable writes in
protocol/atomic.py.
"""
from __future__ import annotations

import hashlib
import json
import re
import secrets
import struct
from dataclasses import dataclass

import nacl.exceptions
import nacl.public
import nacl.secret
import nacl.signing
import nacl.utils

FORMAT = "kiosk-packet/1"
MAGIC = b"KPKT"
VERSION = 1
KINDS = ("application", "supplement", "evaluation", "help_request")
SIGNATURE_CONTEXT = b"kiosk-packet/1 signature\x00"
MAX_HEADER_BYTES = 1024
MAX_FILES = 1000
MAX_NAME_LENGTH = 300
WRAPPED_KEY_BYTES = 32 + 16 + 32   # SealedBox of a 32-byte key: ephemeral public key, MAC, key
FILE_NAME = re.compile(r"^[A-Za-z0-9_\-]+(?:/[A-Za-z0-9_\-][A-Za-z0-9_.\-]*)*$")
MAX_JSON_DEPTH = 32               # arrays/objects in a signed block or a request body
# A case number: <terminal id>-<YYYYMMDD>-<installation>-<sequence>, the installation four
# characters of Crockford's base32 (no I, L, O, U) drawn when the outbox's database is created,
# the sequence per day. Case numbers issued before the installation part existed,
# <terminal id>-<YYYYMMDD>-<6 digits>, stay valid (receipts in citizens' hands, queued packets).
CASE_NUMBER_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CASE_NUMBER = re.compile(r"^(?P<terminal>[A-Za-z0-9_.\-]{1,40})-(?P<date>\d{8})-"
                         r"(?:(?P<installation>[0-9A-HJKMNP-TV-Z]{4})-(?P<seq>\d{4,6})"
                         r"|(?P<legacy_seq>\d{6}))$")
# The receipt's progress capability (docs/packet-format.md): 128 random bits, URL-safe base64
# without padding (22 characters), drawn by the outbox with the case number and carried in the
# application's manifest as `progress_token`; the back office keeps only its SHA-256. The
# receipt's QR code is `<back office>/progress/<case number>?t=<token>`.
PROGRESS_TOKEN = re.compile(r"^[A-Za-z0-9_-]{22,64}$")
PROGRESS_TOKEN_PARAM = "t"


def new_progress_token() -> str:
    """A fresh progress token: 16 random bytes, URL-safe base64 (22 characters)."""
    return secrets.token_urlsafe(16)


def progress_url(base_url: str, case_number: str, token: str | None) -> str:
    """The receipt's QR code: the progress page of one case, with its token when there is one."""
    url = f"{base_url.rstrip('/')}/progress/{case_number}"
    return f"{url}?{PROGRESS_TOKEN_PARAM}={token}" if token else url


class PacketError(Exception):
    """A packet that cannot be sealed or opened. `reason_key` names the cause for the UI/logs."""

    reason_key = "packet.malformed"


class MalformedPacket(PacketError):
    reason_key = "packet.malformed"


class BadSignature(PacketError):
    reason_key = "packet.bad_signature"


class DecryptionFailed(PacketError):
    reason_key = "packet.undecryptable"


class HashMismatch(PacketError):
    reason_key = "packet.hash_mismatch"


@dataclass(frozen=True)
class Envelope:
    format: str
    packet_id: str
    terminal_id: str
    kind: str


@dataclass(frozen=True)
class OpenedPacket:
    manifest: dict
    files: dict[str, bytes]


# one JSON string (or an unterminated one, to the end): no backtracking, linear in the input
_JSON_STRING = re.compile(rb'"(?:[^"\\]++|\\.)*+"?', re.S)
_NOT_BRACKETS = bytes(sorted(set(range(256)) - set(b"[]{}")))


def json_too_deep(data: bytes, max_depth: int = MAX_JSON_DEPTH) -> bool:
    """True when the arrays and objects of a JSON text nest deeper than `max_depth` (brackets
    inside strings do not count); looked at without parsing, so deep input costs nothing."""
    depth = 0
    for byte in _JSON_STRING.sub(b"", bytes(data)).translate(None, _NOT_BRACKETS):
        if byte in b"[{":
            depth += 1
            if depth > max_depth:
                return True
        else:
            depth -= 1
    return False


def loads_bounded(data: bytes, max_depth: int = MAX_JSON_DEPTH):
    """Parse UTF-8 JSON nested at most `max_depth` deep; ValueError otherwise (also for bytes
    that are not UTF-8 or not JSON). The depth is checked before the recursive parser runs."""
    if json_too_deep(data, max_depth):
        raise ValueError(f"JSON nested deeper than {max_depth}")
    return json.loads(bytes(data).decode("utf-8"))


def canonical_json(value) -> bytes:
    """The one byte form that is signed: sorted keys, no spaces, UTF-8, no NaN/Infinity."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def _check_name(name) -> None:
    if not isinstance(name, str) or len(name) > MAX_NAME_LENGTH or not FILE_NAME.match(name):
        raise MalformedPacket("file name not allowed")


def _manifest_file_entries(node, found: list[dict]) -> list[dict]:
    """Every {name, sha256, ...} entry anywhere in the manifest."""
    if isinstance(node, dict):
        if isinstance(node.get("name"), str) and isinstance(node.get("sha256"), str):
            found.append(node)
        for value in node.values():
            _manifest_file_entries(value, found)
    elif isinstance(node, list):
        for value in node:
            _manifest_file_entries(value, found)
    return found


def _check_entries_against_files(manifest: dict, index: dict[str, tuple[str, int]]) -> None:
    """Each file the manifest describes must be in the packet with that hash and size."""
    for entry in _manifest_file_entries(manifest, []):
        known = index.get(entry["name"])
        if known is None:
            raise HashMismatch("manifest describes a file the packet does not carry")
        sha, size = known
        if entry["sha256"].lower() != sha:
            raise HashMismatch("file hash differs from the manifest")
        if "bytes" in entry and entry["bytes"] != size:
            raise HashMismatch("file size differs from the manifest")


def _envelope_of(manifest: dict) -> dict:
    if not isinstance(manifest, dict):
        raise MalformedPacket("manifest is not an object")
    fields = {}
    for key in ("packet_id", "terminal_id", "kind"):
        value = manifest.get(key)
        if not isinstance(value, str) or not value or len(value) > 64:
            raise MalformedPacket(f"manifest {key} missing or not a short string")
        fields[key] = value
    if fields["kind"] not in KINDS:
        raise MalformedPacket("unknown packet kind")
    return {"format": FORMAT, **fields}


def seal_packet(manifest: dict, files: dict[str, bytes], signing_key: nacl.signing.SigningKey,
                recipient: nacl.public.PublicKey) -> bytes:
    """Sign and encrypt one packet. Raises MalformedPacket/HashMismatch on an inconsistent one."""
    header = _envelope_of(manifest)
    if len(files) > MAX_FILES:
        raise MalformedPacket("too many files")
    index, blobs = [], []
    for name in sorted(files):
        _check_name(name)
        data = files[name]
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise MalformedPacket("file content is not bytes")
        data = bytes(data)
        index.append({"name": name, "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)})
        blobs.append(data)
    try:
        _check_entries_against_files(manifest, {e["name"]: (e["sha256"], e["bytes"])
                                                for e in index})
        signed_block = canonical_json({"envelope": header, "manifest": manifest, "files": index})
    except (TypeError, ValueError, RecursionError) as exc:
        raise MalformedPacket("manifest is not plain JSON") from exc
    if json_too_deep(signed_block):
        raise MalformedPacket(f"manifest nested deeper than {MAX_JSON_DEPTH - 1} levels")
    signature = signing_key.sign(SIGNATURE_CONTEXT + signed_block).signature
    plaintext = b"".join([struct.pack(">I", len(signed_block)), signed_block, signature, *blobs])
    content_key = nacl.utils.random(nacl.secret.SecretBox.KEY_SIZE)
    body = bytes(nacl.secret.SecretBox(content_key).encrypt(plaintext))
    wrapped = nacl.public.SealedBox(recipient).encrypt(content_key)
    header_bytes = canonical_json(header)
    return b"".join([MAGIC, bytes([VERSION]), struct.pack(">H", len(header_bytes)), header_bytes,
                     struct.pack(">H", len(wrapped)), wrapped, body])


def _split(blob: bytes) -> tuple[dict, bytes, bytes]:
    if not isinstance(blob, (bytes, bytearray, memoryview)):
        raise MalformedPacket("packet is not bytes")
    blob = bytes(blob)
    if len(blob) < 7 or blob[:4] != MAGIC:
        raise MalformedPacket("not a kiosk packet")
    if blob[4] != VERSION:
        raise MalformedPacket("unsupported packet version")
    (header_len,) = struct.unpack(">H", blob[5:7])
    if header_len > MAX_HEADER_BYTES or len(blob) < 7 + header_len + 2:
        raise MalformedPacket("bad header length")
    header_bytes = blob[7:7 + header_len]
    try:
        header = json.loads(header_bytes.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise MalformedPacket("header is not JSON") from exc
    if not isinstance(header, dict) or set(header) != {"format", "packet_id", "terminal_id", "kind"}:
        raise MalformedPacket("header fields wrong")
    if header["format"] != FORMAT:
        raise MalformedPacket("unsupported packet format")
    try:
        if _envelope_of(header) != header or canonical_json(header) != header_bytes:
            raise MalformedPacket("header not canonical")
    except (TypeError, ValueError) as exc:
        raise MalformedPacket("header not canonical") from exc
    at = 7 + header_len
    (wrapped_len,) = struct.unpack(">H", blob[at:at + 2])
    at += 2
    if wrapped_len != WRAPPED_KEY_BYTES or len(blob) < at + wrapped_len:
        raise MalformedPacket("bad wrapped key length")
    return header, blob[at:at + wrapped_len], blob[at + wrapped_len:]


def read_envelope(blob: bytes) -> Envelope:
    """The clear part of a sealed packet (no key needed, nothing verified but its form)."""
    header, _, _ = _split(blob)
    return Envelope(header["format"], header["packet_id"], header["terminal_id"], header["kind"])


def open_packet(blob: bytes, private_key: nacl.public.PrivateKey,
                verify_key: nacl.signing.VerifyKey) -> OpenedPacket:
    """Decrypt, verify the terminal's signature, and check the envelope and every file."""
    header, wrapped, body = _split(blob)
    try:
        content_key = nacl.public.SealedBox(private_key).decrypt(wrapped)
        plaintext = nacl.secret.SecretBox(content_key).decrypt(body)
    except (nacl.exceptions.CryptoError, ValueError, TypeError) as exc:
        raise DecryptionFailed("packet cannot be decrypted with this key") from exc
    if len(plaintext) < 4:
        raise MalformedPacket("inner payload too short")
    (block_len,) = struct.unpack(">I", plaintext[:4])
    if len(plaintext) < 4 + block_len + 64:
        raise MalformedPacket("inner payload truncated")
    signed_block = plaintext[4:4 + block_len]
    signature = plaintext[4 + block_len:4 + block_len + 64]
    try:
        verify_key.verify(SIGNATURE_CONTEXT + signed_block, signature)
    except (nacl.exceptions.BadSignatureError, ValueError, TypeError) as exc:
        raise BadSignature("signature does not verify with the terminal key") from exc
    try:
        block = loads_bounded(signed_block)
        manifest, index, inner_header = block["manifest"], block["files"], block["envelope"]
    except (ValueError, KeyError, TypeError, RecursionError) as exc:
        raise MalformedPacket("signed block unreadable") from exc
    if inner_header != header or _envelope_of(manifest) != header:
        raise MalformedPacket("envelope does not match the signed manifest")
    if not isinstance(index, list) or len(index) > MAX_FILES:
        raise MalformedPacket("file index unreadable")
    files: dict[str, bytes] = {}
    at = 4 + block_len + 64
    for item in index:
        if not isinstance(item, dict) or not isinstance(item.get("bytes"), int) \
                or not isinstance(item.get("sha256"), str) or item["bytes"] < 0:
            raise MalformedPacket("file index entry unreadable")
        _check_name(item["name"])
        if item["name"] in files:
            raise MalformedPacket("duplicate file name")
        data = plaintext[at:at + item["bytes"]]
        if len(data) != item["bytes"]:
            raise HashMismatch("file shorter than its size")
        if hashlib.sha256(data).hexdigest() != item["sha256"]:
            raise HashMismatch("file content differs from its hash")
        files[item["name"]] = data
        at += item["bytes"]
    if at != len(plaintext):
        raise HashMismatch("bytes left over after the last file")
    _check_entries_against_files(manifest, {i["name"]: (i["sha256"], i["bytes"]) for i in index})
    return OpenedPacket(manifest, files)
