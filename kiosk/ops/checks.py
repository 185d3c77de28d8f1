"""One `Check` type: a thing a technician is told was checked, for the doctor and provisioning.

A check has a name (a device slot, "disk", "back office", ...), a status — OK, WARN, FAIL, or
SKIP where it cannot apply here (no systemd) — a detail in plain words and, when it is not OK,
advice: the next step. The doctor (kiosk/ops/doctor/) uses all four statuses; provisioning's
self-test (kiosk/ops/provision/self_test.py) only passes or fails, through `Check.of`.
Nothing personal goes into a check.
"""
from __future__ import annotations

from dataclasses import dataclass

OK, WARN, FAIL, SKIP = "OK", "WARN", "FAIL", "SKIP"
STATUSES = (OK, WARN, FAIL, SKIP)


@dataclass(frozen=True)
class Check:
    name: str
    status: str
    detail: str
    advice: str = ""

    @classmethod
    def of(cls, name: str, ok: bool, detail: str, advice: str = "") -> "Check":
        """A check that passes (OK) or fails (FAIL)."""
        return cls(name, OK if ok else FAIL, detail, advice)

    @property
    def ok(self) -> bool:
        """True unless the check FAILed (a warning or a skipped check is no failure)."""
        return self.status != FAIL


def summary(checks: list[Check]) -> dict[str, int]:
    """How many checks have each status, {"OK": n, "WARN": n, "FAIL": n, "SKIP": n}."""
    return {status: sum(c.status == status for c in checks) for status in STATUSES}
