"""Layered kiosk configuration: packaged defaults, then the site file, validated at start.

Order: `config/default.toml` (shipped), then the site file (`--config`, else `$KIOSK_CONFIG`,
else `/etc/kiosk/kiosk.toml` if it exists). Tables merge key by key. A site profile published
by the back office and applied on this terminal (state_dir/site-profile/current/site.toml, see
kiosk/link/updates.py) then replaces the whole [site] table, whose schema `Site` is in
protocol/site_profile.py (the back office checks the profiles it publishes with it). The result
is validated by pydantic; a wrong value raises `ConfigInvalid` whose message names the file that
set the key, the key, and what is allowed — the CLI prints it and exits, never a traceback.
"""
from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from flows.text_files import NotUtf8, read_utf8
from protocol.site_profile import Site

DEFAULTS_FILE = Path(__file__).resolve().parent.parent / "config" / "default.toml"
SITE_FILE = Path("/etc/kiosk/kiosk.toml")
SITE_PROFILE = Path("site-profile") / "current" / "site.toml"   # see kiosk/link/updates.py


class ConfigInvalid(Exception):
    pass


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DevicesSection(_Model):
    """`[devices]`: one URL per device slot (see devices/registry.py)."""

    id_card: str
    printer: str
    camera: str
    doc_camera: str
    wlt_library: str = ""
    printer_width_dots: Literal[384, 576] = 576


class Backoffice(_Model):
    url: str = Field(pattern=r"^https?://")
    public_key: str = ""


class Face(_Model):
    threshold: float = Field(gt=0.2, lt=0.8)
    max_attempts: int = Field(ge=1, le=10)


class Timeouts(_Model):
    idle_s: float = Field(ge=10, le=900)
    idle_warning_s: float = Field(ge=5, le=120)
    card_read_s: float = Field(ge=5, le=600)
    face_s: float = Field(ge=5, le=300)
    receipt_take_s: float = Field(ge=1, le=120)


class Voice(_Model):
    rate: int = Field(ge=60, le=400)
    elder_rate_factor: float = Field(ge=0.3, le=1.0)
    volume: float = Field(ge=0.0, le=1.0)
    audio_device: str = ""


class OutboxSection(_Model):
    """`[outbox]`: how long delivered packets are kept, and the disk the outbox must leave free."""

    retention_days: float = Field(ge=0, le=365)
    min_free_mb: int = Field(ge=1)


class Maintenance(_Model):
    pin_hash: str = Field(default="", pattern=r"^(|scrypt\$[0-9a-f]{32}\$[0-9a-f]{64})$")


class Display(_Model):
    """The panel the UI is drawn on: its physical size sets how many pixels a millimetre is,
    which the theme sizes touch targets by (kiosk/ui/theme.py)."""
    diagonal_in: float = Field(default=10.1, ge=5, le=43)
    width_px: int = Field(default=1280, ge=640, le=7680)
    height_px: int = Field(default=800, ge=480, le=4320)


class KioskConfig(_Model):
    terminal_id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,40}$")
    state_dir: Path
    language: Literal["zh", "en"]
    site: Site
    devices: DevicesSection
    backoffice: Backoffice
    face: Face
    timeouts: Timeouts
    voice: Voice
    outbox: OutboxSection
    maintenance: Maintenance = Maintenance()
    display: Display = Display()
    sources: tuple[str, ...] = ()       # the files this was built from, for `kiosk config show`

    @field_validator("state_dir")
    @classmethod
    def _absolute(cls, v: Path) -> Path:
        if not v.is_absolute():
            raise ValueError("must be an absolute path")
        return v


def _merge(base: dict, override: dict, origin: dict, source: str, prefix=()) -> None:
    for key, value in override.items():
        path = prefix + (key,)
        if isinstance(value, dict) and isinstance(base.get(key), dict) and key not in ("name",
                                                                                       "address"):
            _merge(base[key], value, origin, source, path)
        else:
            base[key] = value
            origin[path] = source


def _origins(data: dict, source: str, prefix=()) -> dict:
    out = {}
    for key, value in data.items():
        out[prefix + (key,)] = source
        if isinstance(value, dict):
            out.update(_origins(value, source, prefix + (key,)))
    return out


def site_file(explicit: str | os.PathLike | None = None) -> Path | None:
    if explicit:
        return Path(explicit)
    if os.environ.get("KIOSK_CONFIG"):
        return Path(os.environ["KIOSK_CONFIG"])
    return SITE_FILE if SITE_FILE.exists() else None


def _read_toml(path: Path) -> dict:
    try:
        return tomllib.loads(read_utf8(path))
    except FileNotFoundError:
        raise ConfigInvalid(f"{path}: configuration file not found") from None
    except NotUtf8 as exc:
        raise ConfigInvalid(str(exc)) from None
    except OSError as exc:
        raise ConfigInvalid(f"{path}: cannot read: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigInvalid(f"{path}: not valid TOML: {exc}") from None


def load_config(path: str | os.PathLike | None = None, overrides: dict | None = None) -> KioskConfig:
    """Defaults, then the site file, then `overrides` (used by --demo and tests)."""
    data = _read_toml(DEFAULTS_FILE)
    origin = _origins(data, str(DEFAULTS_FILE))
    sources = [str(DEFAULTS_FILE)]
    site = site_file(path)
    if site is not None:
        _merge(data, _read_toml(site), origin, str(site))
        sources.append(str(site))
    if overrides:
        _merge(data, overrides, origin, "<command line>")
    profile = _site_profile(data.get("state_dir"))
    if profile is not None:     # a signed site-profile update in use replaces the [site] table
        data["site"] = _read_toml(profile).get("site")
        origin.update(_origins({"site": data["site"]}, str(profile)))
        sources.append(str(profile))
    data["sources"] = tuple(sources)
    try:
        return KioskConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigInvalid("\n".join(_describe(err, origin) for err in exc.errors())) from None


def _site_profile(state_dir) -> Path | None:
    """state_dir/site-profile/current/site.toml when an applied update provides it."""
    if not isinstance(state_dir, (str, os.PathLike)) or not os.path.isabs(state_dir):
        return None
    path = Path(state_dir) / SITE_PROFILE
    return path if path.is_file() else None


def _describe(err: dict, origin: dict) -> str:
    loc = tuple(p for p in err["loc"] if isinstance(p, (str, int)))
    key = ".".join(str(p) for p in loc)
    source = None
    for n in range(len(loc), 0, -1):
        source = origin.get(loc[:n])
        if source:
            break
    source = source or str(DEFAULTS_FILE)
    kind = err["type"]
    if kind == "extra_forbidden":
        return f"{source}: {key}: unknown setting (check the spelling; see config/default.toml)"
    if kind == "literal_error":
        return f"{source}: {key}: {err['input']!r} is not allowed; allowed: {err['ctx']['expected']}"
    if kind == "missing":
        return f"{source}: {key}: required setting is missing"
    allowed = ""
    ctx = err.get("ctx") or {}
    if "pattern" in ctx:
        allowed = f" (expected the form {_readable_pattern(ctx['pattern'])})"
    return f"{source}: {key}: {err['msg']}{allowed}; got {err.get('input')!r}"


def _readable_pattern(pattern: str) -> str:
    return {r"^https?://": "http://… or https://…"}.get(pattern, re.sub(r"[\^$]", "", pattern))
