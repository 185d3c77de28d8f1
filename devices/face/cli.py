"""`kiosk face verify`: compare a photo treated as the card photo with a live image, video or camera.

    kiosk face verify --id-photo card.jpg --live obama_2.jpg --json
    kiosk face verify --id-photo card.jpg --live clip.mp4
    kiosk face verify --id-photo card.jpg --live 'camera+emulator://face?photo=obama_2.jpg'

A single still image gives a decision from that one frame and liveness `not_checked` (a still
cannot blink). A video file or camera URL runs the full live pipeline with the blink challenge.
Prints decision, distance, threshold and liveness; never the images.
"""
from __future__ import annotations

import json
from pathlib import Path

import click

from devices.interfaces import ConfigurationError, DeviceError

STILL_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}


def _read_image(path: str, what: str):
    import cv2
    image = cv2.imread(path, cv2.IMREAD_COLOR)
    if image is None:
        raise click.BadParameter(f"cannot read {path!r} as an image", param_hint=what)
    return image


@click.group()
def face() -> None:
    """Face verification against an ID-card photo."""


@face.command()
@click.option("--id-photo", "id_photo", required=True, type=click.Path(dir_okay=False),
              help="Image treated as the card photo (cropped to 102x126 around the face if larger).")
@click.option("--live", required=True, help="Still image, video file, or camera URL.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--threshold", type=click.FloatRange(0.2, 1.2, min_open=True), default=None,
              help="Match threshold (default: the calibrated one).")
@click.option("--timeout", type=click.FloatRange(1, 300), default=20.0, show_default=True,
              help="Seconds for a video/camera attempt.")
def verify(id_photo: str, live: str, as_json: bool, threshold: float | None,
           timeout: float) -> None:
    """Verify a live image/video/camera against an ID photo."""
    from devices.face import as_card_photo, make_verifier
    card = as_card_photo(_read_image(id_photo, "--id-photo"))
    verifier = make_verifier(threshold=threshold)
    try:
        if "://" not in live and Path(live).suffix.lower() in STILL_SUFFIXES:
            result = verifier.verify_still(card, _read_image(live, "--live"))
        else:
            from devices.registry import open_device
            url = live if "://" in live else f"camera+file://{Path(live).resolve()}"
            if "://" not in live and not Path(live).is_file():
                raise click.BadParameter(f"no such file {live!r}", param_hint="--live")
            camera = open_device(url, expected_kind="camera")
            try:
                result = verifier.verify(card, camera, timeout=timeout)
            finally:
                camera.close()
    except ConfigurationError as exc:
        raise click.ClickException(str(exc)) from None
    except DeviceError as exc:
        raise click.ClickException(f"{exc.reason_key}: {exc}") from None
    finally:
        verifier.wipe()
    out = {"decision": result.decision.value, "distance": result.distance,
           "threshold": result.threshold, "liveness": result.liveness.value,
           "frames_used": result.frames_used, "reason_key": result.reason_key}
    if as_json:
        click.echo(json.dumps(out))
    else:
        dist = "-" if result.distance is None else f"{result.distance:.3f}"
        click.echo(f"decision: {out['decision']}\ndistance: {dist}\n"
                   f"threshold: {result.threshold:.3f}\nliveness: {out['liveness']}\n"
                   f"frames used: {result.frames_used}"
                   + (f"\nreason: {result.reason_key}" if result.reason_key else ""))
