"""The one reading of a printer's status: the fault that stops printing, the maintenance it needs,
and what a heartbeat says about the paper.

Used by the driver (a job is refused on a fault), the device supervisor (health, heartbeats),
`kiosk doctor` and `kiosk devices list`, so all of them name the same fault for the same status.
A printer goes offline *because* its roll ran out, its cover opened or its cutter jammed (the
emulator does the same): the cause is the fault, never the offline flag that follows from it.
Paper out comes first, so the fleet sees "paper out" (an alarm with what to do) and not a
printer that merely stopped answering.
"""
from __future__ import annotations

from devices.interfaces import PaperState, PrinterStatus

PAPER_OUT = "printer.paper_out"
COVER_OPEN = "printer.cover_open"
CUTTER_ERROR = "printer.cutter_error"
OFFLINE = "printer.offline"
PAPER_NEAR_END = "printer.paper_near_end"


def fault_of(status: PrinterStatus) -> str | None:
    """The reason key that stops printing, or None. The cause wins over the offline it causes."""
    if status.paper == PaperState.OUT:
        return PAPER_OUT
    if status.cover_open:
        return COVER_OPEN
    if status.cutter_error or status.unrecoverable:
        return CUTTER_ERROR
    if not status.online:
        return OFFLINE
    return None


def condition_of(status: PrinterStatus) -> tuple[str | None, str | None]:
    """(fault, maintenance): maintenance is a printer that still prints but needs a visit."""
    fault = fault_of(status)
    near_end = fault is None and status.paper == PaperState.NEAR_END
    return fault, PAPER_NEAR_END if near_end else None


def paper_of(fault: str | None, maintenance: str | None, available: bool) -> str:
    """The heartbeat's paper state from a supervised printer's health: "out", "near_end", "ok",
    or "unknown" when the printer is down for another reason (its paper cannot be read)."""
    if fault == PAPER_OUT:
        return "out"
    if not available or fault is not None:
        return "unknown"
    return "near_end" if maintenance == PAPER_NEAR_END else "ok"
