"""The monthly report generated on the 1st: stored once per month and format (twice run, or two schedulers at
once, on SQLite and PostgreSQL), the files whole (XLSX opened with openpyxl, PDF read back), by the job
from the scheduler's registry."""

from __future__ import annotations

import asyncio
import io

import pypdfium2
from openpyxl import load_workbook

from handoff.jobs import Job, JobContext, registry
from handoff.reports.archive import archived, generate_month, previous_month
from handoff.reports.period import Period
from models import GeneratedReport
from tests.handoff.reports_data import NOVEMBER_NOW, WIB, Builder, build_november, wib

NOVEMBER = Period.month(2026, 11, WIB)


def _job() -> Job:
    return next(job for job in registry(JobContext(tz=WIB)) if job.name == "monthly_report")


async def test_the_job_on_the_first_stores_last_months_report_once(db: str) -> None:
    await build_november(await Builder().setup())
    first = await _job().run(wib(2026, 12, 1, 6, 0))
    assert isinstance(first, list)
    assert sorted((r.month.isoformat(), r.format, r.lang) for r in first) == [
        ("2026-11-01", "pdf", "id"), ("2026-11-01", "xlsx", "id")]
    assert await _job().run(wib(2026, 12, 1, 6, 5)) == []  # the second run stores nothing
    stored = {r.format: r for r in await GeneratedReport.all()}
    assert len(stored) == 2
    book = load_workbook(io.BytesIO(stored["xlsx"].content))
    sheet_text = " ".join(str(c) for ws in book.worksheets for row in ws.iter_rows(values_only=True) for c in row
                          if c is not None)
    assert "November 2026" in sheet_text
    document = pypdfium2.PdfDocument(stored["pdf"].content)
    try:
        first = document[0].get_textpage().get_text_range()
    finally:
        document.close()
    assert "Laporan Care Center — November 2026" in first
    assert stored["pdf"].size == len(stored["pdf"].content)


async def test_two_schedulers_at_once_store_one_report_per_format(db: str) -> None:
    await build_november(await Builder().setup())
    results = await asyncio.gather(*(generate_month(period=NOVEMBER, now=NOVEMBER_NOW) for _ in range(3)))
    assert sum(len(r) for r in results) == 2
    assert await GeneratedReport.all().count() == 2
    listed = await archived()
    assert [(r.month.isoformat(), r.format) for r in listed] == [("2026-11-01", "pdf"), ("2026-11-01", "xlsx")]


async def test_an_empty_month_is_an_empty_but_valid_report(db: str) -> None:
    await Builder().setup()
    stored = await generate_month(period=Period.month(2026, 3, WIB), now=NOVEMBER_NOW)
    xlsx = next(r for r in stored if r.format == "xlsx")
    assert load_workbook(io.BytesIO(xlsx.content)).worksheets


def test_previous_month_is_local() -> None:
    # 00:30 on 1 January WIB is still 31 December in UTC: the report is December's.
    assert previous_month(wib(2027, 1, 1, 0, 30), WIB) == Period.month(2026, 12, WIB)
