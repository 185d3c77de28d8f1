"""protocol/atomic.py: every durable write has the same order — the new content fsynced,
renamed into place, the folder fsynced — and leaves no temp file behind, also when it fails."""
from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from protocol import atomic
from protocol.atomic import (TEMP_FILE, move_dir_into_place, move_into_place, remove_durably,
                             replace_symlink, sweep_temp_files, temp_beside, write_atomic)


@pytest.fixture
def events(monkeypatch) -> list[tuple[str, str]]:
    """("fsync", path) and ("replace", destination) in the order they happen."""
    seen: list[tuple[str, str]] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        seen.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        return real_fsync(fd)

    def replace(src, dst):
        seen.append(("replace", str(dst)))
        return real_replace(src, dst)

    monkeypatch.setattr(atomic.os, "fsync", fsync)
    monkeypatch.setattr(atomic.os, "replace", replace)
    return seen


def temp_files(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if p.name.endswith(".tmp") or ".tmp" in p.name]


def test_write_atomic_fsyncs_the_file_renames_then_fsyncs_the_folder(tmp_path, events):
    path = tmp_path / "sub" / "data.bin"
    write_atomic(path, b"new", 0o640)
    assert path.read_bytes() == b"new"
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    kinds = [kind for kind, _ in events]
    assert kinds == ["fsync", "replace", "fsync"]
    assert TEMP_FILE.match(Path(events[0][1]).name)           # the temp file's content
    assert events[1][1] == str(path) and events[2][1] == str(path.parent)
    assert temp_files(path.parent) == []


def test_write_atomic_that_fails_keeps_the_old_content_and_no_temp(tmp_path, monkeypatch):
    path = tmp_path / "data.bin"
    write_atomic(path, b"old")

    def refuse(src, dst):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(atomic.os, "replace", refuse)
    with pytest.raises(OSError):
        write_atomic(path, b"new")
    assert path.read_bytes() == b"old"
    assert temp_files(tmp_path) == []


def test_move_into_place_has_the_same_durability(tmp_path, events):
    final = tmp_path / "font.otf"
    final.write_bytes(b"old")
    tmp = temp_beside(final)
    tmp.write_bytes(b"written by someone else")
    move_into_place(tmp, final)
    assert final.read_bytes() == b"written by someone else" and not tmp.exists()
    assert events == [("fsync", str(tmp)), ("replace", str(final)), ("fsync", str(tmp_path))]


def test_move_into_place_that_fails_removes_the_temp_file(tmp_path):
    tmp = tmp_path / "x.tmp"
    tmp.write_bytes(b"data")
    with pytest.raises(OSError):
        move_into_place(tmp, tmp_path / "missing-folder" / "x")
    assert not tmp.exists()


def test_replace_symlink_switches_atomically_and_durably(tmp_path, events):
    (tmp_path / "versions" / "1").mkdir(parents=True)
    (tmp_path / "versions" / "2").mkdir()
    link = tmp_path / "current"
    replace_symlink(link, "versions/1")
    assert os.readlink(link) == "versions/1"
    replace_symlink(link, "versions/2")
    assert os.readlink(link) == "versions/2" and link.is_dir()
    assert events[-2:] == [("replace", str(link)), ("fsync", str(tmp_path))]
    assert temp_files(tmp_path) == []


def test_remove_durably(tmp_path, events):
    path = tmp_path / "staged"
    os.symlink("versions/1", path)
    assert remove_durably(path) is True and not os.path.lexists(path)
    assert events == [("fsync", str(tmp_path))]
    assert remove_durably(path) is False


def test_move_dir_into_place_fsyncs_every_file_and_folder_then_renames(tmp_path, events):
    final = tmp_path / "versions" / "3"
    (final / "old").mkdir(parents=True)
    tmp = tmp_path / "versions" / ".tmp-3-abcd"
    (tmp / "matters").mkdir(parents=True)
    (tmp / "catalog.yaml").write_bytes(b"a")
    (tmp / "matters" / "m.yaml").write_bytes(b"b")
    move_dir_into_place(tmp, final)
    assert sorted(p.relative_to(final).as_posix() for p in final.rglob("*")) == \
        ["catalog.yaml", "matters", "matters/m.yaml"]
    assert not tmp.exists()
    synced = {path for kind, path in events if kind == "fsync"}
    assert {str(tmp / "catalog.yaml"), str(tmp / "matters" / "m.yaml"), str(tmp),
            str(tmp / "matters")} <= synced
    assert events[-2:] == [("replace", str(final)), ("fsync", str(final.parent))]


def test_sweep_removes_only_temp_files_of_writers_that_are_gone(tmp_path):
    mine = temp_beside(tmp_path / "a.json")
    mine.write_bytes(b"being written")
    gone = tmp_path / ".b.json.999999999-0123abcd.tmp"      # no such process
    gone.write_bytes(b"half")
    (tmp_path / "c.json").write_bytes(b"{}")
    assert sweep_temp_files(tmp_path) == 1
    assert mine.exists() and not gone.exists() and (tmp_path / "c.json").exists()


def test_a_rename_that_fails_is_raised_not_swallowed(tmp_path, monkeypatch):
    final = tmp_path / "sealed.bin"
    tmp = temp_beside(final)
    tmp.write_bytes(b"packet")

    def refuse(src, dst):
        raise OSError(5, "Input/output error")
    monkeypatch.setattr(atomic.os, "replace", refuse)
    with pytest.raises(OSError):
        move_into_place(tmp, final)
    assert not final.exists() and temp_files(tmp_path) == []


def test_temp_names_carry_the_host_and_the_sweep_spares_another_hosts_fresh_writes(tmp_path):
    """Several back-office hosts share one folder: a pid from another host says nothing here,
    so another host's temp file is left alone while it may still be written."""
    mine = temp_beside(tmp_path / "a.json")
    assert TEMP_FILE.match(mine.name)["host"] == atomic.this_host()
    other_fresh = tmp_path / ".b.json.999999999-0123abcd@other-host.tmp"
    other_stale = tmp_path / ".c.json.999999999-0123abcd@other-host.tmp"
    mine_dead = tmp_path / f".d.json.999999999-0123abcd@{atomic.this_host()}.tmp"
    for path in (other_fresh, other_stale, mine_dead):
        path.write_bytes(b"half")
    old = os.stat(other_stale).st_mtime - atomic.FOREIGN_TEMP_MAX_AGE_S - 60
    os.utime(other_stale, (old, old))
    assert sweep_temp_files(tmp_path) == 2
    assert other_fresh.exists() and not other_stale.exists() and not mine_dead.exists()
