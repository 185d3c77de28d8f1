"""What the kiosk says when a visit cannot go on here, and what the citizen can do instead.

Pure: the refused screen's prompt key and its placeholders, for a kiosk outside its opening
hours and for a step this applicant cannot do here (no ID card to read, no consent). The
session (kiosk/visit/session.py) shows them.
"""
from __future__ import annotations

import datetime as dt

from flows import engine as E
from flows.catalog import Catalog

ALTERNATIVES = {"id_card.none": "alternatives.no_id_card",     # what else to do, by why
                "consent.declined": "alternatives.no_consent"}


def out_of_hours(settings, when: dt.datetime) -> tuple[str, dict] | None:
    """None while the site is open at `when`; else the prompt key and its placeholders: when
    it opens again, and the nearest 24-hour station if the site names one."""
    if settings.is_open(when):
        return None
    opens = settings.next_opening(when)
    params = {"when": opens.strftime("%m-%d %H:%M") if opens else "—",
              "opens_at": opens.isoformat(timespec="minutes") if opens else "",
              "place": settings.nearest_24h_station}
    reason = "visit.out_of_hours_nearest" if settings.nearest_24h_station \
        else "visit.out_of_hours"
    return reason, params


def alternatives(catalog: Catalog, plan: E.VisitPlan, language: str, settings,
                 why: str) -> tuple[str, dict]:
    """What to do instead, tonight included: the nearest 24-hour station, what to bring, and
    the matter's consultation phone. `why` is a key of ALTERNATIVES."""
    matter = plan.matter
    bring = [catalog.materials[m.code].name.get(language) for m in plan.materials
             if m.required]
    place = settings.nearest_24h_station
    params = {"place": place, "phone": matter.phone,
              "bring": ("、" if language == "zh" else ", ").join(bring) or "—"}
    return ALTERNATIVES[why] + ("_nearest" if place else ""), params
