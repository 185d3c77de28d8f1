"""Step 4: enrol with the back office using the one-time token.

The terminal key is generated on the first run and kept afterwards; a terminal that is
enrolled (with this id, at this back office) is not enrolled again unless --reenrol. Enrolment
goes through a staging folder, so a refusal leaves nothing new in the key folder.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import os
import shutil
import tempfile
from pathlib import Path

from kiosk.ops.provision.common import TOKEN_ENV, ProvisionError
from protocol.atomic import write_atomic

log = logging.getLogger(__name__)

ENROLMENT_FILE = "enrolment.json"


def enrolment_of(key_dir: Path) -> dict | None:
    """The recorded enrolment, if the key and the back office's public key are both there."""
    from kiosk.link.enrolment import BACKOFFICE_PUBLIC_KEY_FILE, TERMINAL_KEY_FILE
    try:
        record = json.loads((key_dir / ENROLMENT_FILE).read_text("utf-8"))
    except (OSError, ValueError):
        return None
    if not ((key_dir / TERMINAL_KEY_FILE).exists()
            and (key_dir / BACKOFFICE_PUBLIC_KEY_FILE).exists()):
        return None
    return record if isinstance(record, dict) else None


def enrol_terminal(url: str, token: str, terminal_id: str, key_dir: Path) -> None:
    """Enrol through a staging folder: on refusal nothing new is left in key_dir; the existing
    terminal key (if any) is the one that is enrolled."""
    from kiosk.link.enrolment import (BACKOFFICE_PUBLIC_KEY_FILE, TERMINAL_KEY_FILE,
                                      EnrolmentFailed, enrol)
    with tempfile.TemporaryDirectory(prefix="kiosk-enrol-") as tmp:
        staging = Path(tmp)
        if (key_dir / TERMINAL_KEY_FILE).exists():
            shutil.copy2(key_dir / TERMINAL_KEY_FILE, staging / TERMINAL_KEY_FILE)
        try:
            enrol(url, token, terminal_id, staging)
        except EnrolmentFailed as exc:
            hint = ("check the token (it is single-use, expires, and is bound to this terminal "
                    "id) and ask the back office for a new one"
                    if exc.reason_key == "uploader.enrol_refused" else
                    "check the back-office URL and the network (cable, Wi-Fi, firewall)")
            raise ProvisionError(f"enrolment with {url} failed: {exc}; {hint}. Nothing was "
                                 "written.") from None
        if not (staging / BACKOFFICE_PUBLIC_KEY_FILE).exists():
            raise ProvisionError("enrolment answered without the back office's key; nothing "
                                 "was written")
        key_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(key_dir, 0o700)
        for src in sorted(p for p in staging.iterdir() if p.is_file() and p.name[0] != "."):
            if src.name == TERMINAL_KEY_FILE and (key_dir / TERMINAL_KEY_FILE).exists():
                continue                     # the key that was enrolled is the one already here
            write_atomic(key_dir / src.name, src.read_bytes(), 0o600)
    record = {"terminal_id": terminal_id, "backoffice_url": url,
              "enrolled_at": dt.datetime.now().astimezone().isoformat(timespec="seconds")}
    write_atomic(key_dir / ENROLMENT_FILE, json.dumps(record).encode(), 0o600)
    log.info("provision: terminal enrolled terminal=%s", terminal_id)


def enrol_if_needed(answers: dict, url: str, terminal_id: str, key_dir: Path,
                     reenrol: bool) -> str:
    enrolled = enrolment_of(key_dir)
    if enrolled and not reenrol and enrolled.get("terminal_id") == terminal_id \
            and enrolled.get("backoffice_url") == url:
        return f"already enrolled at {enrolled.get('enrolled_at')}; key kept"
    token = str((answers.get("backoffice") or {}).get("token") or os.environ.get(TOKEN_ENV) or "")
    if not token:
        raise ProvisionError(f"no enrolment token: give backoffice.token in the answers file or "
                             f"${TOKEN_ENV} (create one with `backoffice token create "
                             f"--terminal-id {terminal_id}`)")
    key_kept = (key_dir / "terminal.key").exists()
    enrol_terminal(url, token, terminal_id, key_dir)
    return "enrolled with the token" + ("; existing key kept" if key_kept else "; new key")
