"""One image of every screen of a visit: the autopilot's screenshots laid out in a grid.

    python -m kiosk.ui.contact_sheet SCREENSHOT_DIR OUT.png [--columns 3] [--width 640]

Used to review a whole visit at a glance (docs/ui-contact-sheet.png) and by the UI tests.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

CAPTION_FONT = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")


def make_contact_sheet(shots: list[Path], out: Path, columns: int = 3, width: int = 640) -> Path:
    """Write `out`: the screenshots in order, scaled to `width`, each captioned with its name."""
    if not shots:
        raise ValueError("no screenshots to lay out")
    first = Image.open(shots[0])
    height = round(first.height * width / first.width)
    caption = 30
    rows = -(-len(shots) // columns)
    sheet = Image.new("RGB", (columns * width + (columns + 1) * 8,
                              rows * (height + caption) + (rows + 1) * 8), "white")
    draw = ImageDraw.Draw(sheet)
    font = (ImageFont.truetype(str(CAPTION_FONT), 20) if CAPTION_FONT.exists()
            else ImageFont.load_default())
    for i, path in enumerate(shots):
        x = 8 + (i % columns) * (width + 8)
        y = 8 + (i // columns) * (height + caption + 8)
        draw.text((x, y + 2), path.stem, fill="black", font=font)
        with Image.open(path) as im:
            sheet.paste(im.convert("RGB").resize((width, height), Image.LANCZOS), (x, y + caption))
        draw.rectangle((x - 1, y + caption - 1, x + width, y + caption + height), outline="grey")
    out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(out, optimize=True)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("shots", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--columns", type=int, default=3)
    parser.add_argument("--width", type=int, default=640)
    args = parser.parse_args(argv)
    make_contact_sheet(sorted(args.shots.glob("*.png")), args.out, args.columns, args.width)


if __name__ == "__main__":  # pragma: no cover
    main()
