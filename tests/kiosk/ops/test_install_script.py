"""scripts/install-terminal.sh: valid bash, shellcheck-clean, a --dry-run that changes nothing."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
SCRIPT = REPO / "scripts" / "install-terminal.sh"


def run_script(*args: str) -> subprocess.CompletedProcess:
    """stdout and stderr in one stream (`.stdout`), in the order they were written."""
    return subprocess.run(["bash", str(SCRIPT), *args], stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=60)


def test_the_script_is_valid_bash_and_executable():
    assert os.access(SCRIPT, os.X_OK)
    assert subprocess.run(["bash", "-n", str(SCRIPT)], capture_output=True).returncode == 0
    head = SCRIPT.read_text("utf-8")
    assert head.startswith("#!/usr/bin/env bash\n") and "set -euo pipefail" in head


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="shellcheck not installed")
def test_shellcheck_finds_nothing():
    result = subprocess.run(["shellcheck", str(SCRIPT)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


def test_dry_run_prints_every_step_and_changes_nothing(tmp_path):
    prefix = tmp_path / "opt-kiosk"
    result = run_script("--dry-run", "--prefix", str(prefix))
    assert result.returncode == 0, result.stdout
    out = result.stdout
    steps = [
        f"+ install -D -m 0644 {REPO}/systemd/kiosk.sysusers.conf "
        "/etc/sysusers.d/kiosk.sysusers.conf",
        "+ systemd-sysusers /etc/sysusers.d/kiosk.sysusers.conf",
        "+ systemd-tmpfiles --create /etc/tmpfiles.d/kiosk.tmpfiles.conf",
        f"/ {prefix}/src/",                                            # rsync of the checkout
        f"-m venv {prefix}/venv",
        f"+ {prefix}/venv/bin/pip install -q -r {prefix}/src/requirements.txt",
        f"+ {prefix}/venv/bin/pip install -q --no-deps --no-build-isolation -e {prefix}/src",
        "+ write /etc/modules-load.d/kiosk.conf",
        "+ write /etc/systemd/system/kiosk-ui.service",
        f"    ExecStart={prefix}/venv/bin/kiosk -v run",             # the prefix goes into the unit
        f"    ExecStart={prefix}/venv/bin/kiosk-uploader -v",
        "+ systemctl daemon-reload",
        "+ systemctl enable kiosk-ui.service kiosk-uploader.service",
        "dry run: nothing was changed",
        f"sudo {prefix}/venv/bin/kiosk provision",
    ]
    positions = []
    for step in steps:
        assert step in out, f"missing: {step}\n{out}"
        positions.append(out.index(step))
    assert positions == sorted(positions)                    # in this order
    assert not prefix.exists()


def test_a_second_dry_run_is_identical(tmp_path):
    """Idempotent: the plan depends on the machine's state only, not on a previous plan."""
    first = run_script("--dry-run", "--no-apt", "--prefix", str(tmp_path / "k"))
    second = run_script("--dry-run", "--no-apt", "--prefix", str(tmp_path / "k"))
    assert first.returncode == second.returncode == 0
    assert first.stdout == second.stdout
    assert "skipping apt (--no-apt)" in first.stdout and "apt-get" not in first.stdout


def test_bad_arguments_are_refused_plainly(tmp_path):
    result = run_script("--frobnicate")
    assert result.returncode == 2 and "unknown option --frobnicate" in result.stdout
    result = run_script("--dry-run", "--source", str(tmp_path))
    assert result.returncode == 2 and "is not a checkout of the kiosk" in result.stdout


def test_help_describes_the_options():
    result = run_script("--help")
    assert result.returncode == 0
    for option in ("--dry-run", "--source", "--prefix", "--no-apt"):
        assert option in result.stdout
