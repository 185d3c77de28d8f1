"""Durable file writes shared by terminal and back office.

`write_atomic` replaces a file so that after a crash it holds the old content or the new one,
never part of it; `sweep_temp_files` removes what a crashed writer left; `fsync_dir` makes a
rename or a new file in a folder durable.
"""
from __future__ import annotations

import os
import re
import secrets
from pathlib import Path


def fsync_dir(path: Path) -> None:
    """Make a rename or a new file in the folder `path` durable."""
    dir_fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


# `.<name>.<pid>-<8 hex>.tmp`: write_atomic's temp files, named after the process that wrote them
TEMP_FILE = re.compile(r"^\..+\.(?P<pid>\d+)-[0-9a-f]{8}\.tmp$")


def temp_beside(path: Path) -> Path:
    """A fresh temp file name beside `path`, of the form `TEMP_FILE`."""
    return path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp")


def write_atomic(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Durably replace `path` by `data`: a temp file beside it with `mode` (named as
    `TEMP_FILE`), fsync, rename over `path`, fsync the folder. After a crash `path` is the old
    content or the new one, never part of it; a temp file left behind is removed by
    `sweep_temp_files`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_beside(path)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        try:
            view, written = memoryview(data), 0
            while written < len(view):           # os.write may write less than asked
                written += os.write(fd, view[written:])
            os.fsync(fd)
        finally:
            os.close(fd)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def sweep_temp_files(root: Path, *patterns: re.Pattern) -> int:
    """Remove the temp files of `write_atomic` under `root` (names matching TEMP_FILE or one
    of `patterns`, whose group `pid` names the writer) whose writer is no longer running (a
    crash or SIGKILL mid-write); returns how many."""
    removed = 0
    for tmp in Path(root).rglob("*"):
        found = next(filter(None, (p.match(tmp.name) for p in (TEMP_FILE, *patterns))), None)
        if found is None or not tmp.is_file() or _running(int(found["pid"])):
            continue
        tmp.unlink(missing_ok=True)
        removed += 1
    return removed


def _running(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
