"""The supervisor's ticket list and the dashboard over a year of history, on SQLite or PostgreSQL.

Seeds the year of benchmarks/common.py (100,000 tickets with their conversations, contacts, events and
messages, and half as many bot-only conversations), then times each query a page view runs, as the median
of ``--runs`` runs after one warm-up (target: each under 100 ms):
- the ticket list (handoff.ticket_search): a page of the last 30 days unfiltered, a later keyset page,
  each filter, each exception, search by NIM, ticket number and text, and the exception counts;
- the dashboard: its live part (build_dashboard) and the period figures (build_period_view) for this
  month and last month, as a view after the first shows them: stored (handoff.reports.snapshots).
Then, not a page's query, the work behind the stored figures: reading a month and the month before from
the database (a period's first view, "recalculate now", the scheduler's job) and one run of that job.

    python benchmarks/list_bench.py --db sqlite [--tickets 100000] [--runs 5]
    python benchmarks/list_bench.py --db postgres
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import NOW, TZ, median_ms, run

from handoff.console.dashboard import build_dashboard, build_period_view
from handoff.reports import snapshots
from handoff.reports.figures import compare_figures
from handoff.reports.period import preset_period
from handoff.ticket_search import Flag, exception_counts, parse_search, search_tickets
from models import open_database

TARGET_MS = 100.0


async def measure(url: str, *, runs: int) -> list[tuple[str, float]]:
    db = await open_database(url, migrate_first=False)
    results: list[tuple[str, float]] = []
    try:
        from models import Contact, FigureSnapshot, Ticket

        print(f"tickets in the database: {await Ticket.all().count():,}")
        # A kept database may hold readings of an earlier run, taken at later moments than NOW by its job.
        await FigureSnapshot.all().delete()
        nim = await Contact.filter(id=7).first()
        number = await Ticket.filter(opened_at__gte=NOW - timedelta(days=20)).order_by("-id").first()
        assert nim is not None
        assert number is not None
        middle = (await search_tickets(parse_search({}, now=NOW, tz=TZ), now=NOW, lang="id")).rows[-1].id

        def page(**query: str) -> Callable[[], Awaitable[Any]]:
            search = parse_search(query, now=NOW, tz=TZ)
            return lambda: search_tickets(search, now=NOW, lang="id")

        cases: list[tuple[str, Callable[[], Awaitable[Any]]]] = [
            ("list: last 30 days, page 1", page()),
            ("list: keyset page 2", page(before=str(middle))),
            ("list: status=open", page(status="open")),
            ("list: status=resolved", page(status="resolved")),
            ("list: category=3", page(category="3")),
            ("list: confirmed=no", page(confirmed="no")),
            ("list: agent=1003", page(agent="1003")),
            ("list: agent=none", page(agent="none")),
            ("list: channel=email", page(channel="email")),
            ("list: sla=missed", page(sla="missed")),
            ("list: sla=breached", page(sla="breached")),
            ("list: rating=1", page(rating="1")),
            *((f"list: exception={flag.value}", page(exception=flag.value)) for flag in Flag),
            ("list: q=NIM, 92 days", page(q=str(nim.id_number), since="2026-09-01", until="2026-12-01")),
            ("list: q=ticket number", page(q=str(number.number))),
            ("list: q=text found ('login')", page(q="login")),
            ("list: q=text not found ('sertifikat')", page(q="sertifikat")),
            ("list: a year, page 1", page(since="2026-01-01", until="2026-12-01")),
            ("list: exception counts, 30 days",
             lambda: exception_counts(parse_search({}, now=NOW, tz=TZ).period, now=NOW)),
            ("dashboard: live part", lambda: build_dashboard(now=NOW, tz=TZ, lang="id")),
            # A view after the first: the stored figures (handoff.reports.snapshots), read at most minutes ago.
            ("dashboard: period this month",
             lambda: build_period_view(query={"period": "this_month"}, now=NOW, tz=TZ, lang="id")),
            ("dashboard: period last month",
             lambda: build_period_view(query={"period": "last_month"}, now=NOW, tz=TZ, lang="id")),
        ]
        for label, work in cases:
            ms = await median_ms(work, runs)
            results.append((label, ms))
            print(f"  {label:<45} {ms:8.1f} ms{'' if ms < TARGET_MS else '  (over 100 ms)'}")
        # Not a page's query: the reading behind the stored figures, which a period's first view, the page's
        # "recalculate now" and the scheduler's minute job (three periods watched here) pay.
        later = iter(range(1, 10**6))
        background: list[tuple[str, Callable[[], Awaitable[Any]]]] = [
            ("reading: this month and the month before",
             lambda: compare_figures(period=preset_period("this_month", now=NOW, tz=TZ), now=NOW)),
            ("reading: last month and the month before",
             lambda: compare_figures(period=preset_period("last_month", now=NOW, tz=TZ), now=NOW)),
            ("job: the three watched months read again",
             lambda: snapshots.refresh(NOW + timedelta(minutes=next(later)))),
        ]
        for label, work in background:
            ms = await median_ms(work, runs)
            results.append((label, ms))
            print(f"  {label:<45} {ms:8.1f} ms  (in the background)")
    finally:
        await db.close()
    return results


if __name__ == "__main__":
    run(__doc__, lambda url, args: measure(url, runs=args.runs),
        lambda p: p.add_argument("--runs", type=int, default=5))
