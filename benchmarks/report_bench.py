"""The monthly report and the ticket export over a year of history, on SQLite or PostgreSQL.

Seeds tickets (with their conversations, contacts, events and messages, and bot-only conversations
beside them) straight through SQL, filling every NOT NULL column the schema has that the seed does not
name, so the seed survives migrations. Then times:
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

import argparse
import asyncio
import os
import random
import sqlite3
import sys
import tempfile
import time
import tracemalloc
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from handoff.exports import ExportRequest, csv_chunks, ticket_batches, write_xlsx
from handoff.reports.figures import compare_figures
from handoff.reports.monthly import ReportFormat, render
from handoff.reports.period import Period
from handoff.seed import seed_defaults
from handoff.sla import targets_for
from models import open_database
from models.db import run_migrations

TZ = ZoneInfo("Asia/Jakarta")
YEAR_START = date(2026, 1, 1)
YEAR_END = date(2026, 12, 1)  # tickets fall in January to November 2026
MONTH = Period.month(2026, 11, TZ)
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=TZ).astimezone(UTC)
CHANNELS = ("whatsapp", "telegram", "email", "webchat")
CHANNEL_WEIGHTS = (5, 2, 2, 3)
PG_URL = os.environ.get("TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test")


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
              "password_hash": "-", "active": True, "capacity": 10, "available": True, "session_version": 1,
              "must_change_password": False, "created_at": mark(NOW)} for n in range(10)]
    if seeder.sqlite is not None:
        for user in users:
            for key in ("active", "available", "must_change_password"):
                user[key] = int(user[key])
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
        contact = {"id": n + 1, "role": "student", "name": f"Mahasiswa {n}", "id_number": f"{13500000 + n}",
                   "email": f"m{n}@students.itb.ac.id", "phone": f"+62812{n:07d}", "verified": True,
                   "language": "id", "created_at": mark(NOW), "updated_at": mark(NOW)}
        if seeder.sqlite is not None:
            contact["verified"] = 1
        await add("contacts", contact)
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
            "unverified": False if seeder.pg is not None else 0, "subject": "login", "assignee_id": assignee,
            "opened_at": mark(opened), "first_response_at": mark(first), "resolved_at": mark(resolved),
            "resolved_by": "agent" if resolved else None, "due_at": mark(due),
            "breached_at": mark(due) if (resolved or NOW) > due else None,
            "escalated_at": mark(opened + timedelta(hours=1)) if escalated else None,
            "survey_rating": rating, "survey_comment": "Terima kasih" if rating else None,
            "flagged": bool(rating and rating <= 2) if seeder.pg is not None else int(bool(rating and rating <= 2)),
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


async def _timed(label: str, work: Callable[[], Awaitable[Any]]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = await work()
    elapsed = time.perf_counter() - started
    print(f"  {label}: {elapsed:.2f} s")
    return elapsed, result


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
        t_fig, both = await _timed("figures of both months", lambda: compare_figures(period=MONTH, now=NOW))
        with tempfile.TemporaryDirectory() as folder:
            async def file(fmt: ReportFormat) -> None:
                await asyncio.to_thread(render, both, lang="id", fmt=fmt, out=Path(folder) / f"laporan.{fmt}")
            t_xlsx, _ = await _timed("XLSX file", lambda: file(ReportFormat.XLSX))
            t_pdf, _ = await _timed("PDF file", lambda: file(ReportFormat.PDF))
        print(f"  total (figures + both files): {t_fig + t_xlsx + t_pdf:.2f} s; "
              f"{both.current.tickets:,} tickets, {both.current.conversations:,} conversations in the month")
        if screenshot is not None:
            await _screenshot(both, screenshot)
            return
        year = Period(YEAR_START, YEAR_END, TZ)
        request = ExportRequest(period=year, now=NOW)
        print(f"export of every ticket ({year.start} to {year.end}):")
        _, size = await _timed("CSV", lambda: _export_csv(request))
        with tempfile.TemporaryDirectory() as folder:
            _, rows = await _timed("XLSX", lambda: write_xlsx(request, Path(folder) / "tiket.xlsx"))
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


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--screenshot", type=Path, default=None, help="render page 1 of the month's PDF to this PNG")
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
            started = time.perf_counter()
            await seed(Seeder(sqlite=connection), tickets=args.tickets, rng=rng)
            connection.commit()
            connection.close()
            print(f"seeded {args.tickets:,} tickets into SQLite in {time.perf_counter() - started:.1f} s")
            await measure(url, screenshot=args.screenshot)
            return
        name = f"cc_bench_{uuid.uuid4().hex[:8]}"
        admin_url = PG_URL.replace("postgres://", "postgresql://")
        admin = await asyncpg.connect(admin_url)
        await admin.execute(f'CREATE DATABASE "{name}"')
        url = f"{PG_URL.rsplit('/', 1)[0]}/{name}"
        try:
            await run_migrations(url)
            db = await open_database(url, migrate_first=False)
            await seed_defaults()
            await db.close()
            connection = await asyncpg.connect(url.replace("postgres://", "postgresql://"))
            started = time.perf_counter()
            await seed(Seeder(pg=connection), tickets=args.tickets, rng=rng)
            await connection.execute("ANALYZE")
            await connection.close()
            print(f"seeded {args.tickets:,} tickets into PostgreSQL in {time.perf_counter() - started:.1f} s")
            await measure(url, screenshot=args.screenshot)
        finally:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await admin.close()


if __name__ == "__main__":
    asyncio.run(main())
