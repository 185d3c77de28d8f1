"""What every provisioning step shares: the error that stops it, paths under --root, the
environment variables the secrets may come in, and the lines the technician reads."""
from __future__ import annotations

from pathlib import Path

import click

REPO = Path(__file__).resolve().parents[3]     # kiosk/ops/provision/common.py -> the checkout
TOKEN_ENV = "KIOSK_ENROL_TOKEN"
PIN_ENV = "KIOSK_TECHNICIAN_PIN"


class ProvisionError(click.ClickException):
    """A plain-language reason provisioning stopped; nothing more was written."""

    exit_code = 1


def under(root: Path, path: str | Path) -> Path:
    """`path` (absolute, or relative to the root) under `root` (/ on a live system)."""
    path = Path(path)
    return root / path.relative_to("/") if path.is_absolute() else root / path


def say(text: str) -> None:
    """One line of what provisioning does, for the technician."""
    click.echo(text)
