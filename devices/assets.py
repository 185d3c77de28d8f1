"""Where the files that ship with the kiosk live: the repository's top-level `assets/` folder.

The demo applicants' face photos (`assets/faces/`, see its README) are read by the ID-card
reader emulator's scenario, the camera emulator, the threshold calibration, the benchmarks and
the tests. `--faces-dir` or the environment variable KIOSK_TESTDATA_FACES points them at
another folder. A photo that is missing or unreadable is an `AssetMissing`: one line naming the
file and what to do, which the command-line tools print instead of a traceback.
"""
from __future__ import annotations

import contextlib
import logging
import os
import sys
from pathlib import Path
from typing import Iterator

from devices.interfaces import ConfigurationError

log = logging.getLogger(__name__)

REPOSITORY = Path(__file__).resolve().parents[1]
ASSETS_DIR = REPOSITORY / "assets"
FACES_DIR = ASSETS_DIR / "faces"
FACES_ENV = "KIOSK_TESTDATA_FACES"


class AssetMissing(ConfigurationError):
    """A file the kiosk needs is missing or unreadable; the message says what to do."""

    def __init__(self, path: Path, reason: str):
        self.path = path
        super().__init__(
            f"face photo {path} not readable ({reason}); point --faces-dir / {FACES_ENV} at a "
            f"folder holding it, or restore assets/faces from the repository")


def faces_dir(option: str | os.PathLike | None = None) -> Path:
    """The folder of face photos: `option`, else $KIOSK_TESTDATA_FACES, else assets/faces."""
    return Path(option or os.environ.get(FACES_ENV) or FACES_DIR).resolve()


def unreadable_because(path: Path) -> str | None:
    """Why the file `path` cannot be opened, in a few words; None when it can be."""
    if not path.exists():
        return "no such file" if path.parent.is_dir() else f"no folder {path.parent}"
    if not path.is_file():
        return "not a file"
    if not os.access(path, os.R_OK):
        return "permission denied"
    return None


def read_face_photo(path: Path):
    """The photo at `path` as a BGR array (OpenCV), or `AssetMissing` saying what is wrong.
    The file is checked first, so OpenCV prints no warning of its own for a missing one."""
    import cv2
    reason = unreadable_because(path)
    image = None if reason else cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise AssetMissing(path, reason or "not an image the decoder can read")
    return image


@contextlib.contextmanager
def exit_on_missing_asset(program: str = "kiosk") -> Iterator[None]:
    """In a command: print `AssetMissing` as one line on stderr and exit 1, no traceback."""
    try:
        yield
    except AssetMissing as exc:
        log.debug("asset missing path=%s", exc.path)
        print(f"{program}: {exc}", file=sys.stderr)
        raise SystemExit(1) from None
