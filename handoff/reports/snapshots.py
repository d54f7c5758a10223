"""The dashboard's stored figures: a period's reading of the database (``figures.read_figures``) kept with
the moment it was taken, so a page view reads one row per period instead of a dozen statements over two
periods of tickets and conversations (about 100 ms a month on SQLite with 100,000 tickets a year, and
growing with the care center).

How fresh. Help desks differ (Zendesk refreshes its historical reports hourly or daily by plan, weekly once
nobody has opened one for 30 days, and its live dashboard every 5-10 seconds); a supervisor here wants this
morning's tickets in this month's figures, so:
- the scheduler reads again, every minute, each snapshot viewed in the last ``WATCHED_FOR`` and older than
  ``REFRESH_AFTER``: what a supervisor is looking at is about a minute old;
- a view takes a snapshot up to ``MAX_AGE`` old and otherwise reads the database itself and stores what
  it read (a period's first view, or no scheduler running);
- the page's "refresh" reads the database unless the snapshot is younger than ``REFRESH_FLOOR``, which
  bounds the work repeated clicks can ask for;
- a snapshot nobody viewed for ``KEEP_FOR`` is deleted.
The page says when its figures were read. The dashboard's live part (open tickets, targets at risk) is
never stored, and the digests and the monthly report read the database as they always did.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tortoise.exceptions import IntegrityError

from handoff.reports.figures import Comparison, Figures, Reading, figures_from, read_figures
from handoff.reports.period import Period
from models import FigureSnapshot

log = logging.getLogger(__name__)

# The layout of ``figures.Reading``; a snapshot stored in another is read again rather than parsed.
VERSION = 1
REFRESH_AFTER = timedelta(seconds=30)  # less than the job's minute, so each run refreshes what is watched
MAX_AGE = timedelta(minutes=5)
REFRESH_FLOOR = timedelta(seconds=10)
WATCHED_FOR = timedelta(hours=1)
KEEP_FOR = timedelta(days=1)
# A view records itself at most this often, so reading the dashboard is not a write every time.
VIEW_MARK_EVERY = timedelta(minutes=1)
# One scheduler run reads again at most this many snapshots, the stalest first, and starts no other once
# it has spent REFRESH_BUDGET_SECONDS: a bound on its work however many periods supervisors look at and
# however long they are (a month of a large care center reads in about 0.1 s on SQLite, a year's custom
# period in about 1 s). What is left waits for the next minute, stalest first, so each gets its turn.
REFRESH_AT_MOST = 8
REFRESH_BUDGET_SECONDS = 2.0


def _key(period: Period) -> dict[str, Any]:
    return {"period_start": period.start, "period_end": period.end, "tz": period.tz.key}


async def _store(period: Period, reading: Reading, *, now: datetime, viewed: bool) -> None:
    """Keep ``reading`` taken at ``now``, unless a later one is stored already (two schedulers, or a view
    and the scheduler, may read the same period at once)."""
    values: dict[str, Any] = {"reading": reading, "version": VERSION, "computed_at": now}
    if viewed:
        values["viewed_at"] = now
    if await FigureSnapshot.filter(**_key(period), computed_at__lt=now).update(**values):
        return
    if not viewed or await FigureSnapshot.exists(**_key(period)):
        return  # a reading as recent or later is stored, or nobody views this period any more
    try:
        await FigureSnapshot.create(**_key(period), **{"viewed_at": now, **values})
    except IntegrityError:
        # Another process stored this period between the two statements above: keep the later reading.
        await FigureSnapshot.filter(**_key(period), computed_at__lt=now).update(**values)


async def _stored_figures(snapshot: FigureSnapshot, period: Period) -> Figures | None:
    if snapshot.version != VERSION:
        return None
    try:
        return await figures_from(snapshot.reading, period=period, now=snapshot.computed_at)
    except (KeyError, TypeError, ValueError):
        # A reading this code cannot use (a flow step or outcome this version no longer has, a hand-edited row):
        # read the database again, as for a period never stored.
        log.warning("figure snapshot %s is unreadable; reading the period again", snapshot.id)
        return None


async def period_figures(period: Period, *, now: datetime, refresh: bool = False) -> Figures:
    """``period``'s figures from a recent snapshot, or read from the database now (and stored)."""
    snapshot = await FigureSnapshot.get_or_none(**_key(period))
    # A reading a little later than ``now`` is as good: another process's clock may be seconds ahead.
    if snapshot is not None and abs(now - snapshot.computed_at) <= (REFRESH_FLOOR if refresh else MAX_AGE):
        figures = await _stored_figures(snapshot, period)
        if figures is not None:
            if snapshot.viewed_at < now - VIEW_MARK_EVERY:
                await FigureSnapshot.filter(id=snapshot.id, viewed_at__lt=now).update(viewed_at=now)
            return figures
    reading = await read_figures(period=period, now=now)
    await _store(period, reading, now=now, viewed=True)
    return await figures_from(reading, period=period, now=now)


async def comparison(period: Period, *, now: datetime, refresh: bool = False) -> Comparison:
    """``period`` beside ``period.previous()``, as ``figures.compare_figures`` but from snapshots."""
    current, previous = await asyncio.gather(period_figures(period, now=now, refresh=refresh),
                                             period_figures(period.previous(), now=now, refresh=refresh))
    return Comparison(current, previous)


async def refresh(now: datetime) -> int:
    """The scheduler's job: forget snapshots nobody viewed for ``KEEP_FOR``, then read again the watched
    ones older than ``REFRESH_AFTER``, stalest first, within ``REFRESH_AT_MOST`` and
    ``REFRESH_BUDGET_SECONDS`` (always one, so every run makes progress). Returns how many it read."""
    await FigureSnapshot.filter(viewed_at__lt=now - KEEP_FOR).delete()
    due = await (FigureSnapshot.filter(viewed_at__gte=now - WATCHED_FOR, computed_at__lt=now - REFRESH_AFTER)
                 .order_by("computed_at").limit(REFRESH_AT_MOST).values("period_start", "period_end", "tz"))
    started, read = time.monotonic(), 0
    for row in due:
        if read and time.monotonic() - started >= REFRESH_BUDGET_SECONDS:
            break
        period = Period(row["period_start"], row["period_end"], ZoneInfo(row["tz"]))
        await _store(period, await read_figures(period=period, now=now), now=now, viewed=False)
        read += 1
    return read
