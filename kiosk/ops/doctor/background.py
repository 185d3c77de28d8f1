"""A doctor's probe run in a daemon thread, waited for with a deadline."""
from __future__ import annotations

import threading
from typing import Callable


class Background:
    """fn() started in a daemon thread; `result(timeout)` waits for it (TimeoutError if it
    has not returned by then: a device that hangs must not hang the doctor)."""

    def __init__(self, fn: Callable):
        self._box: dict = {}
        self._thread = threading.Thread(target=self._run, args=(fn,), name="doctor-probe",
                                        daemon=True)
        self._thread.start()

    def _run(self, fn: Callable) -> None:
        try:
            self._box["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            self._box["error"] = exc

    def result(self, timeout: float):
        self._thread.join(max(timeout, 0))
        if self._thread.is_alive():
            raise TimeoutError(f"no answer within {timeout:.0f} s")
        if "error" in self._box:
            raise self._box["error"]
        return self._box.get("value")
