"""The supervisors' digest over a year of history, on SQLite or PostgreSQL.

Seeds the same year as report_bench.py and list_bench.py (100,000 tickets with their conversations,
events and messages), adds one supervisor, then times, as the median of ``--runs`` runs after one
warm-up: building and rendering the daily digest and the weekly summary (exception counts over 30 days
and the reports' figures of the period and the one before), and the minute job's usual answer once every
supervisor has been sent today's mails (nothing due: the cost the scheduler pays every minute).

    python benchmarks/digest_bench.py --db sqlite [--tickets 100000] [--runs 5]
    python benchmarks/digest_bench.py --db postgres
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sqlite3
import sys
import tempfile
import uuid
from pathlib import Path

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from list_bench import _median_ms
from report_bench import NOW, PG_URL, TZ, Seeder, seed

from handoff.digest import DigestKind, build_digest, due_period, load_schedule, render, send_due
from handoff.seed import seed_defaults
from models import User, UserRole, open_database
from models.db import run_migrations

URL = "https://care.example.ac.id"


async def measure(url: str, *, runs: int) -> None:
    db = await open_database(url, migrate_first=False)
    try:
        await User.create(email="kepala@cc.test", role=UserRole.SUPERVISOR, password_hash="-")
        schedule = await load_schedule()
        for kind in (DigestKind.DAILY, DigestKind.WEEKLY):
            period = due_period(kind, schedule, now=NOW, tz=TZ)
            if period is None:
                print(f"{kind}: not due at {NOW.isoformat()}")
                continue

            async def build(kind: DigestKind = kind, period: object = period) -> None:
                render(await build_digest(kind, period, now=NOW, public_url=URL))  # type: ignore[arg-type]

            print(f"{kind} digest, built and rendered: {await _median_ms(build, runs):.0f} ms")
        await send_due(now=NOW, tz=TZ, public_url=URL)
        idle = await _median_ms(lambda: send_due(now=NOW, tz=TZ, public_url=URL), runs)
        print(f"minute job with nothing due: {idle:.1f} ms")
    finally:
        await db.close()


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
            connection.commit()
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
