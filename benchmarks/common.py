"""What the history benchmarks share: a year of seeded history in a throwaway database, and their timers.

``seeded_database`` creates a database (a temporary SQLite file, or a throwaway PostgreSQL database on the
server of TEST_DATABASE_URL, dropped afterwards), migrates it, adds the product's defaults and seeds a year
of history straight through SQL (``seed``): ``tickets`` tickets with their conversations, contacts, events
and messages, and half as many bot-only conversations. The seed fills every NOT NULL column the schema has
that it does not name (``Seeder``), so it survives migrations. PostgreSQL is ANALYZEd after the seed, as
autovacuum would soon do; SQLite is not (the product never runs ANALYZE there).

Scripts run from the repository root (``python benchmarks/x_bench.py``) and import this as ``common``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from handoff.seed import seed_defaults
from handoff.sla import targets_for
from models import open_database
from models.db import run_migrations

TZ = ZoneInfo("Asia/Jakarta")
YEAR_START = date(2026, 1, 1)
YEAR_END = date(2026, 12, 1)  # tickets fall in January to November 2026
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=TZ).astimezone(UTC)
CHANNELS = ("whatsapp", "telegram", "email", "webchat")
CHANNEL_WEIGHTS = (5, 2, 2, 3)
PG_URL = os.environ.get("TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options every history benchmark takes."""
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--url", default=None,
                        help="measure a database seeded before (by --keep) instead of seeding a fresh one; "
                             "the SLA, digest and crash benchmarks write to it")
    parser.add_argument("--keep", action="store_true",
                        help="keep the seeded database and print its URL, for --url in later runs")


class Seeder:
    """Inserts rows given as dicts; NOT NULL columns without a database default that a row leaves out get
    a neutral value of their type (read from the schema), so new columns do not break the seed."""

    def __init__(self, sqlite: sqlite3.Connection | None = None, pg: asyncpg.Connection | None = None) -> None:
        self.sqlite, self.pg = sqlite, pg
        self.required: dict[str, dict[str, str]] = {}

    async def _schema(self, table: str) -> dict[str, str]:
        if table not in self.required:
            if self.sqlite is not None:
                info = self.sqlite.execute(f'PRAGMA table_info("{table}")').fetchall()
                self.required[table] = {r[1]: r[2].lower() for r in info if r[3] and r[4] is None and not r[5]}
            else:
                assert self.pg is not None
                rows = await self.pg.fetch(
                    "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = $1 "
                    "AND is_nullable = 'NO' AND column_default IS NULL", table)
                self.required[table] = {r["column_name"]: r["data_type"] for r in rows}
        return self.required[table]

    def _neutral(self, kind: str) -> Any:
        if "bool" in kind:
            return False if self.pg is not None else 0
        if "int" in kind or "numeric" in kind or "real" in kind or "double" in kind:
            return 0
        if "time" in kind:
            return self.moment(NOW)
        if "json" in kind:
            return "{}"
        return ""

    def moment(self, value: datetime | None) -> Any:
        if value is None:
            return None
        return value.astimezone(UTC) if self.pg is not None else str(value.astimezone(UTC))

    def flag(self, value: bool) -> Any:
        return value if self.pg is not None else int(value)

    async def insert(self, table: str, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        required = await self._schema(table)
        names = list(rows[0]) + [c for c in required if c not in rows[0]]
        fill = [self._neutral(required[c]) for c in names[len(rows[0]):]]
        records = [[*row.values(), *fill] for row in rows]
        if self.sqlite is not None:
            marks = ", ".join("?" for _ in names)
            columns = ", ".join(f'"{n}"' for n in names)
            self.sqlite.executemany(f'INSERT INTO "{table}" ({columns}) VALUES ({marks})', records)
        else:
            assert self.pg is not None
            await self.pg.copy_records_to_table(table, records=records, columns=names)


def _weighted_minutes(rng: random.Random, median: float, spread: float) -> timedelta:
    return timedelta(minutes=max(1.0, rng.lognormvariate(0, spread) * median))


async def seed(seeder: Seeder, *, tickets: int, rng: random.Random) -> None:
    """A year of history: ``tickets`` tickets and half as many bot-only conversations."""
    mark = seeder.moment
    days = (YEAR_END - YEAR_START).days
    users = [{"id": 1000 + n, "email": f"agent{n}@care.example", "name": f"Agen {n:02d}", "role": "agent",
              "password_hash": "-", "active": seeder.flag(True), "capacity": 10, "available": seeder.flag(True),
              "session_version": 1, "must_change_password": seeder.flag(False), "created_at": mark(NOW)}
             for n in range(10)]
    await seeder.insert("users", users)
    incidents = [{"id": 100 + n, "title": f"Gangguan {n}", "status": "fixed", "created_at": mark(NOW)}
                 for n in range(30)]
    await seeder.insert("incidents", incidents)
    bot_conversations = tickets // 2
    contacts = max(1, (tickets + bot_conversations) // 3)
    batch_rows: dict[str, list[dict[str, Any]]] = {}

    async def add(table: str, row: dict[str, Any]) -> None:
        rows = batch_rows.setdefault(table, [])
        rows.append(row)
        if len(rows) >= 5000:
            # Every table at once, parents first: a child's batch fills sooner than its parents' (a ticket
            # has several events), and PostgreSQL's COPY checks foreign keys row by row.
            await _flush(seeder, batch_rows)

    for n in range(contacts):
        await add("contacts", {"id": n + 1, "role": "student", "name": f"Mahasiswa {n}",
                               "id_number": f"{13500000 + n}", "email": f"m{n}@students.itb.ac.id",
                               "phone": f"+62812{n:07d}", "verified": seeder.flag(True), "language": "id",
                               "created_at": mark(NOW), "updated_at": mark(NOW)})
        await add("channel_identities", {"id": n + 1, "contact_id": n + 1, "channel": rng.choices(
            CHANNELS, CHANNEL_WEIGHTS)[0], "external_id": f"id{n}", "created_at": mark(NOW)})
    await _flush(seeder, batch_rows)
    message_id = event_id = 0
    for n in range(tickets + bot_conversations):
        contact = rng.randrange(contacts) + 1
        channel = rng.choices(CHANNELS, CHANNEL_WEIGHTS)[0]
        opened = (datetime.combine(YEAR_START, datetime.min.time(), tzinfo=TZ)
                  + timedelta(minutes=rng.randrange(days * 24 * 60)))
        conversation = n + 1
        is_ticket = n < tickets
        status = "bot" if is_ticket else rng.choices(("resolved", "bot"), (8, 2))[0]
        await add("conversations", {"id": conversation, "contact_id": contact, "identity_id": contact,
                                    "channel": channel, "status": status, "step": "awaiting_question",
                                    "language": "id", "identity_attempts": 0, "created_at": mark(opened),
                                    "updated_at": mark(opened), "last_message_at": mark(opened)})
        for k, kind in enumerate(("user", "bot", "agent", "user") if is_ticket else ("user", "bot")):
            message_id += 1
            await add("messages", {"id": message_id, "conversation_id": conversation, "channel": channel,
                                   "direction": "in" if kind == "user" else "out", "sender_kind": kind,
                                   "text": "Saya tidak bisa login ke Edunex" if kind == "user" else "Baik",
                                   "ticket_id": None, "attempts": 0,
                                   "created_at": mark(opened + timedelta(minutes=k))})
        if not is_ticket:
            continue
        category = rng.randrange(13) + 1
        first = opened + _weighted_minutes(rng, 35, 0.9) if rng.random() < 0.97 else None
        resolved = opened + _weighted_minutes(rng, 300, 1.1) if rng.random() < 0.92 else None
        due = targets_for(opened_at=opened).due_at  # the default target, as a ticket opens with
        rating = rng.choices((1, 2, 3, 4, 5), (1, 1, 2, 5, 8))[0] if resolved and rng.random() < 0.6 else None
        escalated = rng.random() < 0.03
        assignee = 1000 + rng.randrange(10) if first else None
        ticket = {
            "id": n + 1, "number": f"CC-{opened:%y%m}-{n + 1:06d}", "conversation_id": conversation,
            "contact_id": contact, "channel": channel, "category_id": category,
            "predicted_category": None, "predicted_confidence": 0.6,
            "status": "resolved" if resolved else "open", "priority": "normal", "reason": "low_confidence",
            "unverified": seeder.flag(False), "subject": "login", "assignee_id": assignee,
            "opened_at": mark(opened), "first_response_at": mark(first), "resolved_at": mark(resolved),
            "resolved_by": "agent" if resolved else None, "due_at": mark(due),
            "breached_at": mark(due) if (resolved or NOW) > due else None,
            "escalated_at": mark(opened + timedelta(hours=1)) if escalated else None,
            "survey_rating": rating, "survey_comment": "Terima kasih" if rating else None,
            "flagged": seeder.flag(bool(rating and rating <= 2)),
            "incident_id": 100 + rng.randrange(30) if escalated and rng.random() < 0.5 else None,
        }
        categorized = rng.random() < 0.3
        # Agents confirm the category before they close (handoff.categorization), and some while it is open.
        confirmed = bool(resolved or categorized)
        ticket.update({"category_confirmed_at": mark((resolved or opened) - timedelta(minutes=1)) if confirmed
                       else None, "category_confirmed_by_id": assignee if confirmed else None})
        await add("tickets", ticket)
        kinds = ["opened", "taken", "agent_reply"] + (["categorized"] if categorized else [])
        kinds += ["resolved", "survey_sent"] if resolved else []
        kinds += ["survey_answered"] if rating else []
        for kind in kinds:
            event_id += 1
            await add("ticket_events", {"id": event_id, "ticket_id": n + 1, "kind": kind,
                                        "actor_kind": "agent", "data": "{}", "created_at": mark(opened)})
    await _flush(seeder, batch_rows)


async def _flush(seeder: Seeder, batch_rows: dict[str, list[dict[str, Any]]]) -> None:
    # Parents first, so foreign keys hold on PostgreSQL's COPY.
    order = ["contacts", "channel_identities", "conversations", "tickets", "messages", "ticket_events"]
    for table in sorted(batch_rows, key=lambda t: order.index(t) if t in order else -1):
        await seeder.insert(table, batch_rows[table])
        batch_rows[table] = []


# COPY and executemany write explicit ids: on PostgreSQL the id sequences must move past them before the
# product creates rows of its own (the SLA sweep's events and notices, a digest's outbox rows).
_SEQUENCES = ("ticket_events", "sla_notices", "escalation_mails", "users", "messages")


@asynccontextmanager
async def seeded_database(db: str, *, tickets: int, seed_value: int, keep: bool = False) -> AsyncIterator[str]:
    """The URL of a fresh database holding a seeded year (see the module's docstring); gone afterwards
    unless ``keep`` (seeding 100,000 tickets takes about half a minute on SQLite, so a series of
    measurements while changing a query can share one)."""
    rng = random.Random(seed_value)
    with contextlib.nullcontext(tempfile.mkdtemp()) if keep else tempfile.TemporaryDirectory() as folder:
        if db == "sqlite":
            url = f"sqlite://{folder}/bench.sqlite3"
            await _prepare(url)
            connection = sqlite3.connect(f"{folder}/bench.sqlite3")
            started = time.perf_counter()
            await seed(Seeder(sqlite=connection), tickets=tickets, rng=rng)
            connection.commit()
            connection.close()
            print(f"seeded {tickets:,} tickets into SQLite in {time.perf_counter() - started:.1f} s"
                  + (f"; kept: --url {url}" if keep else ""))
            yield url
            return
        name = f"cc_bench_{uuid.uuid4().hex[:8]}"
        admin = await asyncpg.connect(PG_URL.replace("postgres://", "postgresql://"))
        await admin.execute(f'CREATE DATABASE "{name}"')
        url = f"{PG_URL.rsplit('/', 1)[0]}/{name}"
        try:
            await _prepare(url)
            connection = await asyncpg.connect(url.replace("postgres://", "postgresql://"))
            started = time.perf_counter()
            await seed(Seeder(pg=connection), tickets=tickets, rng=rng)
            for table in _SEQUENCES:
                await connection.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                         f"(SELECT COALESCE(MAX(id), 0) + 1 FROM {table}), false)")
            # What autovacuum leaves after a bulk load: statistics, and the visibility map that lets
            # index-only scans skip the table (ANALYZE alone left every page-list query reading rows).
            await connection.execute("VACUUM ANALYZE")
            await connection.close()
            print(f"seeded {tickets:,} tickets into PostgreSQL in {time.perf_counter() - started:.1f} s"
                  + (f"; kept: --url {url}" if keep else ""))
            yield url
        finally:
            if not keep:
                await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await admin.close()


async def _prepare(url: str) -> None:
    await run_migrations(url)
    connection = await open_database(url, migrate_first=False)
    await seed_defaults()
    await connection.close()


async def median_ms(work: Callable[[], Awaitable[Any]], runs: int) -> float:
    """The median of ``runs`` timings of ``work`` in milliseconds, after one untimed warm-up."""
    await work()  # warm-up: the first statement of a kind pays for its plan and the page cache
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        await work()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


async def timed(label: str, work: Callable[[], Awaitable[Any]]) -> tuple[float, Any]:
    """One run of ``work``, printed with ``label``: its seconds and its result."""
    started = time.perf_counter()
    result = await work()
    elapsed = time.perf_counter() - started
    print(f"  {label}: {elapsed:.2f} s")
    return elapsed, result


def run(description: str, measure: Callable[[str, argparse.Namespace], Awaitable[None]],
        options: Callable[[argparse.ArgumentParser], None] | None = None) -> None:
    """A history benchmark's command line: the shared options (and the script's own), a seeded database,
    then ``measure(url, args)``."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    if options is not None:
        options(parser)
    args = parser.parse_args()

    async def main() -> None:
        if args.url:
            await measure(args.url, args)
            return
        async with seeded_database(args.db, tickets=args.tickets, seed_value=args.seed, keep=args.keep) as url:
            await measure(url, args)

    asyncio.run(main())
