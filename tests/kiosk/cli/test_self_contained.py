"""The repository stands on its own: the demo reads nothing outside it.

The tracked (and not ignored) files of the working tree are copied to a temporary folder with
no `shared` folder beside it, and `kiosk simulate` runs one whole visit from that copy with the
venv's Python and the copy first on the import path. A Python audit hook, installed in every
Python process of the run by a `sitecustomize` module, records each path opened or listed;
every one must lie in the copy, the test's temporary folders, the Python installation or the
system's own places (/usr, /etc, /proc, ...). Files opened by C libraries (OpenCV's imread)
raise no audit event, but a photo missing from the copy stops the visit, which the test sees.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
CODE = "NP-WORK-NO-CRIME"

SITECUSTOMIZE = '''\
"""Test hook (tests/kiosk/cli/test_self_contained.py): write each path this process opens."""
import os
import sys

_LOG = os.environ.get("KIOSK_OPENED_LOG")
if _LOG:
    _seen = set()
    _fd = os.open(f"{_LOG}.{os.getpid()}", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)

    def _opened(event, args):
        if event not in ("open", "os.listdir", "os.scandir") or not args:
            return
        path = args[0]
        if path is None or isinstance(path, int):
            return
        try:
            full = os.path.abspath(os.fsdecode(path))
        except (TypeError, ValueError):
            return
        if full not in _seen:
            _seen.add(full)
            os.write(_fd, (full + "\\n").encode("utf-8", "surrogateescape"))

    sys.addaudithook(_opened)
'''


def tracked_files() -> list[str]:
    """What a fresh clone holds: tracked files plus new ones not ignored, as in the work tree."""
    out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                         cwd=ROOT, capture_output=True, check=True).stdout
    return [name for name in out.decode().split("\0") if name and (ROOT / name).is_file()]


def copy_repository(dest: Path) -> Path:
    for name in tracked_files():
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, target)
    return dest


def allowed_roots(*extra: Path) -> list[str]:
    places = [sys.prefix, sys.base_prefix, sys.exec_prefix, "/usr", "/etc", "/proc", "/sys",
              "/dev", "/lib", "/lib64", "/bin", "/run", *map(str, extra)]
    return [os.path.realpath(p) for p in places]


def outside(path: str, roots: list[str]) -> bool:
    real = os.path.realpath(path)
    return not any(real == r or real.startswith(r.rstrip("/") + "/") for r in roots)


def test_demo_reads_nothing_outside_the_repository(tmp_path):
    clone = copy_repository(tmp_path / "clone" / "main")
    assert [p.name for p in clone.parent.iterdir()] == ["main"]     # nothing beside the copy
    hooks, logs, out = tmp_path / "hooks", tmp_path / "opened", tmp_path / "out"
    hooks.mkdir()
    logs.mkdir()
    (hooks / "sitecustomize.py").write_text(SITECUSTOMIZE, encoding="utf-8")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("KIOSK_", "PYTHON", "BACKOFFICE_"))}
    env.update(PYTHONPATH=f"{clone}{os.pathsep}{hooks}", PYTHONDONTWRITEBYTECODE="1",
               KIOSK_OPENED_LOG=str(logs / "open"), TMPDIR=str(tmp_path))

    where = subprocess.run(
        [sys.executable, "-c", "import devices, flows, kiosk, voice, backoffice, sitecustomize;"
         "print('\\n'.join(m.__file__ for m in (devices, flows, kiosk, voice, backoffice)))"],
        cwd=clone, env=env, capture_output=True, text=True, timeout=60)
    assert where.returncode == 0, where.stderr
    for path in where.stdout.split():
        assert Path(path).is_relative_to(clone), f"imported {path}, not the copy's code"

    run = subprocess.run([sys.executable, "-m", "kiosk.cli", "simulate", CODE, "--out", str(out)],
                         cwd=clone, env=env, capture_output=True, text=True, timeout=240)
    assert run.returncode == 0, run.stdout + run.stderr[-3000:]
    assert "Traceback" not in run.stderr
    packet_ids = run.stdout.split()
    assert len(packet_ids) == 1 and (out / packet_ids[0] / "manifest.json").is_file()

    opened = {line for log in logs.iterdir()
              for line in log.read_text(encoding="utf-8", errors="replace").splitlines()}
    assert any(p.startswith(str(clone / "kiosk")) for p in opened), "the audit hook saw nothing"
    roots = allowed_roots(clone, tmp_path)
    foreign = sorted(p for p in opened if outside(p, roots))
    assert not foreign, f"the demo read files outside the repository: {foreign[:20]}"
    assert not [p for p in opened if str(ROOT) in p and not p.startswith(sys.prefix)]
