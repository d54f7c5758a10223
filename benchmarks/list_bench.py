"""The supervisor's ticket list and the dashboard over a year of history, on SQLite or PostgreSQL.

Seeds the same year as report_bench.py (100,000 tickets with their conversations, contacts, events and
messages, and half as many bot-only conversations), then times each query a page view runs, as the median
of ``--runs`` runs after one warm-up (target: each under 100 ms):
- the ticket list (handoff.ticket_search): a page of the last 30 days unfiltered, a later keyset page,
  each filter, each exception, search by NIM, ticket number and text, and the exception counts;
- the dashboard: its live part (build_dashboard) and the period figures (build_period_view) for this
  month and last month.

    python benchmarks/list_bench.py --db sqlite [--tickets 100000] [--runs 5]
    python benchmarks/list_bench.py --db postgres
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from report_bench import NOW, PG_URL, TZ, Seeder, seed

from handoff.console.dashboard import build_dashboard, build_period_view
from handoff.seed import seed_defaults
from handoff.ticket_search import Flag, exception_counts, parse_search, search_tickets
from models import open_database
from models.db import run_migrations

TARGET_MS = 100.0


async def _median_ms(work: Callable[[], Awaitable[Any]], runs: int) -> float:
    await work()  # warm-up: the first statement of a kind pays for its plan and the page cache
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        await work()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


async def measure(url: str, *, runs: int) -> list[tuple[str, float]]:
    db = await open_database(url, migrate_first=False)
    results: list[tuple[str, float]] = []
    try:
        from models import Contact, Ticket

        print(f"tickets in the database: {await Ticket.all().count():,}")
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
            ("dashboard: period this month",
             lambda: build_period_view(query={"period": "this_month"}, now=NOW, tz=TZ, lang="id")),
            ("dashboard: period last month",
             lambda: build_period_view(query={"period": "last_month"}, now=NOW, tz=TZ, lang="id")),
        ]
        for label, work in cases:
            ms = await _median_ms(work, runs)
            results.append((label, ms))
            print(f"  {label:<45} {ms:8.1f} ms{'' if ms < TARGET_MS else '  (over 100 ms)'}")
    finally:
        await db.close()
    return results


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as folder:
        if args.db == "sqlite":
            url = f"sqlite://{folder}/bench.sqlite3"
            await run_migrations(url)
            db = await open_database(url, migrate_first=False)
            await seed_defaults()
            await db.close()
            connection = sqlite3.connect(f"{folder}/bench.sqlite3")
            await seed(Seeder(sqlite=connection), tickets=args.tickets, rng=rng)
            connection.commit()  # no ANALYZE: the product never runs it on SQLite
            connection.close()
            await measure(url, runs=args.runs)
            return
        name = f"cc_bench_{uuid.uuid4().hex[:8]}"
        admin = await asyncpg.connect(PG_URL.replace("postgres://", "postgresql://"))
        await admin.execute(f'CREATE DATABASE "{name}"')
        url = f"{PG_URL.rsplit('/', 1)[0]}/{name}"
        try:
            await run_migrations(url)
            db = await open_database(url, migrate_first=False)
            await seed_defaults()
            await db.close()
            connection = await asyncpg.connect(url.replace("postgres://", "postgresql://"))
            await seed(Seeder(pg=connection), tickets=args.tickets, rng=rng)
            await connection.execute("ANALYZE")
            await connection.close()
            await measure(url, runs=args.runs)
        finally:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await admin.close()


if __name__ == "__main__":
    asyncio.run(main())
