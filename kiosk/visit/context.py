"""Everything the kiosk knows about the person in front of it, in one object per visit.

The session (kiosk/visit/session.py) makes a fresh `VisitContext` when a visit is wiped and the
attract screen comes back, so forgetting an applicant is "drop the object, make a new one":
nothing of one visit can stay behind in a field somebody forgot to reset. The snapshot
(kiosk/visit/snapshot.py) is built from it. What belongs to the terminal rather than to one
person (the visit counter, the device worker, listeners, idle tasks) stays on the session.
"""
from __future__ import annotations

import datetime as dt
import threading
from concurrent.futures import Future
from dataclasses import dataclass, field

from flows import engine as E
from kiosk.visit.returning import ProgressVisit


@dataclass(eq=False)
class VisitContext:
    """One visit, from the first touch to the wipe (see the module doc)."""
    language: str                                   # the site's language until the visitor picks
    last_touch: float                               # session clock: the idle timer starts here
    plan: E.VisitPlan | None = None                 # the matter's plan, while an application runs
    state: E.VisitState | None = None               # where the application stands
    job: Future | None = None                       # the device step running now, if any
    screen: str = "attract"                         # shown while no application runs
    reason: str | None = None                       # the prompt saying why (refused, cancelled)
    params: dict = field(default_factory=dict)      # placeholders of that prompt
    matter_code: str | None = None
    elder: bool = False
    audio_first: bool = False
    face_guidance: str | None = None                # the camera's advice now ("move closer")
    capture_material: str | None = None             # the material the document camera captures
    case_number: str | None = None                  # kept for the end screen, after the state
    receipt_printed: bool | None = None
    reprint: str = ""                               # "", "printing", "printed", "failed"
    end_until: float | None = None                  # session clock: when the end screen goes
    started_at: dt.datetime | None = None
    identity_at: dt.datetime | None = None          # when the ID card was read
    accepted_at: dt.datetime | None = None          # when the outbox took the packet
    progress_token: str = ""                        # for the receipt's QR code
    alerts: tuple[str, ...] = ()                    # e.g. the card is still on the reader
    service: ProgressVisit | None = None            # 办件查询 / 补件 (kiosk/visit/returning.py)
    service_job: int = 0                            # which service job's result is awaited
    service_cancel: threading.Event = field(default_factory=threading.Event)

    @property
    def active(self) -> bool:
        """An application or a returning citizen's service is running (not an end screen)."""
        return self.plan is not None or self.service is not None

    def step_name(self) -> str:
        """The screen or step, for logs and help requests."""
        if self.service is not None:
            return self.service.screen
        return E.current_step(self.plan, self.state).value if self.plan else self.screen
