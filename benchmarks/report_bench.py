"""The monthly report and the ticket export over a year of history, on SQLite or PostgreSQL.

Seeds a year of history (benchmarks/common.py: tickets with their conversations, contacts, events and
messages, and bot-only conversations beside them), then times:
- the monthly report: the month's figures and the month before's (``compare_figures``), the narrative,
  the XLSX and the PDF (target: under 10 s);
- the export of every ticket (100,000 by default) as CSV and as XLSX (target: under 10 s), and the peak
  Python memory (tracemalloc) of exports of about 1,000 rows and of all rows: flat means about the same.

    python benchmarks/report_bench.py --db sqlite [--tickets 100000]
    python benchmarks/report_bench.py --db postgres [--tickets 100000]
    python benchmarks/report_bench.py --db sqlite --tickets 12000 --screenshot docs/screenshots/monthly-report.png

Runs from the repository root. PostgreSQL: the server of TEST_DATABASE_URL (a throwaway database is
created and dropped).
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import tracemalloc
from collections.abc import Awaitable, Callable
from datetime import date
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import NOW, TZ, YEAR_END, YEAR_START, run, timed

from handoff.exports import ExportRequest, csv_chunks, ticket_batches, write_xlsx
from handoff.reports.figures import compare_figures
from handoff.reports.monthly import ReportFormat, render
from handoff.reports.period import Period
from models import open_database

MONTH = Period.month(2026, 11, TZ)


async def _export_csv(request: ExportRequest) -> int:
    size = 0
    async for chunk in csv_chunks(request):
        size += len(chunk)
    return size


async def _peak(work: Callable[[], Awaitable[Any]]) -> int:
    tracemalloc.start()
    try:
        await work()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


async def measure(url: str, *, screenshot: Path | None) -> None:
    db = await open_database(url, migrate_first=False)
    try:
        from models import Ticket

        print(f"tickets in the database: {await Ticket.all().count():,}")
        print("monthly report (November 2026 and October 2026 for comparison):")
        t_fig, both = await timed("figures of both months", lambda: compare_figures(period=MONTH, now=NOW))
        with tempfile.TemporaryDirectory() as folder:
            async def file(fmt: ReportFormat) -> None:
                await asyncio.to_thread(render, both, lang="id", fmt=fmt, out=Path(folder) / f"laporan.{fmt}")
            t_xlsx, _ = await timed("XLSX file", lambda: file(ReportFormat.XLSX))
            t_pdf, _ = await timed("PDF file", lambda: file(ReportFormat.PDF))
        print(f"  total (figures + both files): {t_fig + t_xlsx + t_pdf:.2f} s; "
              f"{both.current.tickets:,} tickets, {both.current.conversations:,} conversations in the month")
        if screenshot is not None:
            await _screenshot(both, screenshot)
            return
        year = Period(YEAR_START, YEAR_END, TZ)
        request = ExportRequest(period=year, now=NOW)
        print(f"export of every ticket ({year.start} to {year.end}):")
        _, size = await timed("CSV", lambda: _export_csv(request))
        with tempfile.TemporaryDirectory() as folder:
            _, rows = await timed("XLSX", lambda: write_xlsx(request, Path(folder) / "tiket.xlsx"))
        print(f"  {rows:,} rows; CSV {size / 1e6:.1f} MB")
        small = ExportRequest(period=Period(date(2026, 6, 1), date(2026, 6, 4), TZ), now=NOW)
        small_rows = sum([len(b) async for b in ticket_batches(small)])
        print("peak Python memory (tracemalloc):")
        for label, req, count in (("small", small, small_rows), ("all", request, rows)):
            csv_peak = await _peak(lambda req=req: _export_csv(req))
            with tempfile.TemporaryDirectory() as folder:
                xlsx_peak = await _peak(lambda req=req, folder=folder: write_xlsx(req, Path(folder) / "t.xlsx"))
            print(f"  {label} ({count:,} rows): CSV {csv_peak / 1e6:.2f} MB, XLSX {xlsx_peak / 1e6:.2f} MB")
    finally:
        await db.close()


async def _screenshot(both: Any, target: Path) -> None:
    import pypdfium2

    with tempfile.TemporaryDirectory() as folder:
        pdf = Path(folder) / "laporan.pdf"
        render(both, lang="id", fmt=ReportFormat.PDF, out=pdf)
        document = pypdfium2.PdfDocument(pdf)
        try:
            document[0].render(scale=1.6).to_pil().save(target, optimize=True)
        finally:
            document.close()
    print(f"wrote {target}")


if __name__ == "__main__":
    run(__doc__, lambda url, args: measure(url, screenshot=args.screenshot),
        lambda p: p.add_argument("--screenshot", type=Path, default=None,
                                 help="render page 1 of the month's PDF to this PNG"))
