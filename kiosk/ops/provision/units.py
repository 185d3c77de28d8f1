"""Step 5: install the terminal's systemd units from the repository's systemd/ folder and
enable them; on a live system also systemd-sysusers, systemd-tmpfiles, daemon-reload and
enable, and at the very end the files handed to the kiosk user."""
from __future__ import annotations

import logging
import os
import pwd
import re
import subprocess
from pathlib import Path

from kiosk.ops.provision.common import REPO, ProvisionError, under
from protocol.atomic import write_atomic

log = logging.getLogger(__name__)

SYSTEMD_DIR = REPO / "systemd"
TERMINAL_UNITS = ("kiosk-ui.service", "kiosk-uploader.service")
DEFAULT_TARGETS = {"kiosk-ui.service": "graphical.target",
                   "kiosk-uploader.service": "multi-user.target"}
KIOSK_USER = "kiosk"


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
    unit_dir = under(root, "/etc/systemd/system")
    live = root == Path("/")
    installed: list[str] = []
    for src in sorted(p for p in systemd_dir.rglob("*") if p.is_file()):
        if src.name in TERMINAL_UNITS:
            dest = unit_dir / src.name
            installed.append(src.name)
        elif src.name.endswith(".sysusers.conf"):     # the names scripts/install-terminal.sh uses
            dest = under(root, "/etc/sysusers.d") / src.name
        elif src.name.endswith(".tmpfiles.conf"):
            dest = under(root, "/etc/tmpfiles.d") / src.name
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


def own_by_kiosk_user(config_dir: Path, state_dir: Path) -> None:
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
