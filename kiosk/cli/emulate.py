"""`kiosk emulate KIND`: run a device emulator that speaks the real wire protocol.

The emulators themselves live with their drivers in `devices/`; this only names them.
"""
from __future__ import annotations

from kiosk.cli import LazyGroup

import click

EMULATORS = {
    "id_card": ("devices.id_card.emulator:cli",
                "SAM ID-card reader on a pseudo-terminal or TCP, serving scenario cards."),
    "printer": ("devices.printer.emulator:cli",
                "ESC/POS receipt printer on a pseudo-terminal or TCP, rendering paper to PNG."),
}


@click.group(cls=LazyGroup, lazy=EMULATORS)
def emulate() -> None:
    """Run a device emulator (prints where it listens first, then serves until Ctrl-C)."""
