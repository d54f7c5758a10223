"""Operating hours of the care center: when agents answer, and when the next shift starts."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import cached_property
from zoneinfo import ZoneInfo

import holidays

# Long enough to step over the longest run of holidays plus extra closed dates a supervisor might enter.
LOOKAHEAD_DAYS = 60


@dataclass(frozen=True)
class OperatingHours:
    tz: ZoneInfo = field(default_factory=lambda: ZoneInfo("Asia/Jakarta"))
    opens: time = time(8, 0)
    closes: time = time(16, 0)
    weekdays: frozenset[int] = frozenset(range(5))  # Monday..Friday
    country: str = "ID"
    # Per weekday (0 = Monday) opening and closing times, as supervisors set them in the console; when
    # given it replaces opens/closes/weekdays, and a weekday missing from it is closed.
    schedule: tuple[tuple[int, time, time], ...] | None = None
    closed_dates: frozenset[date] = frozenset()
    public_holidays: bool = True

    @cached_property
    def _holidays(self) -> holidays.HolidayBase:
        return holidays.country_holidays(self.country)

    def span(self, weekday: int) -> tuple[time, time] | None:
        """Opening and closing time on this weekday, or None when closed that weekday."""
        if self.schedule is None:
            return (self.opens, self.closes) if weekday in self.weekdays else None
        for day, opens, closes in self.schedule:
            if day == weekday:
                return opens, closes
        return None

    def closed_on(self, day: date) -> bool:
        return day in self.closed_dates or (self.public_holidays and day in self._holidays)

    def _span_on(self, day: date) -> tuple[time, time] | None:
        return None if self.closed_on(day) else self.span(day.weekday())

    def is_open(self, now: datetime) -> bool:
        local = now.astimezone(self.tz)
        span = self._span_on(local.date())
        return span is not None and span[0] <= local.time() < span[1]

    def next_open(self, now: datetime) -> datetime:
        """The next moment agents are on duty (``now`` itself if they are)."""
        local = now.astimezone(self.tz)
        if self.is_open(local):
            return local
        for offset in range(LOOKAHEAD_DAYS):
            day = local.date() + timedelta(days=offset)
            span = self._span_on(day)
            if span is None:
                continue
            candidate = datetime.combine(day, span[0], tzinfo=self.tz)
            if candidate >= local:
                return candidate
        return datetime.combine(local.date() + timedelta(days=1), self.opens, tzinfo=self.tz)
