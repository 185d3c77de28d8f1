"""A scripted applicant: reads snapshots and decides what a citizen would touch next.

Used headless by `kiosk simulate` (intents go straight to the session) and by the UI autopilot
(the same decisions become simulated touches on real widgets). Answers come from a YAML/JSON
file; anything it does not say gets a plausible valid default, so every matter can be walked.

    consent: true
    face: match            # match | decline (use the non-face alternative)
    role: legal_representative
    form: {mobile: "13800138000"}
    materials: {premises_proof: missing}   # default: capture every page
    evaluation: 5          # 1..5, or null to skip
"""
from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass, field

from flows.validators import credit_code_check_char, id_number_check_char
from kiosk.visit import intents as I


def signature_png() -> bytes:
    """A handwritten-looking scribble, as the signature pad would produce."""
    from PIL import Image, ImageDraw
    img = Image.new("RGBA", (600, 200), (255, 255, 255, 0))
    d = ImageDraw.Draw(img)
    pts = [(40 + i * 9, 100 + int(40 * ((i % 7) - 3) / 3)) for i in range(55)]
    d.line(pts, fill=(0, 0, 0, 255), width=5)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def default_value(field_view: I.FieldView) -> str:
    t = field_view.type
    if t == "choice":
        return field_view.choices[0][0]
    if t == "yes_no":
        return "yes"
    if t == "mobile":
        return "13800138000"
    if t == "amount":
        return "10000"
    if t == "integer":
        return "2"
    if t == "date":
        return (dt.date.today() - dt.timedelta(days=30)).isoformat()
    if t == "id_number":
        first17 = "51010220150601003"
        return first17 + id_number_check_char(first17)
    if t == "credit_code":
        first17 = "92510100MA6CXXXX0"[:9] + "6CJ8T1Q4"
        return first17 + credit_code_check_char(first17)
    return "测试内容"


@dataclass
class ScriptedApplicant:
    """A citizen walking one visit: the answers (see the module doc) and what happened."""
    answers: dict = field(default_factory=dict)
    finished: bool = False
    outcome: str | None = None
    case_number: str | None = None
    screens: list[str] = field(default_factory=list)
    _entered: set = field(default_factory=set)
    _signature: bytes | None = None

    def decide(self, s: I.Snapshot) -> list:
        """Intents to send in answer to snapshot `s` (empty: wait for the next snapshot)."""
        if not self.screens or self.screens[-1] != s.screen:
            self.screens.append(s.screen)
        a = self.answers
        if s.screen == "guide":
            return [I.Next()]
        if s.screen == "consent":
            return [I.Agree(bool(a.get("consent", True)))]
        if s.screen == "face":
            if a.get("face") == "decline":      # may opt out while the camera is running
                return [I.DeclineFace()]
            if s.busy:
                return []
            if s.reason_key in ("face.offer_alternative",):
                return [I.DeclineFace()]
            if s.face_attempts and s.reason_key:
                return [I.RetryFace()]
            return []
        if s.screen == "role":
            return [I.ChooseRole(a.get("role", "legal_representative"))]
        if s.screen == "form":
            out = []
            for f in s.fields:
                if f.prefilled or f.key in self._entered:
                    continue
                self._entered.add(f.key)
                given = (a.get("form") or {}).get(f.key)
                if given is None and not f.required:
                    continue
                out.append(I.EnterField(f.key, str(given) if given is not None
                                        else default_value(f)))
            return out + [I.Next()] if not s.reason_key or out else out
        if s.screen == "materials":
            if s.busy:
                return []
            wanted = a.get("materials") or {}
            for m in s.materials:
                if m.status == "todo":
                    if wanted.get(m.code) == "missing" and (m.missing_allowed or m.lookup):
                        return [I.MarkMissing(m.code)]
                    return [I.CapturePage(m.code)]
            return [I.Next()]
        if s.screen == "review":
            return [I.Next()]
        if s.screen == "commitment":
            self._signature = self._signature or signature_png()
            return [I.Sign(self._signature)]
        if s.screen == "evaluation":
            return [I.Rate(a.get("evaluation", 5))]
        if s.screen in ("done", "refused", "help"):
            self.finished = True
            self.outcome = s.screen
            self.case_number = s.case_number or self.case_number
            self.reason_key = s.reason_key
            return []
        return []


@dataclass
class ReturningCitizen:
    """A citizen back about an earlier case (办件查询, 补件): finds it by the receipt's case
    number (typed, or the QR scanner's URL), by the receipt's QR code under the document camera
    (`scan_receipt`) or, with `case_number=None`, by the ID card; when a
    case asks for materials and `supplement` is true, captures each requested page and submits.
    Ends (and walks away with Cancel) on the progress result, or after the supplement."""
    case_number: str | None = None
    supplement: bool = True
    scan_receipt: bool = False      # lays the receipt under the document camera instead
    finished: bool = False
    outcome: str | None = None
    case_number_done: str | None = None
    reason_key: str | None = None
    cases: tuple = ()
    screens: list[str] = field(default_factory=list)
    _asked: bool = False
    _supplying: bool = False

    def _finish(self, s: I.Snapshot, walk_away: bool = True) -> list:
        self.finished, self.outcome, self.reason_key = True, s.screen, s.reason_key
        return [I.Cancel()] if walk_away else []

    def decide(self, s: I.Snapshot) -> list:
        if not self.screens or self.screens[-1] != s.screen:
            self.screens.append(s.screen)
        if s.busy or s.screen in ("progress_card", "supplement_card", "supplement_submit"):
            return []
        if s.screen == "progress":
            if self._asked:        # asked already and back here: offline, unknown number ...
                return self._finish(s)
            self._asked = True
            if self.scan_receipt:
                return [I.ScanReceiptCode()]
            return [I.EnterCaseNumber(self.case_number) if self.case_number
                    else I.ReadCardForProgress()]
        if s.screen == "progress_result":
            self.cases = s.cases
            wanted = next((c for c in s.cases if c.requested), None)
            if self.supplement and wanted is not None and not self._supplying:
                self._supplying = True
                return [I.StartSupplement(wanted.case_number)]
            return self._finish(s)
        if s.screen == "supplement":
            if s.reason_key and s.reason_key.startswith("outbox."):
                return self._finish(s)
            todo = next((m for m in s.materials if m.status == "todo"), None)
            return [I.CapturePage(todo.code) if todo else I.Next()]
        if s.screen in ("supplement_done", "refused", "help"):
            self.case_number_done = s.case_number
            return self._finish(s, walk_away=False)
        return []


def drive(session, pilot: ScriptedApplicant, matter_code: str, timeout: float = 120.0,
          on_snapshot=None) -> ScriptedApplicant:
    """Run one visit headless: start `matter_code` and answer snapshots until it ends."""
    return drive_intent(session, pilot, I.StartVisit(matter_code), timeout, on_snapshot)


def drive_intent(session, pilot, first, timeout: float = 120.0, on_snapshot=None):
    """Send `first` (StartVisit, StartProgress; or a list of intents, e.g. SetLanguage then
    StartVisit) and let `pilot` answer snapshots until it is finished. Acts only on a snapshot
    that reflects every intent sent so far, so a stale snapshot can never make it press "next"
    twice. Raises TimeoutError naming the screen it got stuck on. Listens to the session only
    while it drives: a driver left subscribed would be handed every later snapshot.
    """
    import queue as _queue
    import time as _time

    snaps: _queue.Queue = _queue.Queue()
    session.subscribe(snaps.put)
    try:
        sent = session.snapshot.handled if session.snapshot else 0
        for intent in first if isinstance(first, (list, tuple)) else [first]:
            session.send(intent)
            sent += 1
        deadline = _time.monotonic() + timeout
        latest = None
        while not pilot.finished:
            left = deadline - _time.monotonic()
            if left <= 0:
                raise TimeoutError(f"visit stuck on screen "
                                   f"{latest.screen if latest else None!r} "
                                   f"reason={latest.reason_key if latest else None}")
            try:
                latest = snaps.get(timeout=min(left, 0.5))
            except _queue.Empty:
                continue
            while not snaps.empty():
                latest = snaps.get_nowait()
            if on_snapshot:
                on_snapshot(latest)
            if latest.handled < sent or latest.screen == "attract" or pilot.finished:
                continue
            for intent in pilot.decide(latest):
                session.send(intent)
                sent += 1
    finally:
        session.unsubscribe(snaps.put)
    return pilot


def wait_for_attract(session, timeout: float, poll_s: float = 0.02) -> bool:
    """Wait until the session is back on the attract screen (the visit wiped); False when it is
    not there after `timeout` seconds."""
    import time as _time
    deadline = _time.monotonic() + timeout
    while True:
        snap = session.snapshot
        if snap is not None and snap.screen == "attract":
            return True
        if _time.monotonic() >= deadline:
            return False
        _time.sleep(poll_s)
