"""Operating hours of the care center: when agents answer, when the next shift starts, and the working-time
arithmetic the SLA counts with (``add_working``, ``working_between``).

A day may have several periods (Friday 08:00-11:30 and 13:00-16:00, for Friday prayer). Public holidays
come from ``holidays``' Indonesian calendar, and so does collective leave (cuti bersama: its "government"
category, e.g. 24 December 2026); a supervisor's closed dates cover anything else (a campus holiday).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import cached_property
from zoneinfo import ZoneInfo

import holidays

# Long enough to step over the longest run of holidays plus extra closed dates a supervisor might enter.
LOOKAHEAD_DAYS = 60
# The longest walk the working-time arithmetic makes: a target of MAX_SLA_HOURS working hours (a month of
# hours) at one hour a week of opening still ends within this many days. Past it the hours are treated as
# never open (ClosedForever), so no input costs unbounded work.
MAX_WALK_DAYS = 366 * 15

Period = tuple[time, time]


class ClosedForeverError(ValueError):
    """The schedule never opens (no period on any weekday, or every day closed within the walk)."""


@dataclass(frozen=True)
class OperatingHours:
    tz: ZoneInfo = field(default_factory=lambda: ZoneInfo("Asia/Jakarta"))
    opens: time = time(8, 0)
    closes: time = time(16, 0)
    weekdays: frozenset[int] = frozenset(range(5))  # Monday..Friday
    country: str = "ID"
    # Periods per weekday (0 = Monday), as supervisors set them in the console; a weekday may appear more
    # than once (a break between two periods). When given it replaces opens/closes/weekdays, and a
    # weekday missing from it is closed.
    schedule: tuple[tuple[int, time, time], ...] | None = None
    closed_dates: frozenset[date] = frozenset()
    public_holidays: bool = True  # public holidays and collective leave close the care center

    @cached_property
    def _holidays(self) -> holidays.HolidayBase:
        # "government" holds the collective-leave days the government announces beside the public holidays.
        return holidays.country_holidays(self.country, categories=("public", "government"))

    @cached_property
    def _periods(self) -> dict[int, tuple[Period, ...]]:
        """Each weekday's periods, sorted, overlapping or touching ones joined (so arithmetic never counts
        a minute twice)."""
        raw: dict[int, list[Period]] = {day: [] for day in range(7)}
        if self.schedule is None:
            for day in self.weekdays:
                if self.opens < self.closes:
                    raw[day].append((self.opens, self.closes))
        else:
            for day, opens, closes in self.schedule:
                if opens < closes:
                    raw[day].append((opens, closes))
        joined: dict[int, tuple[Period, ...]] = {}
        for day, periods in raw.items():
            merged: list[Period] = []
            for opens, closes in sorted(periods):
                if merged and opens <= merged[-1][1]:
                    merged[-1] = (merged[-1][0], max(merged[-1][1], closes))
                else:
                    merged.append((opens, closes))
            joined[day] = tuple(merged)
        return joined

    def periods(self, weekday: int) -> tuple[Period, ...]:
        """This weekday's opening periods in order (empty when closed that weekday)."""
        return self._periods[weekday]

    def span(self, weekday: int) -> Period | None:
        """First opening and last closing time on this weekday, or None when closed that weekday."""
        periods = self._periods[weekday]
        return (periods[0][0], periods[-1][1]) if periods else None

    def closed_on(self, day: date) -> bool:
        return day in self.closed_dates or (self.public_holidays and day in self._holidays)

    def periods_on(self, day: date) -> list[tuple[datetime, datetime]]:
        """The opening periods of one local date, as aware datetimes (none on a closed date)."""
        if self.closed_on(day):
            return []
        return [(datetime.combine(day, opens, tzinfo=self.tz), datetime.combine(day, closes, tzinfo=self.tz))
                for opens, closes in self._periods[day.weekday()]]

    def is_open(self, now: datetime) -> bool:
        local = now.astimezone(self.tz)
        return any(start <= local < end for start, end in self.periods_on(local.date()))

    def next_open(self, now: datetime) -> datetime:
        """The next moment agents are on duty (``now`` itself if they are)."""
        local = now.astimezone(self.tz)
        for offset in range(LOOKAHEAD_DAYS):
            for start, end in self.periods_on(local.date() + timedelta(days=offset)):
                if local < end:
                    return max(start, local)
        return datetime.combine(local.date() + timedelta(days=1), self.opens, tzinfo=self.tz)

    def _open_periods_from(self, moment: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Opening periods that end after ``moment``, in order, clipped to start no earlier than it."""
        if not any(self._periods.values()):
            raise ClosedForeverError("no opening period on any weekday")
        local = moment.astimezone(self.tz)
        for offset in range(MAX_WALK_DAYS):
            for start, end in self.periods_on(local.date() + timedelta(days=offset)):
                if end > local:
                    yield max(start, local), end
        raise ClosedForeverError(f"no opening within {MAX_WALK_DAYS} days")

    def add_working(self, start: datetime, duration: timedelta) -> datetime:
        """The moment ``duration`` of working time after ``start`` (the end of the period where it runs out).

        A zero duration returns ``start`` itself, open or not."""
        if duration <= timedelta(0):
            return start
        left = duration
        for begin, end in self._open_periods_from(start):
            if end - begin >= left:
                return begin + left
            left -= end - begin
        raise AssertionError("unreachable: _open_periods_from raises when it runs out")  # pragma: no cover

    def working_between(self, start: datetime, end: datetime) -> timedelta:
        """Working time in [start, end); zero when end is not after start."""
        if end <= start:
            return timedelta(0)
        total = timedelta(0)
        local_end = end.astimezone(self.tz)
        for offset in range((local_end.date() - start.astimezone(self.tz).date()).days + 1):
            day = start.astimezone(self.tz).date() + timedelta(days=offset)
            for begin, finish in self.periods_on(day):
                lo, hi = max(begin, start), min(finish, end)
                if hi > lo:
                    total += hi - lo
        return total
