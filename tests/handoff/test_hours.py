"""Working-time arithmetic of handoff.hours: several periods a day, holidays, collective leave, closed dates."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from handoff.hours import ClosedForeverError, OperatingHours

JKT = ZoneInfo("Asia/Jakarta")
# Monday-Thursday 08:00-16:00, Friday 08:00-11:30 and 13:00-16:00 (Friday prayer).
PRAYER = OperatingHours(schedule=(*((d, time(8), time(16)) for d in range(4)),
                                  (4, time(8), time(11, 30)), (4, time(13), time(16))))

# Hypothesis takes naive bounds and attaches the time zone itself.
moments = st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2027, 12, 31),  # noqa: DTZ001
                       timezones=st.just(UTC))
durations = st.integers(min_value=0, max_value=200 * 60).map(lambda m: timedelta(minutes=m))


def test_friday_prayer_break_is_not_working_time() -> None:
    friday = datetime(2026, 11, 27, 11, 0, tzinfo=JKT)
    assert PRAYER.is_open(friday)
    assert not PRAYER.is_open(datetime(2026, 11, 27, 12, 0, tzinfo=JKT))
    assert PRAYER.add_working(friday, timedelta(hours=1)) == datetime(2026, 11, 27, 13, 30, tzinfo=JKT)
    assert PRAYER.next_open(datetime(2026, 11, 27, 12, 0, tzinfo=JKT)) == datetime(2026, 11, 27, 13, 0, tzinfo=JKT)
    assert PRAYER.working_between(datetime(2026, 11, 27, 8, 0, tzinfo=JKT),
                                  datetime(2026, 11, 27, 16, 0, tzinfo=JKT)) == timedelta(hours=6, minutes=30)
    assert PRAYER.span(4) == (time(8), time(16))


def test_friday_afternoon_before_a_holiday_weekend() -> None:
    # Friday 14 August 2026 15:30; Monday 17 August is Independence Day: an hour's work ends Tuesday 08:30.
    opened = datetime(2026, 8, 14, 15, 30, tzinfo=JKT)
    assert PRAYER.add_working(opened, timedelta(hours=1)) == datetime(2026, 8, 18, 8, 30, tzinfo=JKT)
    assert PRAYER.working_between(opened, datetime(2026, 8, 18, 8, 30, tzinfo=JKT)) == timedelta(hours=1)


def test_collective_leave_and_closed_dates_close_the_day() -> None:
    hours = OperatingHours()
    assert not hours.is_open(datetime(2026, 12, 24, 10, 0, tzinfo=JKT))  # cuti bersama, Christmas
    assert hours.is_open(datetime(2026, 12, 23, 10, 0, tzinfo=JKT))
    closed = OperatingHours(closed_dates=frozenset({date(2026, 12, 23)}))
    assert closed.next_open(datetime(2026, 12, 22, 17, 0, tzinfo=JKT)) == datetime(2026, 12, 28, 8, 0, tzinfo=JKT)
    ignoring = OperatingHours(public_holidays=False)
    assert ignoring.is_open(datetime(2026, 12, 24, 10, 0, tzinfo=JKT))


def test_overlapping_periods_count_once() -> None:
    hours = OperatingHours(schedule=((0, time(8), time(12)), (0, time(10), time(14))))
    monday = datetime(2026, 11, 23, 0, 0, tzinfo=JKT)
    assert hours.working_between(monday, monday + timedelta(days=1)) == timedelta(hours=6)


def test_hours_that_never_open_fail_clearly_instead_of_looping() -> None:
    with pytest.raises(ClosedForeverError):
        OperatingHours(schedule=()).add_working(datetime(2026, 11, 23, tzinfo=UTC), timedelta(minutes=1))


@given(moments, durations)
def test_adding_working_time_then_measuring_it_gives_it_back(start: datetime, duration: timedelta) -> None:
    end = PRAYER.add_working(start, duration)
    assert end >= start
    assert PRAYER.working_between(start, end) == duration


@given(moments, durations, durations)
def test_adding_is_monotonic_and_composes(start: datetime, a: timedelta, b: timedelta) -> None:
    assert PRAYER.add_working(PRAYER.add_working(start, a), b) == PRAYER.add_working(start, a + b)
    small, large = sorted((a, b))
    assert PRAYER.add_working(start, small) <= PRAYER.add_working(start, large)


@given(moments, moments, moments)
def test_working_time_is_additive(x: datetime, y: datetime, z: datetime) -> None:
    a, b, c = sorted((x, y, z))
    assert PRAYER.working_between(a, b) + PRAYER.working_between(b, c) == PRAYER.working_between(a, c)
    assert PRAYER.working_between(a, c) <= c - a


@given(moments, durations.filter(lambda d: d > timedelta(0)))
def test_a_positive_amount_of_work_ends_inside_or_at_the_end_of_a_period(start: datetime, duration: timedelta) -> None:
    end = PRAYER.add_working(start, duration).astimezone(JKT)
    just_before = end - timedelta(microseconds=1)
    assert PRAYER.is_open(just_before)
