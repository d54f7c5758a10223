"""One SLA sweep (handoff.sla.sweep) over 100,000 tickets with their events and messages, SQLite or PostgreSQL.

Seeds a year of history with benchmarks/common.py's seeder (about 8 % of tickets still open), gives
every open ticket the default targets and a next check in the future, then times:
- the steady sweep: the scheduler's minute, with ``--due`` tickets (default 200) reaching a threshold in it
  (each a claimed notice, a ticket event and a live alert) and everything else waiting (target: under 1 s);
- an idle sweep right after it (nothing due: the cost of looking);
- the catch-up sweep after an upgrade, when every open ticket's check is already due (reported, no target).

    python benchmarks/sla_bench.py --db sqlite [--tickets 100000] [--due 200]
    python benchmarks/sla_bench.py --db postgres [--tickets 100000] [--due 200]

Runs from the repository root. PostgreSQL: the server of TEST_DATABASE_URL (a throwaway database is
created and dropped).
"""

from __future__ import annotations

import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import NOW, run

from handoff import sla
from handoff.live import Broker
from models import SlaNotice, Ticket, TicketEvent, open_database


async def prepare(url: str, *, due: int) -> int:
    """Open tickets as the sweep finds them: ``due`` of them opened 31 minutes ago without an answer (their
    50 % first-response warning is due), the rest checked again tomorrow. Returns the open count."""
    db = await open_database(url, migrate_first=False)
    try:
        later = NOW + timedelta(days=1)
        open_ids = [t.id for t in await Ticket.filter(status__in=("open", "pending", "escalated")).only("id")]
        await Ticket.filter(id__in=open_ids).update(sla_first_response_s=3600, sla_resolution_s=86400,
                                                    sla_next_check_at=later)
        chosen = open_ids[:due]
        opened = NOW - timedelta(minutes=31)
        await Ticket.filter(id__in=chosen).update(opened_at=opened, first_response_at=None,
                                                  due_at=opened + timedelta(days=1),
                                                  first_response_due_at=opened + timedelta(hours=1),
                                                  sla_next_check_at=opened + timedelta(minutes=30))
        return len(open_ids)
    finally:
        await db.close()


async def measure(url: str, *, due: int) -> None:
    open_count = await prepare(url, due=due)
    db = await open_database(url, migrate_first=False)
    try:
        print(f"tickets: {await Ticket.all().count():,} ({open_count:,} open); "
              f"events: {await TicketEvent.all().count():,}")
        policy = await sla.load_policy()
        broker = Broker()
        broker.subscribe()

        async def timed(label: str, at: Any) -> float:
            started = time.perf_counter()
            announced = await sla.sweep(now=at, policy=policy, publish=broker.publish)
            elapsed = time.perf_counter() - started
            print(f"  {label}: {elapsed:.3f} s, {announced} notice(s)")
            return elapsed

        print("sweeps:")
        await timed(f"steady minute ({due} due)", NOW)
        await timed("idle minute (nothing due)", NOW + timedelta(seconds=60))
        await Ticket.filter(status__in=("open", "pending", "escalated")).update(sla_next_check_at=NOW)
        await timed(f"catch-up (all {open_count:,} open tickets due at once)", NOW + timedelta(minutes=2))
        print(f"  notices claimed in all: {await SlaNotice.all().count():,}")
    finally:
        await db.close()


if __name__ == "__main__":
    run(__doc__, lambda url, args: measure(url, due=args.due),
        lambda p: p.add_argument("--due", type=int, default=200))
