"""Test kit of the end-to-end tests: the real back office and uploader as processes, a kiosk
on emulated devices wired to the real outbox, and checks of what the back office stored.

- `BackofficeProcess`, `UploaderProcess`, `outbox_status`, `outbox_rows`, `wait_drained`:
  tests/kit/terminal_processes.py (shared with benchmarks/soak.py), re-exported here.
- `Kiosk`: DemoDevices (wire-level emulators) + Terminal + Outbox enrolled with the back office,
  driven by `kiosk.visit.scripted_applicant.drive` exactly as `kiosk simulate` drives it.
- `stored_packets(...)`: every packet the back office holds, opened from ITS stored sealed copy
  with its private key and the terminal key it registered, files compared through its vault.
- `receipt_case_numbers(paper_dir)`: the case numbers in the QR codes of the printed receipts.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tests.kit.terminal_processes import (BIN, TERMINAL_ID, BackofficeProcess,  # noqa: E402,F401
                                          UploaderProcess, free_port, outbox_rows,
                                          outbox_status, wait_drained, wait_until)

SITE_ID = "e2e-site"


# ---- what the back office holds ---------------------------------------------------------------

@dataclass
class StoredPacket:
    packet_id: str
    kind: str
    case_number: str | None
    manifest: dict
    files: dict[str, bytes]


def stored_packets(data_dir: Path, terminal_verify_key_b64: str,
                   terminal_id: str = TERMINAL_ID) -> dict[str, StoredPacket]:
    """Every packet in the back office, re-opened from its stored sealed copy and cross-checked
    with what intake stored: the encrypted manifest, and each case file through the vault."""
    from sqlalchemy import select

    from backoffice.app import Services
    from backoffice.db import CaseFile, Packet, Terminal
    from backoffice.settings import Settings
    from protocol import packet as kp
    from protocol.keys import verify_key_from_text

    services = Services.start(Settings.for_data_dir(data_dir))
    out: dict[str, StoredPacket] = {}
    try:
        with services.db.read() as s:
            terminal = s.get(Terminal, terminal_id)
            assert terminal is not None and terminal.public_key == terminal_verify_key_b64, \
                "the back office registered another key for the terminal"
            verify_key = verify_key_from_text(terminal.public_key)
            for packet in s.scalars(select(Packet).where(Packet.terminal_id == terminal_id)
                                    .order_by(Packet.id)):
                sealed = (services.store.root / "raw" / f"{packet.packet_id}.sealed").read_bytes()
                assert hashlib.sha256(sealed).hexdigest() == packet.sha256
                # decrypts (back-office key), verifies (terminal signature), checks every hash
                opened = kp.open_packet(sealed, services.private_key, verify_key)
                manifest = opened.manifest
                assert manifest["packet_id"] == packet.packet_id
                assert manifest.get("case_number") == packet.case_number
                stored_manifest = json.loads(services.vault.decrypt(packet.manifest_enc))
                # all of it but the receipt's progress token, kept only as its hash
                assert stored_manifest == {k: v for k, v in manifest.items()
                                           if k != "progress_token"}
                described = {e["name"]: e for e in manifest.get("files", [])}
                assert set(described) == set(opened.files), "manifest file list differs"
                files = s.scalars(select(CaseFile).where(CaseFile.packet_id == packet.packet_id)).all()
                assert sorted(f.path for f in files) == sorted(opened.files)
                for f in files:
                    data = services.store.get(f.storage_key)      # through the vault
                    assert hashlib.sha256(data).hexdigest() == f.sha256 == \
                        described[f.path]["sha256"]
                    assert data == opened.files[f.path]
                out[packet.packet_id] = StoredPacket(packet.packet_id, packet.kind,
                                                     packet.case_number, manifest, opened.files)
    finally:
        services.db.dispose()
    return out


def case_rows(data_dir: Path) -> dict[str, dict]:
    """case_number -> {status, matter_code, events: [(action, to_status, comment)], files}."""
    from sqlalchemy import select

    from backoffice.app import Services
    from backoffice.db import Case
    from backoffice.settings import Settings
    services = Services.start(Settings.for_data_dir(data_dir))
    try:
        with services.db.read() as s:
            return {c.case_number: {
                "status": c.status, "matter_code": c.matter_code,
                "events": [(e.action, e.to_status, e.comment) for e in c.events],
                "files": [(f.packet_id, f.path) for f in c.files],
                "supplements": [(r.materials, r.fulfilled_packet_id) for r in c.supplements]}
                for c in s.scalars(select(Case))}
    finally:
        services.db.dispose()


def receipt_qr_texts(paper_dir: Path) -> list[str]:
    """Decode the progress QR code on every printed receipt (the emulator's paper), in order.
    (OpenCV's classic detector alone, which this used, misses about one receipt in a hundred:
    one test in thirty failed.)"""
    from tests.kit.paper import qr_text_on_paper
    texts = []
    for png in sorted(Path(paper_dir).glob("*.png")):
        text = qr_text_on_paper(png)
        assert text, f"no readable QR code on {png.name}"
        texts.append(text)
    return texts


def receipt_case_numbers(paper_dir: Path) -> list[str]:
    """The case number each printed receipt's QR code names (`<base>/progress/<case>`)."""
    return [urlsplit(t).path.rstrip("/").rsplit("/", 1)[-1] for t in receipt_qr_texts(paper_dir)]


# ---- a kiosk on emulated devices with the real outbox -------------------------------------------

class Kiosk:
    """One terminal: emulated devices at the wire level, the real session and outbox."""

    def __init__(self, work: Path, backoffice: BackofficeProcess, face_verifier=None,
                 progress_client_factory=None):
        from flows.catalog import load_catalog
        from kiosk.config import load_config
        from kiosk.link.outbox import Outbox
        from kiosk.app.demo_devices import DemoDevices
        from kiosk.app.terminal import Terminal
        from kiosk.link.enrolment import enrol
        from protocol.keys import load_signing_key, public_key_text

        self.work = Path(work)
        self.catalog = load_catalog()
        self.demo = DemoDevices(self.work / "devices")
        urls = self.demo.start()
        self.state_dir = self.work / "state"
        self.config = load_config(None, {
            "terminal_id": TERMINAL_ID, "state_dir": str(self.state_dir), "devices": urls,
            "backoffice": {"url": backoffice.url},
            "site": {"id": SITE_ID}, "timeouts": {"receipt_take_s": 1, "idle_s": 300}})
        keys = self.state_dir / "keys"
        public = enrol(backoffice.url, backoffice.create_token(TERMINAL_ID, SITE_ID),
                       TERMINAL_ID, keys)
        signing = load_signing_key(keys / "terminal.key")
        self.verify_key_b64 = public_key_text(signing)
        self.outbox = Outbox(self.state_dir, TERMINAL_ID, SITE_ID, signing, public,
                             min_free_bytes=0)
        extra = {}
        if progress_client_factory is not None:
            extra["progress"] = progress_client_factory(backoffice.url, TERMINAL_ID, signing)
        self.terminal = Terminal(self.config, self.catalog, self.outbox,
                                 face_verifier=face_verifier, **extra).start()
        self.session = self.terminal.session

    @property
    def paper_dir(self) -> Path:
        return self.work / "devices" / "paper"

    def visit(self, code: str, answers: dict | None = None, timeout: float = 120):
        """One whole visit by the scripted applicant; returns the autopilot (outcome, case)."""
        from kiosk.visit.scripted_applicant import ScriptedApplicant, drive
        from kiosk.app.demo_devices import choose_card, switch_demo_card
        name = (answers or {}).get("card") or choose_card(self.catalog, code, self.demo.cards)
        switch_demo_card(self.terminal, self.demo, name)
        self.last_card = name
        pilot = drive(self.session, ScriptedApplicant(dict(answers or {})), code, timeout=timeout)
        self.demo.remove_card()
        wait_until(lambda: self.session.snapshot.screen == "attract", 15, "the attract screen")
        return pilot

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.terminal.close()
        with contextlib.suppress(Exception):
            self.demo.stop()
        with contextlib.suppress(Exception):
            self.outbox.close()
