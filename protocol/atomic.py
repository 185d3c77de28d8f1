"""Durable file writes shared by terminal and back office.

Every write here has the same durability: the new content is fsynced, renamed into place, and
the folder fsynced, so that after a crash a path holds the old content or the new one, never
part of it, and a rename that returned survives a power cut.

  write_atomic(path, data)           replace a file by bytes
  move_into_place(tmp, path)         a temp file some other code wrote (an encoder, a font
                                     library) replaces `path`
  replace_symlink(link, target)      point a symlink elsewhere (version switches)
  move_dir_into_place(tmp, path)     a folder written under a temp name replaces `path`
  remove_durably(path)               delete a file or symlink, the folder fsynced
  fsync_dir(path)                    make a rename or a new file in a folder durable
  sweep_temp_files(root)             remove what a crashed writer left (names `TEMP_FILE`)
"""
from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import time
from pathlib import Path


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(path: Path) -> None:
    """Make a rename or a new file in the folder `path` durable."""
    _fsync(path)


def fsync_file(path: Path) -> None:
    """Flush the content of the file `path` to disk."""
    _fsync(path)


# `.<name>.<pid>-<8 hex>@<host>.tmp`: write_atomic's temp files, named after the process and the
# host that wrote them (several back-office hosts may share one folder; a pid means nothing on
# another host). Names without `@<host>` are from before hosts were named.
TEMP_FILE = re.compile(r"^\..+\.(?P<pid>\d+)-[0-9a-f]{8}(?:@(?P<host>[A-Za-z0-9-]{1,63}))?\.tmp$")
# A temp file another host is writing is left alone unless it is this old (a writer finishes in
# seconds; one that crashed on its own host is swept there at its next start anyway).
FOREIGN_TEMP_MAX_AGE_S = 3600.0


def this_host() -> str:
    """The host's name as it goes into temp file names (letters, digits and '-')."""
    return re.sub(r"[^A-Za-z0-9-]", "-", os.uname().nodename)[:63] or "host"


def temp_beside(path: Path) -> Path:
    """A fresh temp file name beside `path`, of the form `TEMP_FILE`."""
    path = Path(path)
    return path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}@{this_host()}.tmp")


def _rename_durably(tmp: Path, path: Path) -> None:
    """Rename `tmp` over `path` and fsync the folder; `tmp` is removed if the rename fails."""
    try:
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)


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
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _rename_durably(tmp, path)


def move_into_place(tmp: Path, path: Path) -> None:
    """Durably replace `path` by the finished file `tmp` (in the same folder, written by
    someone else: an encoder, a font library): fsync it, rename it over `path`, fsync the
    folder. `tmp` is removed if that fails."""
    tmp, path = Path(tmp), Path(path)
    try:
        fsync_file(tmp)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _rename_durably(tmp, path)


def replace_symlink(link: Path, target: str) -> None:
    """Durably make `link` a symlink to `target` (as written, usually relative): a new link
    under a temp name beside it, renamed over `link`, the folder fsynced. A reader sees the
    old target or the new one, never no link."""
    link = Path(link)
    tmp = temp_beside(link)
    os.symlink(target, tmp)
    _rename_durably(tmp, link)


def remove_durably(path: Path) -> bool:
    """Delete the file or symlink `path` and fsync its folder; False if it was not there."""
    path = Path(path)
    try:
        os.unlink(path)
    except FileNotFoundError:
        return False
    fsync_dir(path.parent)
    return True


def move_dir_into_place(tmp: Path, path: Path) -> None:
    """Durably make the folder `tmp` (written under a temp name beside `path`) be `path`:
    every file and folder under it fsynced, then renamed, the parent fsynced. A folder
    already at `path` is removed first (that step is not atomic: use it for versioned folders
    that nothing reads while they are replaced, and switch readers with `replace_symlink`)."""
    tmp, path = Path(tmp), Path(path)
    for folder, _, files in os.walk(tmp):
        for name in files:
            fsync_file(Path(folder) / name)
        fsync_dir(Path(folder))
    if path.exists():
        shutil.rmtree(path)
    os.replace(tmp, path)
    fsync_dir(path.parent)


def sweep_temp_files(root: Path, *patterns: re.Pattern) -> int:
    """Remove the temp files of `write_atomic` under `root` (names matching TEMP_FILE or one
    of `patterns`, whose group `pid` names the writer) whose writer is no longer running (a
    crash or SIGKILL mid-write); returns how many. A temp file written on another host (its
    `host` group) is only removed when older than FOREIGN_TEMP_MAX_AGE_S: its pid says nothing
    here, and it may be an upload that host is writing right now."""
    removed = 0
    host = this_host()
    for tmp in Path(root).rglob("*"):
        found = next(filter(None, (p.match(tmp.name) for p in (TEMP_FILE, *patterns))), None)
        if found is None or not tmp.is_file():
            continue
        writer_host = found.groupdict().get("host")
        if writer_host and writer_host != host:
            if _age_s(tmp) < FOREIGN_TEMP_MAX_AGE_S:
                continue
        elif _running(int(found["pid"])):
            continue
        tmp.unlink(missing_ok=True)
        removed += 1
    return removed


def _age_s(path: Path) -> float:
    try:
        return time.time() - path.stat().st_mtime
    except FileNotFoundError:
        return 0.0


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
