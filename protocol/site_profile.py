"""The site profile's schema (`[site]`): what the back office publishes as a site-profile
update and the terminal's configuration holds, validated by both with this one model.

kiosk/config.py builds the rest of the terminal's configuration around it.
"""
from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LocalText(_Model):
    zh: str = ""
    en: str = ""

    def get(self, lang: str) -> str:
        return (self.en or self.zh) if lang == "en" else (self.zh or self.en)


class OpeningHours(_Model):
    days: str = Field(pattern=r"^(mon|tue|wed|thu|fri|sat|sun)(-(mon|tue|wed|thu|fri|sat|sun))?$")
    open: str = Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    close: str = Field(pattern=r"^([01]\d|2[0-4]):[0-5]\d$")

    def covers(self, when: dt.datetime) -> bool:
        a, _, b = self.days.partition("-")
        lo, hi = DAYS.index(a), DAYS.index(b or a)
        day = when.weekday()
        in_days = lo <= day <= hi if lo <= hi else (day >= lo or day <= hi)
        return in_days and self.open <= when.strftime("%H:%M") < self.close


class Site(_Model):
    id: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    kind: Literal["government_hall", "bank_branch"]
    name: LocalText
    address: LocalText = LocalText()
    phone: str
    branding: str = ""
    enabled_matters: tuple[str, ...] = ("*",)
    nearest_24h_station: str = ""
    opening_hours: tuple[OpeningHours, ...] = ()

    def is_open(self, when: dt.datetime) -> bool:
        return not self.opening_hours or any(h.covers(when) for h in self.opening_hours)

    def next_opening(self, when: dt.datetime) -> dt.datetime | None:
        """The next time after `when` at which an opening period starts (its `open` time on a
        day it covers), or None without opening hours."""
        if not self.opening_hours:
            return None
        starts = []
        for ahead in range(8):      # today and the week ahead
            day = when.date() + dt.timedelta(days=ahead)
            for h in self.opening_hours:
                hour, minute = map(int, h.open.split(":"))
                start = dt.datetime.combine(day, dt.time(hour, minute), tzinfo=when.tzinfo)
                if start > when and h.covers(start):
                    starts.append(start)
        return min(starts, default=None)

    def matter_enabled(self, code: str) -> bool:
        return "*" in self.enabled_matters or code in self.enabled_matters
