"""Reporting periods: whole local days in the configured time zone, turned into UTC bounds for queries."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

_MONTH = re.compile(r"(\d{4})-(\d{2})")


class PeriodError(ValueError):
    """A period the caller asked for that cannot be reported on; ``key`` names the catalogue text."""

    def __init__(self, key: str, **values: object) -> None:
        super().__init__(key)
        self.key = key
        self.values = values


def local_midnight(day: date, tz: ZoneInfo) -> datetime:
    """The first moment of a local day, in UTC (what every filter compares with: see ``sql.moment``)."""
    return datetime.combine(day, time.min, tzinfo=tz).astimezone(UTC)


@dataclass(frozen=True, slots=True)
class Period:
    """Local days ``start`` up to but not including ``end``."""

    start: date
    end: date
    tz: ZoneInfo

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise PeriodError("error.period_order", start=self.start.isoformat(), end=self.end.isoformat())

    @classmethod
    def month(cls, year: int, month: int, tz: ZoneInfo) -> Period:
        start = date(year, month, 1)
        end = date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)
        return cls(start, end, tz)

    @property
    def is_month(self) -> bool:
        return self.start.day == 1 and self.end == Period.month(self.start.year, self.start.month, self.tz).end

    @property
    def start_utc(self) -> datetime:
        return local_midnight(self.start, self.tz)

    @property
    def end_utc(self) -> datetime:
        return local_midnight(self.end, self.tz)

    @property
    def days(self) -> list[date]:
        return [self.start + timedelta(days=n) for n in range((self.end - self.start).days)]

    def previous(self) -> Period:
        """The period to compare with: the calendar month before a month, otherwise as many days just before."""
        if self.is_month:
            last = self.start - timedelta(days=1)
            return Period.month(last.year, last.month, self.tz)
        return Period(self.start - (self.end - self.start), self.start, self.tz)

    def local_day(self, moment: datetime) -> date:
        return moment.astimezone(self.tz).date()


def parse_month(text: str, *, tz: ZoneInfo, now: datetime) -> Period:
    """``YYYY-MM`` as a month in ``tz``; the month in progress is allowed (figures up to now), a later one not."""
    match = _MONTH.fullmatch(text.strip())
    if match is None or not 1 <= int(match.group(2)) <= 12 or int(match.group(1)) < 1:
        raise PeriodError("error.month_malformed", value=text)
    period = Period.month(int(match.group(1)), int(match.group(2)), tz)
    if period.start > now.astimezone(tz).date():
        raise PeriodError("error.month_future", value=text)
    return period


def parse_day(text: str, *, option: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise PeriodError("error.date_malformed", option=option, value=text) from None


def parse_range(since: str, until: str, *, tz: ZoneInfo) -> Period:
    """Local dates, ``until`` exclusive: ``--since 2026-11-01 --until 2026-12-01`` is November."""
    start, end = parse_day(since, option="--since"), parse_day(until, option="--until")
    if end < start:
        raise PeriodError("error.period_order", start=start.isoformat(), end=end.isoformat())
    return Period(start, end, tz)


# A period longer than this is refused where a person picks one (the dashboard): a year of figures is the
# longest comparison that reads sensibly, and it bounds the work one page view can ask for.
MAX_DAYS = 366


class Preset(StrEnum):
    """The dashboard's period choices; weeks start on Monday (ISO 8601, as in Indonesia)."""

    THIS_WEEK = "this_week"
    LAST_WEEK = "last_week"
    THIS_MONTH = "this_month"
    LAST_MONTH = "last_month"
    CUSTOM = "custom"


def preset_period(preset: str, *, now: datetime, tz: ZoneInfo, since: str = "", until: str = "") -> Period:
    """The period a preset names at ``now`` (the week or month in progress runs to its end: figures up to
    now); ``custom`` reads ``since`` and ``until`` (local dates, ``until`` exclusive)."""
    today = now.astimezone(tz).date()
    monday = today - timedelta(days=today.weekday())
    if preset == Preset.THIS_WEEK:
        return Period(monday, monday + timedelta(days=7), tz)
    if preset == Preset.LAST_WEEK:
        return Period(monday - timedelta(days=7), monday, tz)
    if preset == Preset.THIS_MONTH:
        return Period.month(today.year, today.month, tz)
    if preset == Preset.LAST_MONTH:
        return Period.month(today.year, today.month, tz).previous()
    if preset != Preset.CUSTOM:
        raise PeriodError("error.preset_unknown", value=preset, choices=", ".join(p.value for p in Preset))
    start, end = parse_day(since, option="since"), parse_day(until, option="until")
    if end <= start:
        raise PeriodError("error.period_order", start=start.isoformat(), end=end.isoformat())
    if (end - start).days > MAX_DAYS:
        raise PeriodError("error.period_long", days=MAX_DAYS)
    if start > today:
        raise PeriodError("error.period_future", start=start.isoformat())
    return Period(start, end, tz)
