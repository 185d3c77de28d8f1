"""The technician's prompts for an interactive `kiosk provision`: what was detected, and what
the existing site file says, are the defaults. The PIN and the token are never echoed."""
from __future__ import annotations

import contextlib
import os
import re
import tomllib
from pathlib import Path

import click

from devices.slots import LABELS, SLOT_NAMES
from kiosk.ops.provision.common import PIN_ENV, TOKEN_ENV
from kiosk.ops.provision.detect import Candidate, propose_urls
from kiosk.ops.provision.site_config import SITE_KINDS, load_preset


def answers_from_config(config_path: Path, root: Path) -> dict:
    """Answers that would write the existing site file again: the prompts' defaults when a
    provisioned terminal is provisioned again (the PIN and token are not in it)."""
    try:
        data = tomllib.loads(config_path.read_text("utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return {}
    site = dict(data.get("site") or {})
    answers = {"terminal_id": data.get("terminal_id"), "site_preset": site.pop("kind", None),
               "site": site, "backoffice": {"url": (data.get("backoffice") or {}).get("url")},
               "devices": {k: v for k, v in (data.get("devices") or {}).items() if k in SLOT_NAMES}}
    if data.get("state_dir"):
        with contextlib.suppress(ValueError):
            answers["state_dir"] = "/" + str(Path(data["state_dir"]).relative_to(root))
    return {k: v for k, v in answers.items() if v}


def ask(existing: dict, candidates: list[Candidate]) -> dict:
    """The technician's answers, with what was detected and found as the defaults."""
    a = dict(existing)
    site = dict(a.get("site") or {})
    a["terminal_id"] = click.prompt("Terminal id (e.g. 510104-ZZ-0007)",
                                    default=a.get("terminal_id") or None)
    kind = click.prompt("Site kind", type=click.Choice(SITE_KINDS),
                        default=a.get("site_preset") or "government_hall")
    a["site_preset"] = kind
    preset = load_preset(kind)
    site["id"] = click.prompt("Site id (as the back office knows it)", default=site.get("id"))
    name = site.get("name") or {}
    site["name"] = {"zh": click.prompt("Site name (Chinese)", default=name.get("zh")),
                    "en": click.prompt("Site name (English)", default=name.get("en") or "")}
    address = site.get("address") or {}
    site["address"] = {"zh": click.prompt("Address (Chinese)", default=address.get("zh") or ""),
                       "en": click.prompt("Address (English)", default=address.get("en") or "")}
    site["phone"] = click.prompt("Consultation phone",
                                 default=site.get("phone") or preset.get("phone"))
    site["branding"] = click.prompt("Branding (host bank's name; empty for none)",
                                    default=site.get("branding") or "")
    hours = site.get("opening_hours", preset.get("opening_hours", []))
    text = click.prompt("Opening hours ('mon-fri 09:00-17:00, sat 10:00-16:00'; '7x24')",
                        default=", ".join(f"{h['days']} {h['open']}-{h['close']}"
                                          for h in hours) or "7x24")
    site["opening_hours"] = parse_hours(text)
    if kind == "bank_branch":
        site["nearest_24h_station"] = click.prompt(
            "Nearest 24-hour station (shown when closed)",
            default=site.get("nearest_24h_station") or "")
    matters = site.get("enabled_matters", preset.get("enabled_matters", ["*"]))
    site["enabled_matters"] = [m.strip() for m in click.prompt(
        "Enabled matters (codes, comma separated; * = all)",
        default=", ".join(matters)).split(",") if m.strip()]
    a["site"] = site
    bo = dict(a.get("backoffice") or {})
    bo["url"] = click.prompt("Back-office URL", default=bo.get("url"))
    bo["token"] = bo.get("token") or os.environ.get(TOKEN_ENV) or click.prompt(
        "One-time enrolment token (empty if already enrolled)", default="", hide_input=True,
        show_default=False)
    a["backoffice"] = bo
    if not a.get("maintenance_pin") and not os.environ.get(PIN_ENV):
        a["maintenance_pin"] = click.prompt(
            "Technician PIN for the maintenance screen (6-12 digits; empty: keep the current "
            "one)", default="", show_default=False, hide_input=True, confirmation_prompt=True)
    proposed = propose_urls(candidates)
    devices = dict(a.get("devices") or {})
    for slot in SLOT_NAMES:
        default = devices.get(slot) or (proposed[slot].url if slot in proposed else None)
        devices[slot] = click.prompt(f"URL of the {LABELS[slot]}", default=default)
    a["devices"] = devices
    a["self_test"] = {"card_timeout_s": click.prompt(
        "Self-test: seconds to wait for a test card on the reader (0: only check the reader)",
        type=click.FloatRange(0, 300), default=20.0)}
    return a


def parse_hours(text: str) -> list[dict]:
    text = text.strip()
    if text.lower() in ("", "7x24", "24/7", "always"):
        return []
    out = []
    for part in text.split(","):
        found = re.fullmatch(r"\s*([a-z]{3}(?:-[a-z]{3})?)\s+(\d\d:\d\d)\s*-\s*(\d\d:\d\d)\s*",
                             part.lower())
        if not found:
            raise click.BadParameter(f"{part.strip()!r}: expected e.g. 'mon-fri 09:00-17:00'")
        out.append({"days": found[1], "open": found[2], "close": found[3]})
    return out
