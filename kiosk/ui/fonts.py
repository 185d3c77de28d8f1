"""Find a CJK font the kiosk can render Chinese with, or fail loudly.

Debian's fonts-noto-cjk ships a TrueType collection (.ttc) whose first face is the Japanese
variant; SDL_ttf (Kivy's text provider) can only open the first face of a collection. We
therefore extract the Simplified Chinese face ("Noto Sans CJK SC") once into the cache directory
with fontTools (written durably with protocol.atomic) and register that file. Plain .ttf/.otf
CJK fonts are used as they are.
"""
from __future__ import annotations

import logging
import os
import subprocess
from pathlib import Path

from protocol.atomic import move_into_place, temp_beside

log = logging.getLogger(__name__)

COLLECTIONS = ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
               "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc")
WANTED_FACE = "Noto Sans CJK SC"


class NoCjkFont(RuntimeError):
    pass


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    return Path(base) / "kiosk" / "fonts"


def _extract(ttc: str, target: Path) -> Path:
    from fontTools.ttLib import TTCollection
    collection = TTCollection(ttc, lazy=True)
    for font in collection.fonts:
        if font["name"].getDebugName(4) == WANTED_FACE or \
                font["name"].getDebugName(1) == WANTED_FACE:
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = temp_beside(target)
            try:
                font.save(str(tmp))
            except BaseException:
                tmp.unlink(missing_ok=True)
                raise
            move_into_place(tmp, target)
            return target
    raise NoCjkFont(f"{ttc} has no {WANTED_FACE} face")


def find_cjk_fonts() -> tuple[str, str]:
    """(regular, bold) font files for Chinese text; raises NoCjkFont with what to install."""
    found = []
    for ttc, name in zip(COLLECTIONS, ("NotoSansCJKsc-Regular.otf", "NotoSansCJKsc-Bold.otf")):
        target = cache_dir() / name
        if target.exists() and target.stat().st_size > 1_000_000:
            found.append(str(target))
        elif os.path.exists(ttc):
            found.append(str(_extract(ttc, target)))
    if not found:
        found = _fontconfig_fallback()
    if not found:
        raise NoCjkFont("no CJK font found: install Debian's fonts-noto-cjk "
                        "(apt-get install fonts-noto-cjk)")
    regular = found[0]
    return regular, found[1] if len(found) > 1 else regular


def _fontconfig_fallback() -> list[str]:
    try:
        out = subprocess.run(["fc-match", "-f", "%{file}", ":lang=zh-cn"], capture_output=True,
                             text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return []
    if out and not out.endswith(".ttc") and os.path.exists(out):
        return [out]
    return []


def register_default_font() -> str:
    """Make the CJK font Kivy's default (Roboto has no Chinese glyphs); returns its path."""
    from kivy.core.text import DEFAULT_FONT, LabelBase
    regular, bold = find_cjk_fonts()
    LabelBase.register(DEFAULT_FONT, fn_regular=regular, fn_bold=bold)
    LabelBase.register("KioskCJK", fn_regular=regular, fn_bold=bold)
    log.info("cjk font registered")
    return regular
