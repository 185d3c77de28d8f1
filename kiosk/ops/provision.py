"""`kiosk provision`: turn a blank terminal into an enrolled, configured, self-tested kiosk.

One command for the technician on site, interactive (prompts with what was detected as the
defaults) or `--answers FILE` (YAML, see docs/provisioning.md). In order:

  1. detect devices: /dev/serial/by-id/* (ID-card reader, serial printer), /dev/video* with
     /sys/class/video4linux/*/name (face camera, document camera), /dev/usb/lp* (USB
     printer); propose device URLs; answers may override any of them;
  2. open every device for real; one that does not answer is reported plainly (stop, or go
     on with `on_device_problem: continue` / the technician's choice);
  3. build the site configuration from a preset (config/site-presets/: government_hall,
     bank_branch) and the answers, and validate it with `kiosk.config.load_config`;
  4. enrol with the back office using the one-time token (the terminal key is generated on
     the first run and kept afterwards; a terminal that is enrolled is not enrolled again
     unless --reenrol), then write the configuration (0640) and keys (0600);
  5. install the systemd units from the repository's systemd/ folder and enable them;
  6. self-test: every device, a signed heartbeat to the back office, and the results printed
     on the receipt printer; a JSON report is left in STATE_DIR/provision.json.

`--root DIR` writes everything under DIR (for tests and trying it out): the configuration,
keys and units go to DIR/etc/..., DIR/var/lib/kiosk, and device paths are looked up under
DIR/dev and DIR/sys; paths written into the configuration point under DIR too, so
`kiosk --config DIR/etc/kiosk/kiosk.toml ...` runs against that terminal. Without --root it
must run as root and also calls systemd-sysusers, systemd-tmpfiles, `systemctl daemon-reload`
and `systemctl enable`. Nothing is written before the configuration validates and the devices
were checked, and no configuration is written when enrolment fails. The PIN and the token are
never logged or printed.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import pwd
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from dataclasses import asdict, dataclass, field
from pathlib import Path

import click
import yaml

from flows.text_files import NotUtf8, read_utf8
from kiosk import __version__
from protocol.atomic import write_atomic

log = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parent.parent
PRESETS_DIR = REPO / "config" / "site-presets"
SYSTEMD_DIR = REPO / "systemd"
SITE_KINDS = ("government_hall", "bank_branch")
SLOTS = ("id_card", "printer", "camera", "doc_camera")
SLOT_NAMES = {"id_card": "ID-card reader", "printer": "receipt printer",
              "camera": "face camera", "doc_camera": "document camera"}
TERMINAL_UNITS = ("kiosk-ui.service", "kiosk-uploader.service")
DEFAULT_TARGETS = {"kiosk-ui.service": "graphical.target",
                   "kiosk-uploader.service": "multi-user.target"}
KIOSK_USER = "kiosk"
TOKEN_ENV = "KIOSK_ENROL_TOKEN"
PIN_ENV = "KIOSK_TECHNICIAN_PIN"
ENROLMENT_FILE = "enrolment.json"
REPORT_FILE = "provision.json"
ANSWER_KEYS = {"terminal_id", "site_preset", "site", "backoffice", "devices", "maintenance_pin",
               "language", "state_dir", "settings", "self_test", "on_device_problem"}

# Words in /dev/serial/by-id names and V4L2 card names that tell what a device is.
PRINTER_WORDS = ("print", "escpos", "pos58", "pos80", "thermal", "receipt", "xprinter", "epson",
                 "zjiang", "snbc", "rongta", "hprt", "gprinter", "citizen", "star_micronics")
ID_READER_WORDS = ("idcard", "id_card", "id-card", "sam", "cvr", "synjones", "routon", "idr",
                   "huashi", "sdses", "chinaidcard", "identity", "shensi", "jinglun")
DOC_CAMERA_WORDS = ("doc", "高拍", "scanner", "visuali", "book", "eloam", "liangtian", "s1000",
                    "s500", "camerascan")


class ProvisionError(click.ClickException):
    """A plain-language reason provisioning stopped; nothing more was written."""

    exit_code = 1


# ---- device detection --------------------------------------------------------------------

@dataclass(frozen=True)
class Candidate:
    slot: str | None        # None: a serial port whose kind the name does not tell
    url: str
    source: str             # the device node it came from, for the technician


def _under(root: Path, path: str | Path) -> Path:
    path = Path(path)
    return root / path.relative_to("/") if path.is_absolute() else root / path


def _classify(name: str, words: tuple[str, ...]) -> bool:
    low = name.lower()
    return any(w in low for w in words)


def _video_name(root: Path, node: str) -> str:
    try:
        return (_under(root, f"/sys/class/video4linux/{node}/name")).read_text("utf-8").strip()
    except OSError:
        return ""


def _is_capture_node(root: Path, node: str) -> bool:
    """UVC cameras expose a metadata node next to each capture node; its index is not 0."""
    try:
        return (_under(root, f"/sys/class/video4linux/{node}/index")).read_text().strip() == "0"
    except OSError:
        return True


def _usb_ids(root: Path, lp: str) -> tuple[str, str] | None:
    iface = _under(root, f"/sys/class/usbmisc/{lp}/device")
    for folder in (iface, iface / ".."):
        try:
            vid = (folder / "idVendor").read_text().strip()
            pid = (folder / "idProduct").read_text().strip()
        except OSError:
            continue
        if re.fullmatch(r"[0-9a-fA-F]{4}", vid) and re.fullmatch(r"[0-9a-fA-F]{4}", pid):
            return vid.lower(), pid.lower()
    return None


def detect_devices(root: Path) -> list[Candidate]:
    """Every device node under `root` that may be one of the kiosk's devices, with a URL."""
    found: list[Candidate] = []
    by_id = _under(root, "/dev/serial/by-id")
    for entry in sorted(by_id.iterdir()) if by_id.is_dir() else ():
        slot = "printer" if _classify(entry.name, PRINTER_WORDS) else \
            "id_card" if _classify(entry.name, ID_READER_WORDS) else None
        url = f"escpos+serial://{entry}" if slot == "printer" else f"idcard+serial://{entry}"
        found.append(Candidate(slot, url, str(entry)))
    videos = sorted(_under(root, "/dev").glob("video*"),
                    key=lambda p: int(re.sub(r"\D", "", p.name) or 0))
    plain: list[Candidate] = []
    for node in videos:
        if not re.fullmatch(r"video\d+", node.name) or not _is_capture_node(root, node.name):
            continue
        name = _video_name(root, node.name)
        source = f"{node} ({name})" if name else str(node)
        if _classify(name, DOC_CAMERA_WORDS):
            found.append(Candidate("doc_camera", f"doccam+v4l2://{node}?width=1920&height=1080",
                                   source))
        else:
            plain.append(Candidate("camera", f"camera+v4l2://{node}?width=640&height=480&fps=15",
                                   source))
    if plain and not any(c.slot == "doc_camera" for c in found) and len(plain) > 1:
        second = plain.pop(1)      # two unnamed cameras: the second one is the document camera
        found.append(Candidate("doc_camera",
                               f"doccam+v4l2://{second.source.split(' ')[0]}?width=1920&height=1080",
                               second.source))
    found += plain
    for lp in sorted(_under(root, "/dev/usb").glob("lp*")):
        ids = _usb_ids(root, lp.name)
        url = f"escpos+usb://{ids[0]}:{ids[1]}" if ids else f"escpos+file://{lp}?unverified=1"
        found.append(Candidate("printer", url, str(lp)))
    return found


def _opens(slot: str, url: str) -> tuple[bool, str]:
    """Open the device for real and close it again: (answers?, a plain sentence)."""
    from devices.interfaces import ConfigurationError
    from devices.registry import open_device
    try:
        device = open_device(url, expected_kind=slot)
    except ConfigurationError as exc:
        return False, f"wrong URL: {exc}"
    except Exception as exc:  # noqa: BLE001 - any failure to open is reported, not raised
        reason = getattr(exc, "reason_key", "") or type(exc).__name__
        return False, f"does not answer ({reason}): {exc}"
    try:
        if slot in ("camera", "doc_camera"):
            frame = (device.read() if slot == "camera" else device.source.read())
            detail = f"answers; frame {frame.shape[1]}x{frame.shape[0]}"
        elif slot == "printer":
            status = device.status()
            detail = f"answers; paper {status.paper.value}"
        else:
            detail = f"answers; SAM {device.sam_id()}"
        return True, detail
    except Exception as exc:  # noqa: BLE001
        return False, f"opens but fails ({getattr(exc, 'reason_key', type(exc).__name__)}): {exc}"
    finally:
        with contextlib.suppress(Exception):
            device.close()


def propose_urls(candidates: list[Candidate], probe=_opens) -> dict[str, Candidate]:
    """One proposal per slot. A serial port whose name does not say what it is is asked: first
    as a printer (DLE EOT prints nothing), then as an ID-card reader."""
    chosen: dict[str, Candidate] = {}
    for c in candidates:
        if c.slot and c.slot not in chosen:
            chosen[c.slot] = c
    for c in candidates:
        if c.slot is not None or c.source in {x.source for x in chosen.values()}:
            continue
        port = c.url.split("://", 1)[1]
        for slot, url in (("printer", f"escpos+serial://{port}?status_timeout=0.5"),
                          ("id_card", f"idcard+serial://{port}")):
            if slot not in chosen and probe(slot, url)[0]:
                chosen[slot] = Candidate(slot, url.split("?")[0], c.source)
                break
    return chosen


# ---- answers, presets, the configuration ---------------------------------------------------

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


# ---- enrolment ----------------------------------------------------------------------------

def enrolment_of(key_dir: Path) -> dict | None:
    """The recorded enrolment, if the key and the back office's public key are both there."""
    from kiosk.link.uploader import BACKOFFICE_PUBLIC_KEY_FILE, TERMINAL_KEY_FILE
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
    from kiosk.link.uploader import (BACKOFFICE_PUBLIC_KEY_FILE, TERMINAL_KEY_FILE, EnrolmentFailed,
                                enrol)
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


# ---- systemd units ------------------------------------------------------------------------

def _wanted_by(unit_text: str) -> list[str]:
    targets, section = [], ""
    for line in unit_text.splitlines():
        line = line.strip()
        if line.startswith("["):
            section = line
        elif section == "[Install]" and re.match(r"(WantedBy|RequiredBy)\s*=", line):
            targets += line.split("=", 1)[1].split()
    return targets


def install_units(root: Path, systemd_dir: Path = SYSTEMD_DIR) -> list[str]:
    """Copy the terminal's units (and sysusers/tmpfiles snippets) under root/etc unless already
    there (scripts/install-terminal.sh puts them there, and keeps them up to date), and enable
    them with relative .wants symlinks; on a live system also ask systemd. Returns what was
    done, one line each."""
    done: list[str] = []
    if not systemd_dir.is_dir():
        return [f"no systemd units in {systemd_dir}: nothing installed"]
    unit_dir = _under(root, "/etc/systemd/system")
    live = root == Path("/")
    installed: list[str] = []
    for src in sorted(p for p in systemd_dir.rglob("*") if p.is_file()):
        if src.name in TERMINAL_UNITS:
            dest = unit_dir / src.name
            installed.append(src.name)
        elif src.name.endswith(".sysusers.conf"):     # the names scripts/install-terminal.sh uses
            dest = _under(root, "/etc/sysusers.d") / src.name
        elif src.name.endswith(".tmpfiles.conf"):
            dest = _under(root, "/etc/tmpfiles.d") / src.name
        else:
            continue
        if dest.exists():       # installed by scripts/install-terminal.sh (maybe another prefix)
            done.append(f"kept {dest}")
        else:
            write_atomic(dest, src.read_bytes(), 0o644)
            done.append(f"installed {dest}")
        if live and dest.parent.name == "sysusers.d":
            _systemctl(["systemd-sysusers", str(dest)])
        if live and dest.parent.name == "tmpfiles.d":
            _systemctl(["systemd-tmpfiles", "--create", str(dest)])
    for name in installed:
        targets = _wanted_by((unit_dir / name).read_text("utf-8")) or [DEFAULT_TARGETS[name]]
        for target in targets:
            link = unit_dir / f"{target}.wants" / name
            link.parent.mkdir(parents=True, exist_ok=True)
            if link.is_symlink() or link.exists():
                link.unlink()
            link.symlink_to(Path("..") / name)
            done.append(f"enabled {name} ({target})")
    if live and installed:
        _systemctl(["systemctl", "daemon-reload"])
        _systemctl(["systemctl", "enable", *installed])
    missing = [u for u in TERMINAL_UNITS if u not in installed]
    if missing:
        done.append(f"not in {systemd_dir}: {', '.join(missing)}")
    return done


def _systemctl(argv: list[str]) -> None:
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        raise ProvisionError(f"{' '.join(argv)} failed: {proc.stderr.strip()[-500:]}")


def _own_by_kiosk_user(config_dir: Path, state_dir: Path) -> None:
    """On a live system: the app's user reads /etc/kiosk (root:kiosk) and owns the state."""
    try:
        user = pwd.getpwnam(KIOSK_USER)
    except KeyError:
        log.warning("provision: user %s does not exist; files stay owned by root", KIOSK_USER)
        return
    for path in (config_dir, *config_dir.iterdir()):
        os.chown(path, 0, user.pw_gid)
    for folder, _, files in os.walk(state_dir):
        os.chown(folder, user.pw_uid, user.pw_gid)
        for name in files:
            os.chown(Path(folder) / name, user.pw_uid, user.pw_gid)


# ---- self-test ----------------------------------------------------------------------------

@dataclass
class Check:
    name: str
    ok: bool
    detail: str


@dataclass
class Report:
    terminal_id: str = ""
    site_id: str = ""
    devices: dict = field(default_factory=dict)
    enrolment: str = ""
    units: list = field(default_factory=list)
    self_test: list = field(default_factory=list)


def self_test(config, card_timeout: float) -> list[Check]:
    """Every device, then a signed heartbeat, then all results printed on the printer."""
    from devices.registry import open_device
    from kiosk.ops.selftest import run_self_test
    checks: list[Check] = []
    site_name = config.site.name.get("zh")
    for slot in ("id_card", "camera", "doc_camera"):
        url = getattr(config.devices, slot)
        try:
            device = open_device(url, expected_kind=slot)
        except Exception as exc:  # noqa: BLE001 - reported, the other checks still run
            checks.append(Check(slot, False, f"cannot open: {getattr(exc, 'reason_key', '')} "
                                             f"{exc}".strip()))
            continue
        try:
            if slot == "id_card" and card_timeout <= 0:
                checks.append(Check(slot, True, f"reader answers (SAM {device.sam_id()}); "
                                                "no card read"))
                continue
            result = run_self_test(slot, device, config.terminal_id, site_name, card_timeout)
            checks.append(Check(slot, result.ok, result.detail))
        finally:
            with contextlib.suppress(Exception):
                device.close()
    checks.append(_heartbeat_check(config))
    checks.append(_print_results(config, checks))
    return checks


def _heartbeat_check(config) -> Check:
    from kiosk.link.uploader import uploader_from_settings
    try:
        uploader = uploader_from_settings(config.state_dir, config.backoffice.url,
                                          config.terminal_id, site_id=config.site.id)
    except (OSError, ValueError) as exc:
        return Check("backoffice", False, f"keys not readable: {exc}")
    try:
        ok = uploader.send_heartbeat()
    finally:
        uploader.close()
        uploader.outbox.close()
    return Check("backoffice", ok, "signed heartbeat accepted" if ok else
                 "heartbeat not accepted (network, or the terminal was revoked); see the log")


def _print_results(config, checks: list[Check]) -> Check:
    from devices.interfaces import Receipt
    from devices.registry import open_device
    label = {**SLOT_NAMES, "backoffice": "back office"}
    lines = tuple(f"{label.get(c.name, c.name)}: {'正常 PASS' if c.ok else '故障 FAIL'}"
                  for c in checks)
    failed = tuple(f"{label.get(c.name, c.name)}: {c.detail}"[:120] for c in checks if not c.ok)
    receipt = Receipt(
        title="开通自检 / Provisioning self-test", site_name=config.site.name.get("zh"),
        terminal_id=config.terminal_id, issued_at=dt.datetime.now().astimezone(),
        case_number="SELF-TEST", matter_name=f"kiosk {__version__}", applicant_masked="—",
        id_number_masked="—", materials_received=lines + ("receipt printer: 本页 this page",),
        materials_missing=failed, promised_date=None, progress_url="",
        phone=config.site.phone,
        notes=(f"site {config.site.id} · {config.site.kind}",
               "如能看清本页中文，打印机正常。 Readable Chinese = printer OK."))
    try:
        printer = open_device(config.devices.printer, expected_kind="printer")
    except Exception as exc:  # noqa: BLE001
        return Check("printer", False, f"cannot open: {getattr(exc, 'reason_key', '')} {exc}")
    try:
        status = printer.print_receipt(receipt)
        return Check("printer", True, f"self-test receipt printed; paper {status.paper.value}")
    except Exception as exc:  # noqa: BLE001
        return Check("printer", False, f"{getattr(exc, 'reason_key', type(exc).__name__)}: {exc}")
    finally:
        with contextlib.suppress(Exception):
            printer.close()


# ---- the procedure ------------------------------------------------------------------------

def _say(text: str) -> None:
    click.echo(text)


def check_devices(urls: dict[str, str], interactive: bool, go_on: bool,
                  probe=_opens) -> tuple[dict[str, str], dict]:
    """Open each device; on a problem the technician fixes the URL, retries or goes on."""
    results = {}
    for slot in SLOTS:
        while True:
            ok, detail = probe(slot, urls[slot])
            _say(f"  {SLOT_NAMES[slot]:16} {urls[slot]}\n  {'':16} {'OK' if ok else 'PROBLEM'}: "
                 f"{detail}")
            if ok or not interactive:
                break
            choice = click.prompt("  [r]etry, [c]hange the URL, [g]o on without it, [a]bort",
                                  type=click.Choice(["r", "c", "g", "a"]), default="r")
            if choice == "c":
                urls[slot] = click.prompt(f"  URL of the {SLOT_NAMES[slot]}", default=urls[slot])
            elif choice == "g":
                go_on = True
                break
            elif choice == "a":
                raise ProvisionError("aborted by the technician; nothing was written")
        results[slot] = {"url": urls[slot], "ok": ok, "detail": detail}
    bad = [s for s in SLOTS if not results[s]["ok"]]
    if bad and not go_on:
        raise ProvisionError(
            "device problem: " + "; ".join(f"{SLOT_NAMES[s]} ({results[s]['url']}) "
                                           f"{results[s]['detail']}" for s in bad)
            + ". Fix the cable/URL (devices: in the answers file) and run again, or set "
              "on_device_problem: continue. Nothing was written.")
    return urls, results


def _device_urls(answers: dict, candidates: list[Candidate]) -> dict[str, str]:
    """The answers' URLs, and what was detected for the slots they leave open."""
    given = answers.get("devices") or {}
    unknown = set(given) - set(SLOTS)
    if unknown:
        raise ProvisionError(f"devices: unknown slot(s) {', '.join(sorted(unknown))}; "
                             f"known: {', '.join(SLOTS)}")
    proposed = {} if all(given.get(s) for s in SLOTS) else propose_urls(candidates)
    urls = {}
    for slot in SLOTS:
        urls[slot] = given.get(slot) or (proposed[slot].url if slot in proposed else "")
        if not urls[slot]:
            raise ProvisionError(f"no {SLOT_NAMES[slot]} was found and devices.{slot} is not "
                                 "given; connect it or give its URL (see devices/registry.py)")
    return urls


def _pin_hash(answers: dict, config_path: Path) -> str:
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


def _enrol_if_needed(answers: dict, url: str, terminal_id: str, key_dir: Path,
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


def _write_site_files(config_path: Path, text: str, terminal_id: str, url: str,
                      state_dir: Path) -> None:
    config_path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(config_path.parent, 0o750)              # as systemd/kiosk.tmpfiles.conf has it
    write_atomic(config_path, text.encode("utf-8"), 0o640)
    # what kiosk-uploader.service reads (EnvironmentFile=/etc/kiosk/uploader.env)
    write_atomic(config_path.parent / "uploader.env", (
        f"KIOSK_TERMINAL_ID={terminal_id}\nKIOSK_BACKOFFICE_URL={url}\n"
        f"KIOSK_STATE_DIR={state_dir}\n").encode("utf-8"), 0o640)
    os.chmod(state_dir, 0o700)


def provision(answers: dict, root: Path, reenrol: bool = False, interactive: bool = False,
              candidates: list[Candidate] | None = None) -> tuple[Report, bool]:
    """Run the whole procedure; returns the report and whether every self-test passed."""
    from kiosk.link.uploader import load_backoffice_public_key
    from protocol.keys import public_key_text
    root = Path(root).resolve()
    report = Report(terminal_id=str(answers.get("terminal_id") or ""))
    terminal_id = report.terminal_id
    backoffice_url, go_on, card_timeout = _checked_options(answers)
    state_dir = _under(root, answers.get("state_dir") or "/var/lib/kiosk")
    key_dir = state_dir / "keys"
    config_path = _under(root, "/etc/kiosk/kiosk.toml")
    if root == Path("/") and state_dir != Path("/var/lib/kiosk"):
        _say(f"note: the systemd units use /var/lib/kiosk, not {state_dir}; adjust them")

    _say("1. Devices")
    candidates = detect_devices(root) if candidates is None else candidates
    for c in candidates:
        _say(f"  found {c.source} -> {c.slot or 'unknown serial device'}")
    urls = _device_urls(answers, candidates)

    header = (f"Site configuration of terminal {terminal_id}, written by `kiosk provision` "
              f"(kiosk {__version__}).\nKeys: see config/default.toml. Unknown keys are errors.")
    draft = build_config(answers, urls, state_dir, _pin_hash(answers, config_path), "")
    config = validate(to_toml(draft, header))        # before anything is opened or written
    report.site_id = config.site.id
    _say(f"2. Site: {config.site.id} ({config.site.kind}) {config.site.name.get('zh')}")

    _say("3. Checking devices")
    urls, report.devices = check_devices(dict(urls), interactive, go_on)
    draft["devices"] = {**draft["devices"], **urls}

    _say("4. Enrolment")
    report.enrolment = _enrol_if_needed(answers, backoffice_url, terminal_id, key_dir, reenrol)
    _say(f"  {report.enrolment}")
    draft["backoffice"]["public_key"] = public_key_text(load_backoffice_public_key(key_dir))
    text = to_toml(draft, header)
    config = validate(text)
    _write_site_files(config_path, text, terminal_id, backoffice_url, state_dir)
    _say(f"  configuration written: {config_path}, {config_path.parent / 'uploader.env'}")

    _say("5. Services")
    report.units = install_units(root)
    for line in report.units:
        _say(f"  {line}")

    _say("6. Self-test")
    checks = self_test(config, card_timeout)
    report.self_test = [asdict(c) for c in checks]
    for c in checks:
        _say(f"  {c.name:11} {'PASS' if c.ok else 'FAIL'} {c.detail}")
    all_ok = all(c.ok for c in checks)
    write_atomic(state_dir / REPORT_FILE, json.dumps(
        {**asdict(report), "at": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
         "version": __version__, "ok": all_ok}, ensure_ascii=False, indent=2).encode(), 0o640)
    if root == Path("/"):              # last: the self-test created the outbox database
        _own_by_kiosk_user(config_path.parent, state_dir)
    log.info("provision finished terminal=%s site=%s ok=%s", terminal_id, config.site.id, all_ok)
    return report, all_ok


# ---- interactive --------------------------------------------------------------------------

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
               "devices": {k: v for k, v in (data.get("devices") or {}).items() if k in SLOTS}}
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
    for slot in SLOTS:
        default = devices.get(slot) or (proposed[slot].url if slot in proposed else None)
        devices[slot] = click.prompt(f"URL of the {SLOT_NAMES[slot]}", default=default)
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


@click.command()
@click.option("--answers", "answers_path", type=click.Path(exists=True, dir_okay=False,
                                                           path_type=Path),
              help="YAML answers for a non-interactive run (see docs/provisioning.md).")
@click.option("--root", type=click.Path(file_okay=False, path_type=Path),
              help="Write everything under this folder instead of / (testing, trying out).")
@click.option("--reenrol", is_flag=True,
              help="Enrol again with a new token even if this terminal is enrolled (the "
                   "terminal key is kept).")
def provision_command(answers_path: Path | None, root: Path | None, reenrol: bool) -> None:
    """Provision this terminal: devices, site, enrolment, services, self-test."""
    if root is None and os.geteuid() != 0:
        raise ProvisionError("provisioning writes /etc and /var/lib: run it as root "
                             "(sudo kiosk provision), or try it with --root DIR")
    root = (root or Path("/")).resolve()
    answers = load_answers(answers_path) if answers_path else {}
    candidates = detect_devices(root)
    if answers_path is None:
        answers = ask(answers_from_config(_under(root, "/etc/kiosk/kiosk.toml"), root),
                      candidates)
    _, ok = provision(answers, root, reenrol=reenrol, interactive=answers_path is None,
                      candidates=candidates)
    if ok:
        click.echo("Provisioned. Start the kiosk with `systemctl start kiosk-uploader kiosk-ui`"
                   " or reboot.")
        return
    click.echo("Provisioned, but the self-test found problems (see FAIL above and "
               "provision.json); fix them and run `kiosk provision` again.", err=True)
    sys.exit(3)
