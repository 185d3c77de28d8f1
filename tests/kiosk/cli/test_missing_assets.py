"""A face photo that is missing or unreadable stops `kiosk simulate`, `kiosk emulate id_card`
and `kiosk run --demo` with one line naming the file and what to do, never a traceback; also
when --faces-dir or KIOSK_TESTDATA_FACES points at nothing."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from devices.assets import FACES_DIR, AssetMissing
from devices.interfaces import ConfigurationError
from devices.registry import open_device

ROOT = Path(__file__).resolve().parents[3]
KIOSK = [sys.executable, "-m", "kiosk.cli"]


def kiosk(*args: str, env: dict | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k != "KIOSK_TESTDATA_FACES"}
    return subprocess.run([*KIOSK, *args], cwd=ROOT, env={**base, **(env or {})},
                          capture_output=True, text=True, timeout=timeout)


def assert_one_clear_line(proc: subprocess.CompletedProcess, photo: Path, reason: str) -> None:
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(f"kiosk: face photo {photo} not readable ({reason})"), lines[0]
    assert "--faces-dir / KIOSK_TESTDATA_FACES" in lines[0]
    assert "restore assets/faces from the repository" in lines[0]


def partial_faces(folder: Path, leave_out: str) -> Path:
    folder.mkdir()
    for photo in FACES_DIR.glob("*.jpg"):
        if photo.name != leave_out:
            (folder / photo.name).symlink_to(photo)
    return folder


def test_the_packaged_photos_are_in_the_repository():
    for name in ("leslie_1.jpg", "leslie_2.jpg", "obama_1.jpg", "obama_2.jpg", "biden_1.jpg",
                 "biden_2.jpg", "harington_1.jpg", "harington_2.jpg", "two_people.jpg",
                 "LICENSE.face_recognition", "README.md"):
        assert (FACES_DIR / name).is_file(), name
    assert FACES_DIR == ROOT / "assets" / "faces"


def test_simulate_with_faces_dir_pointing_at_nothing(tmp_path):
    nowhere = tmp_path / "nowhere"
    proc = kiosk("simulate", "NP-WORK-NO-CRIME", "--out", str(tmp_path / "out"),
                 "--faces-dir", str(nowhere))
    assert_one_clear_line(proc, nowhere / "leslie_1.jpg", f"no folder {nowhere}")


def test_simulate_with_the_environment_pointing_at_an_empty_folder(tmp_path):
    proc = kiosk("simulate", "NP-WORK-NO-CRIME", "--out", str(tmp_path / "out"),
                 env={"KIOSK_TESTDATA_FACES": str(tmp_path)})
    assert_one_clear_line(proc, tmp_path / "leslie_1.jpg", "no such file")


def test_simulate_names_a_missing_camera_photo_before_any_visit(tmp_path):
    """biden_2.jpg is only what the camera shows the holder of biden_1's card."""
    faces = partial_faces(tmp_path / "faces", "biden_2.jpg")
    out = tmp_path / "out"
    proc = kiosk("simulate", "NP-WORK-NO-CRIME", "--out", str(out), "--faces-dir", str(faces))
    assert_one_clear_line(proc, faces / "biden_2.jpg", "no such file")
    assert not [p for p in out.glob("*/manifest.json")]


def test_emulator_with_a_damaged_photo(tmp_path):
    faces = partial_faces(tmp_path / "faces", "leslie_1.jpg")
    (faces / "leslie_1.jpg").write_bytes(b"not a jpeg")
    proc = kiosk("emulate", "id_card", "--pty", "--faces-dir", str(faces))
    assert_one_clear_line(proc, faces / "leslie_1.jpg", "not an image the decoder can read")
    assert proc.stdout == ""


def test_emulator_with_faces_dir_pointing_at_nothing(tmp_path):
    proc = kiosk("emulate", "id_card", env={"KIOSK_TESTDATA_FACES": str(tmp_path / "none")})
    assert_one_clear_line(proc, tmp_path / "none" / "leslie_1.jpg", f"no folder {tmp_path}/none")


def test_demo_with_faces_pointing_at_nothing_leaves_no_folder(tmp_path):
    temp = tmp_path / "tmp"
    temp.mkdir()
    proc = kiosk("run", "--demo", "--no-voice",
                 env={"KIOSK_TESTDATA_FACES": str(tmp_path / "none"), "TMPDIR": str(temp)})
    assert_one_clear_line(proc, tmp_path / "none" / "leslie_1.jpg", f"no folder {tmp_path}/none")
    assert list(temp.iterdir()) == []


def test_camera_emulator_url_with_a_missing_photo(tmp_path):
    with pytest.raises(AssetMissing) as caught:
        open_device(f"camera+emulator://face?faces_dir={tmp_path}&photo=obama_2.jpg")
    assert isinstance(caught.value, ConfigurationError)
    assert str(caught.value).startswith(f"face photo {tmp_path / 'obama_2.jpg'} not readable")
