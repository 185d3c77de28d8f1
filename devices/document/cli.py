"""`doc` commands: capture pages from a document camera URL into JPEGs and a PDF; write
emulator frames to disk (for a doccam+images:// folder or for eyeballing the scenarios).

    python -m devices.document.cli capture "doccam+emulator://pages?sequence=clean,glare,clean" \
        --pages 3 --out /tmp/material
    python -m devices.document.cli frames --out /tmp/frames --sequence clean,blur --seed 1

(`kiosk doc ...` once `"doc": ("devices.document.cli:doc", ...)` is listed in kiosk/cli/__init__.py.)
"""
from __future__ import annotations

import json
from pathlib import Path

import click
import cv2

from devices.interfaces import DeviceError


@click.group()
def doc() -> None:
    """Document camera (高拍仪): capture and check material pages."""


@doc.command()
@click.argument("url")
@click.option("--pages", default=1, show_default=True, help="Accepted pages to collect.")
@click.option("--attempts", default=10, show_default=True, help="Give up after this many captures.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), required=True)
@click.option("--material", default="material", show_default=True, help="Material code.")
def capture(url: str, pages: int, attempts: int, out_dir: str, material: str) -> None:
    """Capture pages from URL until PAGES are accepted; write page JPEGs, PDF and a summary."""
    from devices.document.pdf import assemble_material
    from devices.document.pipeline import REASONS
    from devices.registry import open_device

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    scanner = open_device(url, expected_kind="doc_camera")
    accepted = []
    try:
        for attempt in range(1, attempts + 1):
            if len(accepted) >= pages:
                break
            try:
                page = scanner.capture_page()
            except DeviceError as exc:
                raise click.ClickException(f"{exc.reason_key}: {exc}") from exc
            if page.accepted:
                accepted.append(page)
                (out / f"page{len(accepted):02d}.jpg").write_bytes(page.jpeg)
                click.echo(f"{attempt}: accepted {page.width_px}x{page.height_px} @ {page.dpi} dpi "
                           f"sharpness {page.sharpness:.0f}")
            else:
                click.echo(f"{attempt}: rejected {page.reason_key} — {REASONS[page.reason_key][1]}")
    finally:
        scanner.close()
    if not accepted:
        raise click.ClickException("no page was accepted")
    mat = assemble_material(material, accepted)
    (out / f"{material}.pdf").write_bytes(mat.pdf)
    (out / "summary.json").write_text(json.dumps(
        {"material": material, "page_count": mat.page_count, "dpi": mat.dpi,
         "sha256s": list(mat.sha256s), "pdf_sha256": mat.pdf_sha256}, indent=2))
    click.echo(f"wrote {mat.page_count} page(s) and {material}.pdf to {out}")
    if len(accepted) < pages:
        raise click.ClickException(f"only {len(accepted)} of {pages} pages accepted")


@doc.command()
@click.option("--out", "out_dir", type=click.Path(file_okay=False), required=True)
@click.option("--sequence", default="clean,rotated,crooked,blur,glare,cropped,dark,small,nopage",
              show_default=True)
@click.option("--seed", default=0, show_default=True)
@click.option("--size", default="1280x960", show_default=True, help="Frame WIDTHxHEIGHT.")
def frames(out_dir: str, sequence: str, seed: int, size: str) -> None:
    """Write one still emulator frame per scenario as PNG (name order = sequence order)."""
    from devices.document.emulator import synth_frame

    try:
        w, h = (int(v) for v in size.lower().split("x"))
    except ValueError:
        raise click.BadParameter("use WIDTHxHEIGHT, e.g. 1920x1080", param_hint="--size") from None
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for i, name in enumerate(s.strip() for s in sequence.split(",") if s.strip()):
        try:
            frame = synth_frame(name, seed=seed + i, frame_size=(w, h))
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--sequence") from None
        cv2.imwrite(str(out / f"{i:02d}_{name}.png"), frame)
        click.echo(f"{i:02d}_{name}.png")


if __name__ == "__main__":  # pragma: no cover
    doc()
