"""The provisioning procedure: the six steps in order, and the report left in
STATE_DIR/provision.json (see kiosk/ops/provision/__init__.py for the whole story)."""
from __future__ import annotations

import datetime as dt
import json
import logging
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from kiosk import __version__
from kiosk.ops.provision.common import ProvisionError, say, under
from kiosk.ops.provision.detect import Candidate, detect_devices, device_urls
from kiosk.ops.provision.device_check import check_devices
from kiosk.ops.provision.enrolment import enrol_if_needed
from kiosk.ops.provision.self_test import self_test
from kiosk.ops.provision.site_config import (build_config, pin_hash, to_toml, validate,
                                             write_site_files)
from kiosk.ops.provision.units import install_units, own_by_kiosk_user
from protocol.atomic import write_atomic

log = logging.getLogger(__name__)

REPORT_FILE = "provision.json"


@dataclass
class Report:
    terminal_id: str = ""
    site_id: str = ""
    devices: dict = field(default_factory=dict)
    enrolment: str = ""
    units: list = field(default_factory=list)
    self_test: list = field(default_factory=list)


def _checked_options(answers: dict) -> tuple[str, bool, float]:
    url = str((answers.get("backoffice") or {}).get("url") or "")
    if not re.fullmatch(r"https?://[^\s/]+\S*", url):
        raise ProvisionError(f"backoffice.url: expected http(s)://host[:port], got {url!r}")
    problem = answers.get("on_device_problem", "stop")
    if problem not in ("stop", "continue"):
        raise ProvisionError("on_device_problem: stop or continue")
    try:
        card_timeout = float((answers.get("self_test") or {}).get("card_timeout_s", 0))
    except (TypeError, ValueError, AttributeError):
        raise ProvisionError("self_test.card_timeout_s: a number of seconds") from None
    return url, problem == "continue", card_timeout


def provision(answers: dict, root: Path, reenrol: bool = False, interactive: bool = False,
              candidates: list[Candidate] | None = None) -> tuple[Report, bool]:
    """Run the whole procedure; returns the report and whether every self-test passed."""
    from kiosk.link.enrolment import load_backoffice_public_key
    from protocol.keys import public_key_text
    root = Path(root).resolve()
    report = Report(terminal_id=str(answers.get("terminal_id") or ""))
    terminal_id = report.terminal_id
    backoffice_url, go_on, card_timeout = _checked_options(answers)
    state_dir = under(root, answers.get("state_dir") or "/var/lib/kiosk")
    key_dir = state_dir / "keys"
    config_path = under(root, "/etc/kiosk/kiosk.toml")
    if root == Path("/") and state_dir != Path("/var/lib/kiosk"):
        say(f"note: the systemd units use /var/lib/kiosk, not {state_dir}; adjust them")

    say("1. Devices")
    candidates = detect_devices(root) if candidates is None else candidates
    for c in candidates:
        say(f"  found {c.source} -> {c.slot or 'unknown serial device'}")
    urls = device_urls(answers, candidates)

    header = (f"Site configuration of terminal {terminal_id}, written by `kiosk provision` "
              f"(kiosk {__version__}).\nKeys: see config/default.toml. Unknown keys are errors.")
    draft = build_config(answers, urls, state_dir, pin_hash(answers, config_path), "")
    config = validate(to_toml(draft, header))        # before anything is opened or written
    report.site_id = config.site.id
    say(f"2. Site: {config.site.id} ({config.site.kind}) {config.site.name.get('zh')}")

    say("3. Checking devices")
    urls, report.devices = check_devices(dict(urls), interactive, go_on)
    draft["devices"] = {**draft["devices"], **urls}

    say("4. Enrolment")
    report.enrolment = enrol_if_needed(answers, backoffice_url, terminal_id, key_dir, reenrol)
    say(f"  {report.enrolment}")
    draft["backoffice"]["public_key"] = public_key_text(load_backoffice_public_key(key_dir))
    text = to_toml(draft, header)
    config = validate(text)
    write_site_files(config_path, text, terminal_id, backoffice_url, state_dir)
    say(f"  configuration written: {config_path}, {config_path.parent / 'uploader.env'}")

    say("5. Services")
    report.units = install_units(root)
    for line in report.units:
        say(f"  {line}")

    say("6. Self-test")
    checks = self_test(config, card_timeout)
    report.self_test = [{"name": c.name, "ok": c.ok, "detail": c.detail} for c in checks]
    for c in checks:
        say(f"  {c.name:11} {'PASS' if c.ok else 'FAIL'} {c.detail}")
    all_ok = all(c.ok for c in checks)
    write_atomic(state_dir / REPORT_FILE, json.dumps(
        {**asdict(report), "at": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
         "version": __version__, "ok": all_ok}, ensure_ascii=False, indent=2).encode(), 0o640)
    if root == Path("/"):              # last: the self-test created the outbox database
        own_by_kiosk_user(config_path.parent, state_dir)
    log.info("provision finished terminal=%s site=%s ok=%s", terminal_id, config.site.id, all_ok)
    return report, all_ok
