"""Step 3: the site configuration, from the answers and a site preset, validated as the kiosk
loads it; written (0640, with the uploader's environment file) once enrolment succeeded.

Presets are config/site-presets/ (government_hall, bank_branch). Answers are YAML (see
docs/provisioning.md); unknown answers are errors. The PIN is kept as a hash only.
"""
from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
import tomllib
from pathlib import Path

import yaml

from flows.text_files import NotUtf8, read_utf8
from kiosk.ops.provision.common import PIN_ENV, REPO, ProvisionError
from protocol.atomic import write_atomic

PRESETS_DIR = REPO / "config" / "site-presets"
SITE_KINDS = ("government_hall", "bank_branch")
ANSWER_KEYS = {"terminal_id", "site_preset", "site", "backoffice", "devices", "maintenance_pin",
               "language", "state_dir", "settings", "self_test", "on_device_problem"}


def load_answers(path: Path) -> dict:
    try:
        data = yaml.safe_load(read_utf8(path)) or {}
    except NotUtf8 as exc:
        raise ProvisionError(str(exc)) from None
    except (OSError, yaml.YAMLError) as exc:
        raise ProvisionError(f"{path}: cannot read the answers file: {exc}") from None
    if not isinstance(data, dict):
        raise ProvisionError(f"{path}: the answers file must be a mapping (key: value lines)")
    unknown = sorted(set(data) - ANSWER_KEYS)
    if unknown:
        raise ProvisionError(f"{path}: unknown answer(s) {', '.join(unknown)}; known: "
                             + ", ".join(sorted(ANSWER_KEYS)))
    return data


def load_preset(kind: str) -> dict:
    if kind not in SITE_KINDS:
        raise ProvisionError(f"site_preset {kind!r} is not known; choose one of: "
                             + ", ".join(SITE_KINDS))
    with open(PRESETS_DIR / f"{kind}.toml", "rb") as fh:
        return tomllib.load(fh)


def build_site(answers: dict) -> dict:
    given = answers.get("site") or {}
    if not isinstance(given, dict):
        raise ProvisionError("site: must be a mapping (id, name, address, phone, ...)")
    kind = answers.get("site_preset") or given.get("kind") or "government_hall"
    site = {**load_preset(kind), **given, "kind": kind}
    for key in ("name", "address"):
        if isinstance(site.get(key), str):
            site[key] = {"zh": site[key], "en": ""}
    missing = [k for k in ("id", "name") if not site.get(k)]
    if missing:
        raise ProvisionError(f"site: {', '.join(missing)} must be given (the site id as the back "
                             "office knows it, and its name in Chinese and English)")
    if kind == "bank_branch" and not str(site.get("branding", "")).strip():
        raise ProvisionError("site: a bank_branch site needs branding (the host bank's name, "
                             "shown on the attract screen)")
    from flows.catalog import load_catalog
    known = load_catalog().matters
    unknown = [c for c in site.get("enabled_matters", ()) if c != "*" and c not in known]
    if unknown:
        raise ProvisionError(f"site.enabled_matters: unknown matter code(s) {', '.join(unknown)}"
                             "; see 'kiosk catalog list'")
    return site


def _merge(base: dict, extra: dict) -> dict:
    out = dict(base)
    for key, value in extra.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(
            out.get(key), dict) else value
    return out


def build_config(answers: dict, devices: dict[str, str], state_dir: Path, pin_hash: str,
                 backoffice_public_key: str) -> dict:
    backoffice = answers.get("backoffice") or {}
    settings = answers.get("settings") or {}
    if not isinstance(settings, dict):
        raise ProvisionError("settings: must be a mapping of configuration tables")
    for key in ("terminal_id", "site", "backoffice", "state_dir", "maintenance"):
        if key in settings:
            raise ProvisionError(f"settings.{key}: give it at the top of the answers file, not "
                                 "under settings")
    config = {"terminal_id": str(answers.get("terminal_id") or ""), "state_dir": str(state_dir),
              "language": answers.get("language", "zh"), "site": build_site(answers),
              "devices": dict(devices),
              "backoffice": {"url": str(backoffice.get("url") or ""),
                             "public_key": backoffice_public_key},
              "maintenance": {"pin_hash": pin_hash}}
    return _merge(config, settings)


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{_toml_key(k)} = {_toml_value(v)}"
                                for k, v in value.items()) + " }"
    raise ProvisionError(f"cannot write {value!r} to the configuration")


def _toml_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key, ensure_ascii=False)


def to_toml(config: dict, header: str) -> str:
    lines = [f"# {line}" if line else "#" for line in header.splitlines()] + [""]
    tables = {k: v for k, v in config.items() if isinstance(v, dict)}
    for key, value in config.items():
        if key not in tables:
            lines.append(f"{_toml_key(key)} = {_toml_value(value)}")
    for name, table in tables.items():
        lines += ["", f"[{_toml_key(name)}]"]
        for key, value in table.items():
            lines.append(f"{_toml_key(key)} = {_toml_value(value)}")
    return "\n".join(lines) + "\n"


def validate(text: str):
    """The KioskConfig this file text gives, loaded exactly as the kiosk loads it."""
    from kiosk.config import ConfigInvalid, load_config
    with tempfile.TemporaryDirectory(prefix="kiosk-provision-") as tmp:
        path = Path(tmp) / "kiosk.toml"
        path.write_text(text, encoding="utf-8")
        try:
            return load_config(path)
        except ConfigInvalid as exc:
            raise ProvisionError("the configuration would be invalid:\n"
                                 + str(exc).replace(str(path), "answers")) from None


def pin_hash(answers: dict, config_path: Path) -> str:
    """The new PIN's hash; the existing hash when the PIN is unchanged or not given."""
    from kiosk.ops.technician import check_pin, hash_pin
    existing = ""
    if config_path.exists():
        with contextlib.suppress(OSError, tomllib.TOMLDecodeError, AttributeError):
            existing = tomllib.loads(config_path.read_text("utf-8")).get(
                "maintenance", {}).get("pin_hash", "")
    pin = str(answers.get("maintenance_pin") or os.environ.get(PIN_ENV) or "")
    if not pin:
        return existing
    if not re.fullmatch(r"\d{6,12}", pin):
        raise ProvisionError("maintenance_pin: 6 to 12 digits (the technician types it on the "
                             "touchscreen)")
    return existing if existing and check_pin(pin, existing) else hash_pin(pin)


def write_site_files(config_path: Path, text: str, terminal_id: str, url: str,
                      state_dir: Path) -> None:
    config_path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(config_path.parent, 0o750)              # as systemd/kiosk.tmpfiles.conf has it
    write_atomic(config_path, text.encode("utf-8"), 0o640)
    # what kiosk-uploader.service reads (EnvironmentFile=/etc/kiosk/uploader.env)
    write_atomic(config_path.parent / "uploader.env", (
        f"KIOSK_TERMINAL_ID={terminal_id}\nKIOSK_BACKOFFICE_URL={url}\n"
        f"KIOSK_STATE_DIR={state_dir}\n").encode("utf-8"), 0o640)
    os.chmod(state_dir, 0o700)
