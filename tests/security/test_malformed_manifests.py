"""Attack: a terminal key in the wrong hands sends validly signed packets whose manifests have
the wrong shapes (a list where an object is expected, a number where a string is, nesting
thousands deep). The back office must refuse each with a 4xx and a reason key, never a 500
(the uploader would retry a 500 for ever), and must not store anything for a refused packet."""
from __future__ import annotations

import datetime as dt
import hashlib
import itertools

import pytest
import uuid6
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from protocol import packet as kp
from security_kit import (assert_refused_or_accepted, header_of, index_of, seal_block,
                          seal_unchecked, tiny_jpeg)

ID_NUMBER = "110101195001011234"
PAGE = tiny_jpeg()           # a real image: intake decodes every file (file_types.py)
_sequence = itertools.count(1)

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-2**70, max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=3),
    max_leaves=8)
DELETE = object()
PATHS = [("kind",), ("case_number",), ("site_id",), ("created_at",), ("matter",),
         ("matter", "code"), ("matter", "name_zh"), ("applicant",), ("applicant", "id_number"),
         ("applicant", "name"), ("timestamps",), ("timestamps", "submitted_at"), ("help",),
         ("help", "reason"), ("help", "step"), ("evaluation",), ("evaluation", "level"),
         ("evaluation", "comment"), ("materials",), ("materials", 0), ("materials", 0, "code"),
         ("materials", 0, "files"), ("materials", 0, "files", 0, "media_type"), ("files",),
         ("files", 0), ("files", 0, "media_type"), ("files", 0, "bytes"), ("form",), ("face",),
         ("commitment",)]
MUTATIONS = st.lists(st.tuples(st.sampled_from(PATHS), JSON_VALUES | st.just(DELETE)),
                     min_size=1, max_size=4)


def entry(name: str, data: bytes) -> dict:
    return {"name": name, "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data),
            "media_type": "image/jpeg"}


def base_manifest(terminal, kind: str, case_number: str | None) -> tuple[dict, dict]:
    """A well-formed manifest of `kind` (the starting point every mutation breaks)."""
    now = dt.datetime.now().astimezone().isoformat(timespec="seconds")
    name = "materials/hukou/page-001.jpg"
    files = {name: PAGE} if kind in ("application", "supplement") else {}
    manifest = {
        "format": kp.FORMAT, "kind": kind, "packet_id": str(uuid6.uuid7()),
        "terminal_id": terminal.terminal_id, "site_id": "site-1", "created_at": now,
        "case_number": case_number,
        "matter": {"code": "gaoling_jintie", "name_zh": "高龄津贴申请", "bundle_of": None},
        "applicant": {"card_type": "resident_id", "name": "王小明", "id_number": ID_NUMBER},
        "form": {"phone": "13800138000"}, "face": None, "commitment": None,
        "materials": [{"code": "hukou", "name_zh": "户口簿", "status": "received",
                       "page_count": len(files), "files": [entry(n, d) for n, d in files.items()]}],
        "evaluation": {"level": 4, "comment": "好"} if kind == "evaluation" else None,
        "help": {"reason": "camera_cannot_read_page", "step": "materials"}
        if kind == "help_request" else None,
        "timestamps": {"started_at": now, "identity_at": now, "submitted_at": now},
        "files": [entry(n, d) for n, d in files.items()]}
    return manifest, files


def new_case_number(terminal) -> str:
    return f"{terminal.terminal_id}-{dt.date.today():%Y%m%d}-{next(_sequence):06d}"


def mutate(manifest: dict, path: tuple, value) -> None:
    """Put `value` at `path` (or delete it) when the containers on the way exist."""
    node = manifest
    for step in path[:-1]:
        if isinstance(node, dict) and isinstance(step, str) and isinstance(node.get(step),
                                                                           (dict, list)):
            node = node[step]
        elif isinstance(node, list) and isinstance(step, int) and step < len(node) \
                and isinstance(node[step], (dict, list)):
            node = node[step]
        else:
            return
    last = path[-1]
    if isinstance(node, dict) and isinstance(last, str):
        if value is DELETE:
            node.pop(last, None)
        else:
            node[last] = value
    elif isinstance(node, list) and isinstance(last, int) and last < len(node):
        if value is DELETE:
            del node[last]
        else:
            node[last] = value


@pytest.fixture(scope="module")
def attacker(new_terminal):
    """An enrolled terminal with one accepted case (so supplements and evaluations reach the
    code that updates a case)."""
    terminal = new_terminal()
    manifest, files = base_manifest(terminal, "application", new_case_number(terminal))
    response = terminal.send_packet(terminal.seal(manifest, files))
    assert response.status_code == 201, response.text
    terminal.case_number = manifest["case_number"]
    return terminal


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kind=st.sampled_from(kp.KINDS), mutations=MUTATIONS)
def test_type_confused_manifests_are_refused_with_a_reason_never_a_500(attacker, kind, mutations):
    case_number = new_case_number(attacker) if kind == "application" else \
        attacker.case_number if kind in ("supplement", "evaluation") else None
    manifest, files = base_manifest(attacker, kind, case_number)
    for path, value in mutations:
        mutate(manifest, path, value)
    blob = seal_unchecked(manifest, files, attacker.signing_key, attacker.recipient, kind)
    assert_refused_or_accepted(attacker.send_packet(blob))


@pytest.mark.parametrize("depth", [40, 900, 5_000, 200_000])
def test_deeply_nested_manifest_is_refused_with_a_reason(attacker, depth):
    manifest, files = base_manifest(attacker, "application", new_case_number(attacker))
    manifest["form"] = "__deep__"
    header = header_of(manifest["packet_id"], attacker.terminal_id, "application")
    block = kp.canonical_json({"envelope": header, "files": index_of(files), "manifest": manifest})
    block = block.replace(b'"__deep__"', b"[" * depth + b"]" * depth)
    response = attacker.send_packet(seal_block(block, header, files, attacker.signing_key,
                                               attacker.recipient))
    assert_refused_or_accepted(response)
    assert response.status_code == 422 and response.json()["error"] == "backoffice.packet.malformed"


@pytest.mark.parametrize("field,value", [
    ("case_number", 20250101), ("case_number", ["T-1-20250101-000001"]),
    ("applicant", ["110101195001011234"]), ("applicant", {"id_number": 110101195001011234}),
    ("matter", "gaoling_jintie"), ("timestamps", ["2025-01-01T00:00:00+08:00"]),
    ("files", {"name": "x"})])
def test_each_known_type_confusion_is_a_422(attacker, field, value):
    manifest, files = base_manifest(attacker, "application", new_case_number(attacker))
    manifest[field] = value
    response = attacker.send_packet(seal_unchecked(manifest, files, attacker.signing_key,
                                                   attacker.recipient, "application"))
    assert_refused_or_accepted(response)
    assert response.status_code == 422, response.text
