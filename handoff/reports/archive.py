"""The monthly reports generated on the 1st and kept for the console (``models.GeneratedReport``).

``generate_month`` writes the month's report in each format that is not stored yet, with the same figures
and renderer as ``carecenter report monthly`` (``handoff.reports.monthly``). Exactly once per month,
format and language: a report already stored is not generated again, and when two schedulers race the
table's unique key keeps the first row and the second insert is dropped. A file is rendered whole in
memory (tens of kilobytes) before its row is written, so a failure stores nothing.
"""

from __future__ import annotations

import asyncio
import io
import logging
from datetime import datetime
from zoneinfo import ZoneInfo

from tortoise.exceptions import IntegrityError

from handoff.reports.figures import Comparison, compare_figures
from handoff.reports.monthly import ReportFormat, render
from handoff.reports.period import Period
from models import GeneratedReport

log = logging.getLogger(__name__)

ARCHIVED_FORMATS = (ReportFormat.XLSX, ReportFormat.PDF)
ARCHIVE_LANG = "id"  # the SOP's "Laporan Care Center" is written in Indonesian
CONTENT_TYPES = {
    ReportFormat.XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ReportFormat.PDF: "application/pdf",
}


def previous_month(now: datetime, tz: ZoneInfo) -> Period:
    """The month before the local month of ``now``: on 1 December, November."""
    today = now.astimezone(tz).date()
    return Period.month(today.year, today.month, tz).previous()


def _rendered(both: Comparison, fmt: ReportFormat, lang: str) -> bytes:
    out = io.BytesIO()
    render(both, lang=lang, fmt=fmt, out=out)
    return out.getvalue()


async def generate_month(*, period: Period, now: datetime, lang: str = ARCHIVE_LANG) -> list[GeneratedReport]:
    """Store the month's reports that are missing; returns the ones this call stored (none the second time)."""
    month = period.start
    missing = [fmt for fmt in ARCHIVED_FORMATS
               if not await GeneratedReport.exists(month=month, format=fmt.value, lang=lang)]
    if not missing:
        return []
    both = await compare_figures(period=period, now=now)
    stored = []
    for fmt in missing:
        content = await asyncio.to_thread(_rendered, both, fmt, lang)
        try:
            stored.append(await GeneratedReport.create(month=month, format=fmt.value, lang=lang, content=content,
                                                       size=len(content), generated_at=now))
        except IntegrityError:  # another scheduler stored it first: theirs stands
            log.info("monthly report %s %s was stored by another run", month.isoformat()[:7], fmt.value)
    for report in stored:
        log.info("monthly report %s stored: %s, %d bytes", month.isoformat()[:7], report.format, report.size)
    return stored


# How far back the console offers months to generate: two years of history, a bounded list.
OFFERED_MONTHS = 24


def finished_months(now: datetime, tz: ZoneInfo, count: int = OFFERED_MONTHS) -> list[Period]:
    """The months a report may be stored for, newest first: only finished ones, since a stored report is never
    generated again and a month in progress would freeze half its figures."""
    months = [previous_month(now, tz)]
    while len(months) < count:
        months.append(months[-1].previous())
    return months


async def generate_previous_month(*, now: datetime, tz: ZoneInfo) -> list[GeneratedReport]:
    return await generate_month(period=previous_month(now, tz), now=now)


async def archived() -> list[GeneratedReport]:
    """Every stored report, newest month first, without the files (a listing must not load them)."""
    return list(await GeneratedReport.all().order_by("-month", "format", "lang")
                .only("id", "month", "format", "lang", "size", "generated_at"))
