"""The visits of the soak (benchmarks/soak.py): who comes, what goes wrong, and what happened.

`plan_visits(catalog, cards, n, seed, fault_rate)` draws each visit from a seeded random
generator: the matter (every matter and bundle of the catalogue in turn), a card that may use it,
the language, elder mode, and at most one fault. The faults are what a kiosk meets in a year:

  card_pulled       the card is lifted in the middle of a read, then laid down again
  corrupt_frame     the reader's reply is garbled (bad checksum once, or stray bytes)
  reader_unplugged  the reader's cable is pulled before the visit and put back after it
  paper_near_end    the roll is nearly finished (the receipt still prints)
  paper_out         the roll runs out in the middle of the receipt
  cover_open        the printer's cover is open
  camera_gone       the face camera is unplugged before the visit, back after it
  blurred_pages     the first page is out of focus (rejected) and has to be laid down again
  network_down      the network is down for a few seconds (the uploader must wait)
  backoffice_5xx    the back office answers 503 or 500 to the next few uploads
  disk_full         the outbox's disk is nearly full (its free-space floor is raised above
                    what is free, which is what the outbox sees on a full disk)
  walk_away         the applicant leaves at a random screen (the idle timeout ends the visit)
  cancel            the applicant presses Cancel at a random screen

`SoakApplicant` is the scripted applicant (kiosk/visit/scripted_applicant.py) with those
behaviours; `VisitRecord` is what the soak keeps of one visit (no personal data).
"""
from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field

from flows.engine import check_eligibility, plan_visit
from kiosk.app.demo_devices import faulty
from kiosk.visit import intents as I
from kiosk.visit.scripted_applicant import ScriptedApplicant

FAULTS = ("card_pulled", "corrupt_frame", "reader_unplugged", "paper_near_end", "paper_out",
          "cover_open", "camera_gone", "blurred_pages", "network_down", "backoffice_5xx",
          "disk_full", "walk_away", "cancel")
# the emulator's cards that act out a fault, and the healthy card of the same person
FAULTY_CARDS = {"card_pulled": ("pulled_mid_read", "wang_xiuying"),
                "corrupt_frame": ("checksum_once", "wang_xiuying")}
GARBLED_CARD = "garbage_bytes"       # the other corrupt_frame variant: stray bytes


@dataclass(frozen=True)
class PlannedVisit:
    number: int
    matter: str
    card: str               # the card laid on the reader first
    good_card: str          # the card laid down again after a pull
    language: str
    elder: bool
    fault: str | None
    leave_after: int        # walk_away / cancel: after this many screens


@dataclass
class VisitRecord:
    number: int
    matter: str
    fault: str | None
    outcome: str                        # done | refused | abandoned | stuck
    language: str = "zh"
    elder: bool = False
    reason: str | None = None
    seconds: float = 0.0
    screens: dict = field(default_factory=dict)     # screen -> seconds spent on it
    packets: list = field(default_factory=list)     # (kind, packet_id, case_number) accepted
    receipts: list = field(default_factory=list)    # case numbers read off the printed paper
    not_recovered: list = field(default_factory=list)   # device slots not back after the fault


def eligible_cards(catalog, cards: dict, today: dt.date) -> dict[str, list[str]]:
    """matter code -> the healthy emulator cards that may use it."""
    out = {}
    for code in catalog.matters:
        plan = plan_visit(catalog, catalog.get(code))
        out[code] = [name for name, card in cards.items()
                     if not faulty(card) and check_eligibility(plan, card.record, today) is None]
    return out


def plan_visits(catalog, cards: dict, n: int, seed: int, fault_rate: float,
                today: dt.date | None = None, faults: tuple[str, ...] = FAULTS
                ) -> list[PlannedVisit]:
    """`faults`: the kinds drawn from (default all; fewer to chase one finding)."""
    unknown = set(faults) - set(FAULTS)
    if unknown or not faults:
        raise ValueError(f"unknown fault kinds {sorted(unknown)}; known: {', '.join(FAULTS)}")
    rng = random.Random(seed)
    who = eligible_cards(catalog, cards, today or dt.date.today())
    codes = [c for c in sorted(catalog.matters) if who[c]]
    plans = []
    for number in range(n):
        fault = rng.choice(faults) if rng.random() < fault_rate else None
        code = codes[number % len(codes)]
        card = rng.choice(who[code])
        good = card
        if fault in FAULTY_CARDS:
            bad, person = FAULTY_CARDS[fault]
            if fault == "corrupt_frame" and rng.random() < 0.5:
                bad = GARBLED_CARD
            usable = [c for c in codes if person in who[c]]
            code = usable[number % len(usable)]
            card, good = bad, person
        plans.append(PlannedVisit(number, code, card, good, rng.choice(("zh", "en")),
                                  rng.random() < 0.2, fault, rng.randint(1, 8)))
    return plans


class SoakApplicant(ScriptedApplicant):
    """A scripted applicant who may walk away or cancel after `leave_after` screens, and who
    leaves the end screen at once (as most people tap 完成 rather than wait for it to go)."""

    def __init__(self, plan: PlannedVisit, on_card_error=None):
        super().__init__({})
        self.plan = plan
        self.left = False               # walked away or cancelled
        self._on_card_error = on_card_error

    def decide(self, s: I.Snapshot) -> list:
        if self.plan.fault in ("walk_away", "cancel") and not self.left and \
                s.screen not in ("done", "refused", "help") and \
                len(self.screens) >= self.plan.leave_after:
            self.left = True
            self.outcome, self.reason_key = "abandoned", self.plan.fault
            return [I.Cancel()] if self.plan.fault == "cancel" else []
        if self.left:
            return []
        if s.screen == "id_card" and s.reason_key and self._on_card_error is not None:
            self._on_card_error(s.reason_key)       # the card was pulled: lay it down again
        out = super().decide(s)
        if self.finished:
            return [I.Next()]      # 完成: leave the end screen
        return out

    def ended(self, s: I.Snapshot) -> bool:
        """The visit is over for this applicant: ended normally, or back on the attract screen
        after walking away or cancelling (the session wiped it)."""
        if self.finished and (not self.left or s.screen == "attract"):
            return True
        if s.screen == "attract" and (self.left or self.screens):
            # the terminal ended the visit without an end screen (e.g. the idle timeout)
            self.finished = True
            if not self.left:
                self.outcome, self.reason_key = "abandoned", "ended_by_terminal"
            return True
        return False
