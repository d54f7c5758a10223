"""Operating hours of the care center: when agents answer, and when the next shift starts."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from functools import cached_property
from zoneinfo import ZoneInfo

import holidays


@dataclass(frozen=True)
class OperatingHours:
    tz: ZoneInfo = field(default_factory=lambda: ZoneInfo("Asia/Jakarta"))
    opens: time = time(8, 0)
    closes: time = time(16, 0)
    weekdays: frozenset[int] = frozenset(range(5))  # Monday..Friday
    country: str = "ID"

    @cached_property
    def _holidays(self) -> holidays.HolidayBase:
        return holidays.country_holidays(self.country)

    def _working_day(self, day: datetime) -> bool:
        return day.weekday() in self.weekdays and day.date() not in self._holidays

    def is_open(self, now: datetime) -> bool:
        local = now.astimezone(self.tz)
        return self._working_day(local) and self.opens <= local.time() < self.closes

    def next_open(self, now: datetime) -> datetime:
        """The next moment agents are on duty (``now`` itself if they are)."""
        local = now.astimezone(self.tz)
        if self.is_open(local):
            return local
        day = local
        if local.time() >= self.opens or not self._working_day(local):
            day = local + timedelta(days=1)
        for _ in range(30):  # a month of holidays is the worst case worth looking through
            candidate = datetime.combine(day.date(), self.opens, tzinfo=self.tz)
            if self._working_day(candidate) and candidate >= local:
                return candidate
            day += timedelta(days=1)
        return datetime.combine(day.date(), self.opens, tzinfo=self.tz)
