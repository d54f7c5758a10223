"""The supervisors' digest over a year of history, on SQLite or PostgreSQL.

Seeds the year of benchmarks/common.py (100,000 tickets with their conversations,
events and messages), adds one supervisor, then times, as the median of ``--runs`` runs after one
warm-up: building and rendering the daily digest and the weekly summary (exception counts over 30 days
and the reports' figures of the period and the one before), and the minute job's usual answer once every
supervisor has been sent today's mails (nothing due: the cost the scheduler pays every minute).

    python benchmarks/digest_bench.py --db sqlite [--tickets 100000] [--runs 5]
    python benchmarks/digest_bench.py --db postgres
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import NOW, TZ, median_ms, run

from handoff.digest import DigestKind, build_digest, due_period, load_schedule, render, send_due
from models import User, UserRole, open_database

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

            print(f"{kind} digest, built and rendered: {await median_ms(build, runs):.0f} ms")
        await send_due(now=NOW, tz=TZ, public_url=URL)
        idle = await median_ms(lambda: send_due(now=NOW, tz=TZ, public_url=URL), runs)
        print(f"minute job with nothing due: {idle:.1f} ms")
    finally:
        await db.close()


if __name__ == "__main__":
    run(__doc__, lambda url, args: measure(url, runs=args.runs),
        lambda p: p.add_argument("--runs", type=int, default=5))
