"""kiosk-packet/1: sealing, opening, tamper detection, keys, and signed requests."""
from __future__ import annotations

import hashlib
import json
import os
import struct

import nacl.public
import nacl.secret
import nacl.signing
import pytest
import uuid6
from hypothesis import HealthCheck, given, settings, strategies as st

from protocol import packet as kp
from protocol.keys import (generate_backoffice_keypair, generate_terminal_key, load_private_key,
                           load_signing_key, public_key_from_text, public_key_text,
                           verify_key_from_text)
from protocol.signing import NonceCache, RequestRejected, sign_request, verify_request

ID_NUMBER = "110101195001011234"
NAME = "欧阳清秋"


def entry(name: str, data: bytes, media_type: str) -> dict:
    return {"name": name, "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data),
            "media_type": media_type}


def sample(terminal_id: str = "T-001") -> tuple[dict, dict[str, bytes]]:
    page = os.urandom(3000)
    pdf = b"%PDF-1.4 " + os.urandom(500)
    files = {"materials/hukou/page-001.jpg": page, "materials/hukou/hukou.pdf": pdf,
             "face/best.jpg": os.urandom(800), "commitment/signature.png": b"\x89PNG" + b"s" * 40}
    manifest = {
        "packet_id": str(uuid6.uuid7()), "kind": "application",
        "case_number": f"{terminal_id}-20250101-000001", "terminal_id": terminal_id,
        "site_id": "site-1", "created_at": "2025-01-01T22:00:00+08:00",
        "matter": {"code": "gaoling_jintie", "name_zh": "高龄津贴申请", "bundle_of": None},
        "applicant": {"card_type": "resident_id", "name": NAME, "id_number": ID_NUMBER},
        "form": {"phone": "13800138000"},
        "face": {"decision": "match", "distance": 0.38, "threshold": 0.6, "liveness": "passed",
                 "declined": False, "attempts": 1},
        "materials": [{"code": "hukou", "name_zh": "户口簿", "status": "received", "page_count": 1,
                       "files": [entry("materials/hukou/page-001.jpg", page, "image/jpeg"),
                                 entry("materials/hukou/hukou.pdf", pdf, "application/pdf")]}],
        "commitment": {"text_zh": "本人承诺", "signed_at": "2025-01-01T22:00:00+08:00",
                       "signature_file": "commitment/signature.png"},
        "evaluation": None, "timestamps": {}, "help": None}
    return manifest, files


@pytest.fixture(scope="module")
def keys():
    return nacl.signing.SigningKey.generate(), nacl.public.PrivateKey.generate()


def test_round_trip_returns_the_same_manifest_and_files(keys):
    signing, private = keys
    manifest, files = sample()
    blob = kp.seal_packet(manifest, files, signing, private.public_key)
    envelope = kp.read_envelope(blob)
    assert envelope == kp.Envelope("kiosk-packet/1", manifest["packet_id"], "T-001", "application")
    opened = kp.open_packet(blob, private, signing.verify_key)
    assert opened.manifest == manifest
    assert opened.files == files


def test_envelope_layout_is_byte_exact(keys):
    signing, private = keys
    manifest, files = sample()
    blob = kp.seal_packet(manifest, files, signing, private.public_key)
    header = ('{"format":"kiosk-packet/1","kind":"application","packet_id":"%s",'
              '"terminal_id":"T-001"}' % manifest["packet_id"]).encode()
    assert blob[:5] == b"KPKT\x01"
    assert blob[5:7] == struct.pack(">H", len(header))
    assert blob[7:7 + len(header)] == header
    at = 7 + len(header)
    assert blob[at:at + 2] == b"\x00\x50"             # wrapped key: 80 bytes
    content_key = nacl.public.SealedBox(private).decrypt(blob[at + 2:at + 82])
    plaintext = nacl.secret.SecretBox(content_key).decrypt(blob[at + 82:])
    (block_len,) = struct.unpack(">I", plaintext[:4])
    block = plaintext[4:4 + block_len]
    assert block == kp.canonical_json(json.loads(block))
    signing.verify_key.verify(kp.SIGNATURE_CONTEXT + block, plaintext[4 + block_len:68 + block_len])
    index = json.loads(block)["files"]
    assert [f["name"] for f in index] == sorted(files)
    assert plaintext[68 + block_len:] == b"".join(files[f["name"]] for f in index)


def test_nothing_personal_is_readable_in_the_sealed_bytes(keys):
    signing, private = keys
    manifest, files = sample()
    blob = kp.seal_packet(manifest, files, signing, private.public_key)
    for secret in (ID_NUMBER.encode(), NAME.encode(), "高龄津贴".encode(), b"13800138000",
                   files["face/best.jpg"][:32]):
        assert secret not in blob


def test_every_single_tampered_byte_is_rejected(keys):
    signing, private = keys
    manifest = {"packet_id": str(uuid6.uuid7()), "kind": "help_request", "terminal_id": "T9",
                "help": {"reason": "x", "step": "materials"}}
    blob = kp.seal_packet(manifest, {"a/b.png": b"0123456789"}, signing, private.public_key)
    for i in range(len(blob)):
        for flip in (0x01, 0x80):
            tampered = blob[:i] + bytes([blob[i] ^ flip]) + blob[i + 1:]
            with pytest.raises(kp.PacketError):
                kp.open_packet(tampered, private, signing.verify_key)
    with pytest.raises(kp.PacketError):
        kp.open_packet(blob + b"\x00", private, signing.verify_key)
    for n in range(len(blob)):
        with pytest.raises(kp.PacketError):
            kp.open_packet(blob[:n], private, signing.verify_key)


def test_wrong_recipient_key_is_decryption_failed(keys):
    signing, private = keys
    blob = kp.seal_packet(*sample(), signing, private.public_key)
    with pytest.raises(kp.DecryptionFailed) as info:
        kp.open_packet(blob, nacl.public.PrivateKey.generate(), signing.verify_key)
    assert info.value.reason_key == "packet.undecryptable"


def test_wrong_terminal_verify_key_is_bad_signature(keys):
    signing, private = keys
    blob = kp.seal_packet(*sample(), signing, private.public_key)
    with pytest.raises(kp.BadSignature) as info:
        kp.open_packet(blob, private, nacl.signing.SigningKey.generate().verify_key)
    assert info.value.reason_key == "packet.bad_signature"


def test_relabelled_envelope_is_refused(keys):
    """Swapping the clear header onto another packet's ciphertext is caught by the signed copy."""
    signing, private = keys
    one = kp.seal_packet(*sample(), signing, private.public_key)
    other_manifest, other_files = sample()
    two = kp.seal_packet(other_manifest, other_files, signing, private.public_key)
    header_len = struct.unpack(">H", one[5:7])[0]
    spliced = one[:7 + header_len] + two[7 + header_len:]
    with pytest.raises(kp.MalformedPacket):
        kp.open_packet(spliced, private, signing.verify_key)


def _seal_raw(signed_block: dict, blobs: list[bytes], signing, recipient,
              edit=lambda block: block) -> bytes:
    """A packet built by hand, correctly signed and encrypted, to test the inner checks
    (`edit` may change the signed block's bytes before they are signed)."""
    block = edit(kp.canonical_json(signed_block))
    plaintext = struct.pack(">I", len(block)) + block + \
        signing.sign(kp.SIGNATURE_CONTEXT + block).signature + b"".join(blobs)
    key = os.urandom(32)
    header = kp.canonical_json(signed_block["envelope"])
    wrapped = nacl.public.SealedBox(recipient).encrypt(key)
    return b"KPKT\x01" + struct.pack(">H", len(header)) + header + struct.pack(">H", len(wrapped)) \
        + wrapped + bytes(nacl.secret.SecretBox(key).encrypt(plaintext))


def nested(depth: int):
    value: list = []
    for _ in range(depth - 1):
        value = [value]
    return value


@pytest.mark.parametrize("depth", [31, 50, 5_000])
def test_manifests_nested_too_deep_are_refused_at_sealing_and_opening(keys, depth):
    manifest, files = sample()
    manifest["form"] = nested(depth - 1)                 # the manifest object is one level
    if depth <= kp.MAX_JSON_DEPTH - 1:
        assert kp.open_packet(kp.seal_packet(manifest, files, keys[0], keys[1].public_key),
                              keys[1], keys[0].verify_key).manifest["form"] == manifest["form"]
        return
    with pytest.raises(kp.MalformedPacket):
        kp.seal_packet(manifest, files, keys[0], keys[1].public_key)
    signed_block = {"envelope": kp._envelope_of(manifest), "manifest": {**manifest, "form": "deep"},
                    "files": [{"name": n, "sha256": hashlib.sha256(d).hexdigest(), "bytes": len(d)}
                              for n, d in sorted(files.items())]}
    deep = b"[" * (depth - 1) + b"]" * (depth - 1)
    blob = _seal_raw(signed_block, [files[n] for n in sorted(files)], keys[0], keys[1].public_key,
                     lambda block: block.replace(b'"deep"', deep))
    with pytest.raises(kp.MalformedPacket):
        kp.open_packet(blob, keys[1], keys[0].verify_key)


def test_json_depth_is_counted_outside_strings_only():
    text = rb'{"a": "[[[[{{{{", "b": ["\\\"]]]"]}'          # b: backslash, quote, ]]]
    assert kp.loads_bounded(text, max_depth=2) == {"a": "[[[[{{{{", "b": ['\\"]]]']}
    with pytest.raises(ValueError):
        kp.loads_bounded(b'{"a": [[1]]}', max_depth=2)
    with pytest.raises(ValueError):
        kp.loads_bounded(b'"\xff"')                     # not UTF-8


def test_signed_but_inconsistent_file_hash_is_hash_mismatch(keys):
    signing, private = keys
    packet_id = str(uuid6.uuid7())
    envelope = {"format": "kiosk-packet/1", "packet_id": packet_id, "terminal_id": "T1",
                "kind": "evaluation"}
    manifest = {"packet_id": packet_id, "terminal_id": "T1", "kind": "evaluation"}
    index = [{"name": "x/y.jpg", "sha256": hashlib.sha256(b"other").hexdigest(), "bytes": 5}]
    blob = _seal_raw({"envelope": envelope, "manifest": manifest, "files": index}, [b"hello"],
                     signing, private.public_key)
    with pytest.raises(kp.HashMismatch):
        kp.open_packet(blob, private, signing.verify_key)
    # a manifest entry that disagrees with the (correct) index
    index = [{"name": "x/y.jpg", "sha256": hashlib.sha256(b"hello").hexdigest(), "bytes": 5}]
    manifest["materials"] = [{"files": [{"name": "x/y.jpg", "sha256": "00" * 32, "bytes": 5}]}]
    blob = _seal_raw({"envelope": envelope, "manifest": manifest, "files": index}, [b"hello"],
                     signing, private.public_key)
    with pytest.raises(kp.HashMismatch):
        kp.open_packet(blob, private, signing.verify_key)


def test_signed_manifest_naming_another_packet_is_malformed(keys):
    signing, private = keys
    envelope = {"format": "kiosk-packet/1", "packet_id": str(uuid6.uuid7()), "terminal_id": "T1",
                "kind": "evaluation"}
    manifest = {"packet_id": str(uuid6.uuid7()), "terminal_id": "T1", "kind": "evaluation"}
    blob = _seal_raw({"envelope": envelope, "manifest": manifest, "files": []}, [], signing,
                     private.public_key)
    with pytest.raises(kp.MalformedPacket):
        kp.open_packet(blob, private, signing.verify_key)


@pytest.mark.parametrize("change, error", [
    (lambda m, f: m["materials"][0]["files"][0].update(sha256="ab" * 32), kp.HashMismatch),
    (lambda m, f: f.pop("materials/hukou/hukou.pdf"), kp.HashMismatch),
    (lambda m, f: m.update(kind="parcel"), kp.MalformedPacket),
    (lambda m, f: m.pop("packet_id"), kp.MalformedPacket),
    (lambda m, f: f.update({"../etc/passwd": b"x"}), kp.MalformedPacket),
    (lambda m, f: f.update({"/abs.jpg": b"x"}), kp.MalformedPacket),
    (lambda m, f: m.update(distance=float("nan")), kp.MalformedPacket),
    (lambda m, f: m.update(when=object()), kp.MalformedPacket),
])
def test_inconsistent_packets_are_refused_at_sealing(keys, change, error):
    signing, private = keys
    manifest, files = sample()
    change(manifest, files)
    with pytest.raises(error):
        kp.seal_packet(manifest, files, signing, private.public_key)


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.binary(max_size=400))
def test_arbitrary_bytes_only_raise_packet_errors(data):
    private = nacl.public.PrivateKey(b"\x01" * 32)
    verify = nacl.signing.SigningKey(b"\x02" * 32).verify_key
    for candidate in (data, b"KPKT\x01" + data):
        with pytest.raises(kp.PacketError):
            kp.open_packet(candidate, private, verify)
        try:
            kp.read_envelope(candidate)
        except kp.PacketError:
            pass


# ---- keys -------------------------------------------------------------------------------

def test_key_files_round_trip_are_private_and_never_overwritten(tmp_path):
    signing = generate_terminal_key(tmp_path / "keys" / "terminal.key")
    assert (tmp_path / "keys" / "terminal.key").stat().st_mode & 0o777 == 0o600
    assert bytes(load_signing_key(tmp_path / "keys" / "terminal.key")) == bytes(signing)
    with pytest.raises(FileExistsError):
        generate_terminal_key(tmp_path / "keys" / "terminal.key")
    assert bytes(load_signing_key(tmp_path / "keys" / "terminal.key")) == bytes(signing)
    private = generate_backoffice_keypair(tmp_path / "bo.key")
    assert bytes(load_private_key(tmp_path / "bo.key")) == bytes(private)
    pub_line = (tmp_path / "bo.key.pub").read_text()
    assert public_key_from_text(pub_line) == private.public_key
    assert public_key_from_text(public_key_text(private)) == private.public_key
    assert verify_key_from_text(public_key_text(signing)) == signing.verify_key
    with pytest.raises(ValueError):
        load_private_key(tmp_path / "keys" / "terminal.key")   # a key of the other kind
    with pytest.raises(ValueError):
        verify_key_from_text("bm90IGEga2V5")
    assert sorted(p.name for p in (tmp_path / "keys").iterdir()) == ["terminal.key"]


# ---- signed requests --------------------------------------------------------------------

def test_signed_request_verifies_with_any_header_case():
    signing = nacl.signing.SigningKey.generate()
    body = b'{"id_number": "x"}'
    headers = sign_request(signing, "T1", "post", "/api/v1/cases/lookup", body, now=1000)
    assert set(headers) == {"X-Terminal-Id", "X-Timestamp", "X-Nonce", "X-Signature"}
    assert headers["X-Timestamp"] == "1000" and len(headers["X-Nonce"]) == 32
    verify_request(signing.verify_key, "POST", "/api/v1/cases/lookup", headers, body, now=1100)
    lower = {k.lower(): v for k, v in headers.items()}
    verify_request(signing.verify_key, "POST", "/api/v1/cases/lookup", lower, body, now=900)


@pytest.mark.parametrize("method, path, body, verify_with, reason", [
    ("POST", "/api/v1/packets", b"other body", None, "bad_signature"),
    ("POST", "/api/v1/heartbeats", b"body", None, "bad_signature"),
    ("GET", "/api/v1/packets", b"body", None, "bad_signature"),
    ("POST", "/api/v1/packets", b"body", "other", "bad_signature"),
])
def test_altered_requests_are_rejected(method, path, body, verify_with, reason):
    signing = nacl.signing.SigningKey.generate()
    headers = sign_request(signing, "T1", "POST", "/api/v1/packets", b"body", now=1000)
    key = signing.verify_key if verify_with is None else nacl.signing.SigningKey.generate().verify_key
    with pytest.raises(RequestRejected) as info:
        verify_request(key, method, path, headers, body, now=1000)
    assert info.value.reason == reason and info.value.reason_key == f"request.{reason}"


def test_stale_timestamp_missing_headers_and_replayed_nonce():
    signing = nacl.signing.SigningKey.generate()
    headers = sign_request(signing, "T1", "POST", "/p", b"", now=10_000)
    for now in (10_301, 9_699):
        with pytest.raises(RequestRejected) as info:
            verify_request(signing.verify_key, "POST", "/p", headers, b"", now=now)
        assert info.value.reason == "stale_timestamp"
    for missing in headers:
        partial = {k: v for k, v in headers.items() if k != missing}
        with pytest.raises(RequestRejected) as info:
            verify_request(signing.verify_key, "POST", "/p", partial, b"", now=10_000)
        assert info.value.reason == "missing_headers"
    nonces = NonceCache(window_s=600)
    verify_request(signing.verify_key, "POST", "/p", headers, b"", now=10_000, nonces=nonces)
    with pytest.raises(RequestRejected) as info:
        verify_request(signing.verify_key, "POST", "/p", headers, b"", now=10_001, nonces=nonces)
    assert info.value.reason == "replayed" and "replayed" in str(info.value)
    fresh = sign_request(signing, "T1", "POST", "/p", b"", now=10_002)
    verify_request(signing.verify_key, "POST", "/p", fresh, b"", now=10_002, nonces=nonces)
    # a forged request must not burn the nonce of a real one
    forged = dict(sign_request(signing, "T1", "POST", "/p", b"", now=10_003), **{
        "X-Signature": fresh["X-Signature"]})
    with pytest.raises(RequestRejected):
        verify_request(signing.verify_key, "POST", "/p", forged, b"", now=10_003, nonces=nonces)
    real = sign_request(signing, "T1", "POST", "/p", b"", now=10_003, nonce=forged["X-Nonce"])
    verify_request(signing.verify_key, "POST", "/p", real, b"", now=10_003, nonces=nonces)


def test_nonce_cache_forgets_after_its_window():
    nonces = NonceCache(window_s=600)
    assert nonces.remember("T1", "n", 0) and not nonces.remember("T1", "n", 599)
    assert nonces.remember("T2", "n", 599)
    assert nonces.remember("T1", "n", 1300)
