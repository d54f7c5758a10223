"""The dashboard's stored figures (handoff/reports/snapshots.py) on SQLite and PostgreSQL: a stored reading
gives the figures a fresh one gives; a view takes a recent one and reads again once it is too old; the
page's refresh, the scheduler's job, a later reading never replaced by an earlier one, two first views at
once, and a reading this code cannot use."""

from __future__ import annotations

import asyncio
import logging
from datetime import date, timedelta

import pytest

from handoff.reports import snapshots
from handoff.reports.figures import compute_figures
from handoff.reports.period import Period
from models import FigureSnapshot, Ticket
from tests.handoff.reports_data import NOVEMBER_NOW, WIB, Builder, build_november

NOVEMBER = Period.month(2026, 11, WIB)
S = timedelta(seconds=1)


async def rate(ticket: Ticket, rating: int) -> None:
    await Ticket.filter(id=ticket.id).update(survey_rating=rating)


async def stored(period: Period = NOVEMBER) -> FigureSnapshot:
    return await FigureSnapshot.get(period_start=period.start, period_end=period.end, tz="Asia/Jakarta")


async def test_a_stored_reading_gives_the_figures_a_fresh_one_gives(db: str) -> None:
    await build_november(await Builder().setup())
    first = await snapshots.period_figures(NOVEMBER, now=NOVEMBER_NOW)
    again = await snapshots.period_figures(NOVEMBER, now=NOVEMBER_NOW + 2 * 60 * S)
    # Everything, from the days and the outcomes to the agents' percentiles, through the database's JSON.
    assert first == again == await compute_figures(period=NOVEMBER, now=NOVEMBER_NOW)
    assert again.computed_at == NOVEMBER_NOW
    assert (again.tickets, again.csat.count, len(again.agents)) == (6, 3, 2)


async def test_a_view_takes_a_recent_snapshot_and_reads_again_once_it_is_too_old(db: str) -> None:
    tickets = await build_november(await Builder().setup())
    before = await snapshots.period_figures(NOVEMBER, now=NOVEMBER_NOW)
    await rate(tickets["T4"], 1)

    recent = await snapshots.period_figures(NOVEMBER, now=NOVEMBER_NOW + snapshots.MAX_AGE)
    assert (recent.csat, recent.computed_at) == (before.csat, NOVEMBER_NOW)

    later = NOVEMBER_NOW + snapshots.MAX_AGE + S
    after = await snapshots.period_figures(NOVEMBER, now=later)
    assert (after.csat.distribution[1], after.csat.count, after.computed_at) == (1, 4, later)
    assert ((await stored()).computed_at, (await stored()).viewed_at) == (later, later)


async def test_refresh_reads_now_unless_the_snapshot_is_seconds_old(db: str) -> None:
    tickets = await build_november(await Builder().setup())
    await snapshots.period_figures(NOVEMBER, now=NOVEMBER_NOW)
    await rate(tickets["T4"], 1)
    floor = NOVEMBER_NOW + snapshots.REFRESH_FLOOR
    assert (await snapshots.period_figures(NOVEMBER, now=floor, refresh=True)).csat.count == 3
    assert (await snapshots.period_figures(NOVEMBER, now=floor + S, refresh=True)).csat.count == 4


async def test_the_job_reads_again_what_is_watched_and_forgets_what_nobody_views(db: str) -> None:
    tickets = await build_november(await Builder().setup())
    await snapshots.period_figures(NOVEMBER, now=NOVEMBER_NOW)
    await rate(tickets["T4"], 1)

    assert await snapshots.refresh(NOVEMBER_NOW + snapshots.REFRESH_AFTER) == 0  # not older than that yet
    minute = NOVEMBER_NOW + 60 * S
    assert await snapshots.refresh(minute) == 1
    snapshot = await stored()
    assert (snapshot.computed_at, snapshot.viewed_at) == (minute, NOVEMBER_NOW)  # the job is not a viewer
    viewed = minute + S
    assert (await snapshots.period_figures(NOVEMBER, now=viewed)).csat.count == 4

    # Last viewed a little over an hour ago: nobody watches it, so it is kept as it is; a day: deleted.
    unwatched = viewed + snapshots.WATCHED_FOR + S
    assert await snapshots.refresh(unwatched) == 0
    assert (await stored()).computed_at == minute
    assert await snapshots.refresh(viewed + snapshots.KEEP_FOR + S) == 0
    assert not await FigureSnapshot.exists()


async def test_a_view_marks_itself_at_most_once_a_minute(db: str) -> None:
    await build_november(await Builder().setup())
    await snapshots.period_figures(NOVEMBER, now=NOVEMBER_NOW)
    await snapshots.period_figures(NOVEMBER, now=NOVEMBER_NOW + snapshots.VIEW_MARK_EVERY)
    assert (await stored()).viewed_at == NOVEMBER_NOW
    marked = NOVEMBER_NOW + snapshots.VIEW_MARK_EVERY + S
    await snapshots.period_figures(NOVEMBER, now=marked)
    assert (await stored()).viewed_at == marked


async def test_one_job_run_reads_a_bounded_number_stalest_first(db: str) -> None:
    await Builder().setup()
    periods = [Period(date(2026, 11, day), date(2026, 11, day + 1), WIB) for day in range(1, 11)]
    for n, period in enumerate(periods):
        await snapshots.period_figures(period, now=NOVEMBER_NOW + n * S)
    later = NOVEMBER_NOW + 10 * 60 * S
    assert await snapshots.refresh(later) == snapshots.REFRESH_AT_MOST
    refreshed = {s.period_start for s in await FigureSnapshot.filter(computed_at=later)}
    assert refreshed == {p.start for p in periods[:snapshots.REFRESH_AT_MOST]}
    assert await snapshots.refresh(later + S) == len(periods) - snapshots.REFRESH_AT_MOST


async def test_a_job_run_that_spent_its_time_starts_no_other_reading(
    db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    await Builder().setup()
    periods = [Period(date(2026, 11, day), date(2026, 11, day + 1), WIB) for day in range(1, 4)]
    for n, period in enumerate(periods):
        await snapshots.period_figures(period, now=NOVEMBER_NOW + n * S)
    monkeypatch.setattr(snapshots, "REFRESH_BUDGET_SECONDS", 0.0)
    later = NOVEMBER_NOW + 10 * 60 * S
    # One reading a run however little time is left, the stalest first, so every period gets its turn.
    assert [await snapshots.refresh(later + n * S) for n in range(4)] == [1, 1, 1, 0]
    assert [s.computed_at for s in await FigureSnapshot.all().order_by("period_start")] == [
        later, later + S, later + 2 * S]


async def test_a_later_reading_is_taken_and_never_replaced_by_an_earlier_one(db: str) -> None:
    tickets = await build_november(await Builder().setup())
    later = NOVEMBER_NOW + 60 * S
    await snapshots.period_figures(NOVEMBER, now=later)
    await rate(tickets["T4"], 1)
    # A process whose clock is a minute behind the one that read takes that reading as it is ...
    assert (await snapshots.period_figures(NOVEMBER, now=NOVEMBER_NOW)).computed_at == later
    # ... and one far behind (a request that waited) reads for itself and leaves the later reading stored.
    behind = later - snapshots.MAX_AGE - S
    assert (await snapshots.period_figures(NOVEMBER, now=behind)).csat.count == 4
    assert ((await stored()).computed_at, (await snapshots.period_figures(NOVEMBER, now=later)).csat.count) == (
        later, 3)


async def test_two_first_views_at_once_store_one_snapshot(db: str) -> None:
    await build_november(await Builder().setup())
    one, two = await asyncio.gather(snapshots.period_figures(NOVEMBER, now=NOVEMBER_NOW),
                                    snapshots.period_figures(NOVEMBER, now=NOVEMBER_NOW))
    assert one == two
    assert await FigureSnapshot.all().count() == 1


@pytest.mark.parametrize("damage", [{"version": snapshots.VERSION + 1}, {"reading": {"ticket_days": []}},
                                    {"reading": {"conversation_groups": [{"o": "gone", "step": "x", "channel": "y",
                                                                          "n": 1}]}}])
async def test_a_reading_this_code_cannot_use_is_read_again(
    db: str, damage: dict[str, object], caplog: pytest.LogCaptureFixture
) -> None:
    await build_november(await Builder().setup())
    expected = await snapshots.period_figures(NOVEMBER, now=NOVEMBER_NOW)
    await FigureSnapshot.filter(period_start=NOVEMBER.start).update(**damage)
    with caplog.at_level(logging.WARNING, logger="handoff.reports.snapshots"):
        figures = await snapshots.period_figures(NOVEMBER, now=NOVEMBER_NOW + S)
    assert (figures.tickets, figures.csat, figures.computed_at) == (expected.tickets, expected.csat, NOVEMBER_NOW + S)
    snapshot = await stored()
    assert (snapshot.version, snapshot.computed_at) == (snapshots.VERSION, NOVEMBER_NOW + S)
    if "reading" in damage:
        assert [r.getMessage() for r in caplog.records] == [
            f"figure snapshot {snapshot.id} is unreadable; reading the period again"]
