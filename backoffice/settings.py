"""Settings of the back office: where its database, files and key live, and its timing rules.

`Settings.for_data_dir(path)` gives the defaults for one data directory:
- database   `sqlite:///<data_dir>/backoffice.db` (or any SQLAlchemy URL, e.g.
  `postgresql+psycopg://user:pw@host/db`; the SQL used is portable);
- storage    `file:///<data_dir>/files` (`s3://bucket/prefix?endpoint=...` is recognised but
  not supported in this build and fails loudly at start);
- key        `<data_dir>/backoffice.key` — the X25519 private key, generated on first start;
- vault key `<data_dir>/vault.key` — encrypts stored manifests and files, keys the ID-number hash;
- publisher `<data_dir>/publisher.key` — Ed25519, signs catalogue/site-profile updates (publishing.py);
- alarms    outbox depth of `outbox_alarm_depth` or more, or rising over the last
  `outbox_rising_beats` heartbeats (alarms.py);
- silence    a terminal is SILENT after `missed_heartbeats` x `heartbeat_interval_s` seconds;
- timezone   every time the console and the progress page show is in this zone (an IANA name,
  default `Asia/Shanghai`; `BACKOFFICE_TIMEZONE`); stored times stay UTC;
- catalog    the catalogue whose labels the console shows for form fields, choices, matters and
  materials: `flows/` (the one the terminals ship with) unless `catalog_dir` is set
  (`BACKOFFICE_CATALOG_DIR`);
- login      throttling of console logins (login_guard.py), per account and per client
  address: `login_free_failures` failures without delay, then each attempt waits
  `login_backoff_base_s` x 2^n seconds (at most `login_backoff_cap_s`) after the last failure;
  at `login_lockout_failures` failures the account (or address) is locked for
  `login_lockout_minutes`, the right password included; a quiet `login_forget_after_s` after
  the last failure forgets the count. The address limits are `login_address_*`;
- cookies    `cookie_secure`: "auto" (Secure when the request came over https, directly or
  from a trusted proxy's X-Forwarded-Proto), "always" or "never";
- docs       `enable_docs`: /docs, /redoc and /openapi.json are served only when true
  (`BACKOFFICE_ENABLE_DOCS=1`); `backoffice openapi` writes the spec either way.
Environment variables BACKOFFICE_DATABASE_URL / BACKOFFICE_STORAGE_URL override the URLs.
- rate limits `rate_limits` (`BACKOFFICE_RATE_LIMITS`): per client address on the routes open
  to anyone (progress page and API, login POST, enrolment, login page), e.g.
  "progress=30:30,login=10:10" (requests per minute : burst), "" the defaults, "off" none;
  at most `rate_limit_addresses` addresses remembered per route group (rate_limit.py).
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import urlsplit, unquote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


COOKIE_SECURE_CHOICES = ("auto", "always", "never")
DEFAULT_RATE_LIMITS = "progress=30:30,login=10:10,enrol=10:20,public=60:60"
RATE_LIMIT_GROUPS = ("progress", "login", "enrol", "public")


class SettingsError(ValueError):
    """A setting cannot be used; `reason_key` names it for the operator."""

    def __init__(self, reason_key: str, message: str):
        super().__init__(message)
        self.reason_key = reason_key


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    storage_url: str
    key_path: Path
    vault_key_path: Path
    heartbeat_interval_s: int = 30
    missed_heartbeats: int = 3
    clock_skew_s: int = 300
    token_ttl_hours: int = 72
    session_ttl_s: int = 8 * 3600
    max_packet_bytes: int = 64 * 1024 * 1024
    cookie_secure: str = "auto"          # auto | always | never
    enable_docs: bool = False
    login_free_failures: int = 5
    login_backoff_base_s: float = 1.0
    login_backoff_cap_s: float = 300.0
    login_lockout_failures: int = 10
    login_lockout_minutes: float = 15.0
    login_forget_after_s: float = 3600.0
    login_address_free_failures: int = 20
    login_address_lockout_failures: int = 50
    timezone: str = "Asia/Shanghai"
    catalog_dir: Path | None = None
    outbox_alarm_depth: int = 50
    outbox_rising_beats: int = 4
    rate_limits: str = ""            # "" = DEFAULT_RATE_LIMITS, "off", "progress=30:30,..."
    rate_limit_addresses: int = 10_000

    @property
    def publisher_key_path(self) -> Path:
        return self.data_dir / "publisher.key"

    @classmethod
    def for_data_dir(cls, data_dir: str | os.PathLike, **overrides) -> "Settings":
        data_dir = Path(data_dir).resolve()
        base = cls(
            data_dir=data_dir,
            database_url=os.environ.get("BACKOFFICE_DATABASE_URL")
            or f"sqlite:///{data_dir / 'backoffice.db'}",
            storage_url=os.environ.get("BACKOFFICE_STORAGE_URL")
            or (data_dir / "files").as_uri(),
            key_path=data_dir / "backoffice.key",
            vault_key_path=data_dir / "vault.key",
            timezone=os.environ.get("BACKOFFICE_TIMEZONE") or cls.timezone,
            catalog_dir=Path(os.environ["BACKOFFICE_CATALOG_DIR"])
            if os.environ.get("BACKOFFICE_CATALOG_DIR") else None,
            rate_limits=os.environ.get("BACKOFFICE_RATE_LIMITS", ""),
            enable_docs=os.environ.get("BACKOFFICE_ENABLE_DOCS", "") in ("1", "true", "yes"),
        )
        settings = replace(base, **overrides)
        check_timezone(settings.timezone)
        parse_limits(settings.rate_limits)     # a bad value raises SettingsError
        if settings.cookie_secure not in COOKIE_SECURE_CHOICES:
            raise SettingsError("backoffice.settings.bad_cookie_secure",
                                f"cookie_secure must be one of {', '.join(COOKIE_SECURE_CHOICES)}")
        return settings

    @property
    def silent_after_s(self) -> int:
        return self.heartbeat_interval_s * self.missed_heartbeats


def check_timezone(name: str) -> None:
    """Raises SettingsError unless `name` is a time zone this machine knows (IANA name)."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise SettingsError("backoffice.settings.bad_timezone",
                            f"unknown time zone {name!r}: give an IANA name such as "
                            "Asia/Shanghai (BACKOFFICE_TIMEZONE)") from None


def storage_root(storage_url: str) -> Path:
    """The directory of a `file://` storage URL; other schemes raise SettingsError."""
    parts = urlsplit(storage_url)
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise SettingsError("backoffice.storage.bad_url",
                                f"file storage URL must be local: {storage_url}")
        return Path(unquote(parts.path))
    if parts.scheme == "s3":
        raise SettingsError("backoffice.storage.unsupported",
                            "s3:// storage is not supported in this build (boto3 is not installed); "
                            "use file:///path")
    raise SettingsError("backoffice.storage.bad_url", f"unknown storage URL scheme: {parts.scheme!r}")


@dataclass(frozen=True)
class Limit:
    """One route group's rate limit per client address (rate_limit.py applies it)."""
    per_minute: float
    burst: int


def parse_limits(text: str) -> dict[str, Limit]:
    """The limits of each group from a setting like "progress=30:30,login=10:10" (per minute :
    burst) over the defaults ("" the defaults); "off" none. Raises SettingsError naming the
    bad part."""
    text = (text or "").strip()
    if text.lower() in ("off", "none", "0"):
        return {}
    limits = dict(_parse(DEFAULT_RATE_LIMITS))
    limits.update(_parse(text))
    return {group: limit for group, limit in limits.items() if limit.per_minute > 0}


def _parse(text: str):
    for part in filter(None, (p.strip() for p in text.split(","))):
        group, _, value = part.partition("=")
        rate, _, burst = value.partition(":")
        try:
            limit = Limit(float(rate), int(burst) if burst else max(int(float(rate)), 1))
        except ValueError:
            limit = None
        if group.strip() not in RATE_LIMIT_GROUPS or limit is None or limit.per_minute < 0 \
                or not math.isfinite(limit.per_minute) or (limit.per_minute and limit.burst < 1):
            raise SettingsError("backoffice.settings.bad_rate_limits",
                                f"rate_limits: {part!r}: give GROUP=PER_MINUTE[:BURST] with GROUP "
                                f"one of {', '.join(RATE_LIMIT_GROUPS)} (BACKOFFICE_RATE_LIMITS)")
        yield group.strip(), limit
