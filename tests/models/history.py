"""A year of care-center history written straight through SQL: for the planner test and the benchmark.

An empty database hides full scans, so both run on one that looks lived in: contacts who come back on
several channels, conversations spread over the year with their messages, hand-offs to agents with
their events, surveys, attachments, audit entries, a week of webhook receipts, and a few tickets still
open today. Rows go in by bulk INSERT (SQLite) or COPY (PostgreSQL), not through the ORM: a million
messages take seconds instead of an hour.

The columns are read from the database, not assumed: a NOT NULL column this file does not know (added
by a later migration) gets its type's empty value (0, false, "", "{}", the seed's "now"), so the seed
keeps working as the schema grows. Everything is derived from ``random.Random(seed)``: the same
arguments give the same rows.
"""

from __future__ import annotations

import json
import random
import sqlite3
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import asyncpg

BATCH = 5000
YEAR = timedelta(days=365)
CHANNELS = (("whatsapp", 50), ("webchat", 25), ("telegram", 20), ("email", 5))
TEXTS = (
    "halo", "selamat pagi kak", "saya tidak bisa login ke edunex", "lupa password akun saya",
    "nilai kuis belum muncul", "video materi tidak bisa diputar", "bagaimana cara mengumpulkan tugas?",
    "terima kasih", "2", "1", "sudah bisa, terima kasih banyak",
)
REPLIES = (
    "Halo! Silakan kirim NIM, NIP, atau email kampus Anda.",
    "Terima kasih, identitas Anda sudah terverifikasi.",
    "Silakan coba atur ulang kata sandi melalui tautan berikut.",
    "Apakah jawaban ini membantu? Balas 1 = Ya, 2 = Tidak",
    "Pertanyaan Anda kami teruskan ke petugas Care Center.",
    "Sudah kami periksa, silakan dicoba kembali.",
)
EVENTS = ("opened", "taken", "agent_reply", "user_message", "categorized", "resolved", "survey_rating")


@dataclass
class Columns:
    """A table's columns as the database has them: name -> (type, NOT NULL without a default)."""

    types: dict[str, tuple[str, bool]] = field(default_factory=dict)

    def filler(self, column: str, now: datetime) -> Any:
        kind = self.types[column][0].lower()
        if "bool" in kind:
            return False
        if "int" in kind or "real" in kind or "double" in kind or "numeric" in kind:
            return 0
        if "time" in kind or "date" in kind:
            return now
        if "json" in kind:
            return "{}"
        return ""


class Writer:
    """Bulk inserts into one database, SQLite (a file) or PostgreSQL."""

    def __init__(self, now: datetime) -> None:
        self.now = now
        self.columns: dict[str, Columns] = {}

    async def table(self, name: str) -> Columns:
        raise NotImplementedError

    async def rows(self, name: str, columns: list[str], rows: list[tuple[Any, ...]]) -> None:
        raise NotImplementedError

    async def scalar(self, sql: str) -> Any:
        raise NotImplementedError

    async def finish(self, tables: list[str]) -> None:
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError

    async def insert(self, name: str, records: list[dict[str, Any]]) -> None:
        """Rows as dicts of the columns this file knows; other NOT NULL columns get their type's empty value."""
        if not records:
            return
        table = await self.table(name)
        known = list(records[0])
        missing = [c for c, (_kind, required) in table.types.items() if required and c not in known]
        columns = known + missing
        fill = tuple(table.filler(c, self.now) for c in missing)
        await self.rows(name, columns, [(*(r[c] for c in known), *fill) for r in records])


class SqliteWriter(Writer):
    def __init__(self, path: str, now: datetime) -> None:
        super().__init__(now)
        self.db = sqlite3.connect(path, timeout=30)
        self.db.execute("BEGIN")

    async def table(self, name: str) -> Columns:
        if name not in self.columns:
            info = self.db.execute(f'PRAGMA table_info("{name}")').fetchall()
            self.columns[name] = Columns({row[1]: (row[2], bool(row[3]) and row[4] is None and not row[5])
                                          for row in info})
        return self.columns[name]

    async def rows(self, name: str, columns: list[str], rows: list[tuple[Any, ...]]) -> None:
        marks = ",".join("?" * len(columns))
        names = ",".join(f'"{c}"' for c in columns)
        self.db.executemany(f'INSERT INTO "{name}" ({names}) VALUES ({marks})', rows)

    async def scalar(self, sql: str) -> Any:
        return self.db.execute(sql).fetchone()[0]

    async def finish(self, tables: list[str]) -> None:
        self.db.commit()
        # Into the database file: a WAL holding the whole seed would slow every read until a checkpoint,
        # which a database in use has long since had.
        self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    async def close(self) -> None:
        self.db.close()


class PostgresWriter(Writer):
    def __init__(self, connection: asyncpg.Connection, now: datetime) -> None:
        super().__init__(now)
        self.db = connection

    async def table(self, name: str) -> Columns:
        if name not in self.columns:
            info = await self.db.fetch(
                "SELECT column_name, data_type, is_nullable, column_default FROM information_schema.columns "
                "WHERE table_name = $1 AND table_schema = current_schema()", name)
            self.columns[name] = Columns({row["column_name"]: (row["data_type"], row["is_nullable"] == "NO"
                                                               and row["column_default"] is None)
                                          for row in info})
        return self.columns[name]

    async def rows(self, name: str, columns: list[str], rows: list[tuple[Any, ...]]) -> None:
        kinds = (await self.table(name)).types
        # COPY's binary format wants each value as its column's type: booleans stored as Python ints by the
        # generators below are booleans here, JSON text stays text.
        booleans = [i for i, c in enumerate(columns) if kinds[c][0] == "boolean"]
        if booleans:
            rows = [tuple(bool(v) if i in booleans and v is not None else v for i, v in enumerate(r)) for r in rows]
        await self.db.copy_records_to_table(name, records=rows, columns=columns)

    async def scalar(self, sql: str) -> Any:
        return await self.db.fetchval(sql)

    async def finish(self, tables: list[str]) -> None:
        # Rows were written with their ids: move each sequence past them, as the ORM's inserts would have.
        for name in tables:
            await self.db.execute(
                f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), GREATEST((SELECT MAX(id) FROM \"{name}\"), 1))")

    async def close(self) -> None:
        await self.db.close()


async def open_writer(db_url: str, now: datetime) -> Writer:
    if db_url.startswith("sqlite://"):
        return SqliteWriter(db_url.removeprefix("sqlite://").split("?", 1)[0], now)
    connection = await asyncpg.connect(db_url.replace("postgres://", "postgresql://", 1))
    return PostgresWriter(connection, now)


def batches(rows: Iterator[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


@dataclass
class Seeded:
    """What was written: row counts, and ids the benchmark reads (the oldest and newest conversation)."""

    counts: dict[str, int] = field(default_factory=dict)
    oldest_conversation: int = 0
    newest_conversation: int = 0


async def seed_history(
    db_url: str, *, conversations: int, now: datetime, messages_per_conversation: int = 10,
    ticket_share: float = 0.3, open_tickets: int = 5, agents: int = 20, seed: int = 1,
) -> Seeded:
    """Write ``conversations`` conversations spread over the year before ``now``, with their contacts,
    messages, tickets and the rest. Call it on a migrated database (categories seeded or not)."""
    rng = random.Random(seed)
    writer = await open_writer(db_url, now)
    seeded = Seeded()
    try:
        start = now - YEAR

        async def next_id(table: str) -> int:
            return int(await writer.scalar(f'SELECT COALESCE(MAX(id), 0) FROM "{table}"')) + 1

        async def put(table: str, rows: Iterator[dict[str, Any]]) -> None:
            for batch in batches(rows):
                await writer.insert(table, batch)
                seeded.counts[table] = seeded.counts.get(table, 0) + len(batch)

        # Categories as the product seeds them, or a few of our own on a bare schema.
        categories = [(int(i), str(s)) for i, s in await _pairs(writer, "SELECT id, slug FROM categories")]
        if not categories:
            first = await next_id("categories")
            await put("categories", ({"id": first + n, "slug": f"seed-{n}", "name_id": f"Kategori {n}",
                                      "name_en": f"Category {n}", "description": "", "active": 1,
                                      "sort_order": n} for n in range(5)))
            categories = [(first + n, f"seed-{n}") for n in range(5)]

        # Agents (not available: automatic assignment leaves them alone) and a supervisor.
        first_user = await next_id("users")
        users = [first_user + n for n in range(agents + 1)]
        await put("users", ({"id": uid, "email": f"seed-agent-{uid}@cc.example", "name": f"Agen {uid}",
                             "role": "supervisor" if n == agents else "agent", "password_hash": "!",
                             "active": 1, "session_version": 1, "must_change_password": 0, "capacity": 10,
                             "available": 0, "created_at": start} for n, uid in enumerate(users)))
        agent_ids = users[:agents]

        # The campus directory: a fifth as many people as conversations in a year.
        first_entry = await next_id("directory_entries")
        await put("directory_entries", ({
            "id": first_entry + n, "id_number": f"9{first_entry + n:07d}", "name": f"Mahasiswa {n}",
            "email": f"seed{first_entry + n}@students.itb.ac.id", "role": "student", "faculty": "STEI",
            "program": "Informatika", "status": "active", "updated_at": start,
        } for n in range(max(1, conversations // 5))))

        # People: six contacts for every ten conversations (students come back); one in ten has a second
        # address on another channel.
        contact_count = max(1, conversations * 6 // 10)
        first_contact = await next_id("contacts")
        first_identity = await next_id("channel_identities")
        channel_names = [c for c, _ in CHANNELS]
        channel_weights = [w for _, w in CHANNELS]
        identities: list[list[tuple[int, str]]] = []  # per contact: (identity id, channel)
        contact_rows: list[dict[str, Any]] = []
        identity_rows: list[dict[str, Any]] = []
        next_identity = first_identity
        for n in range(contact_count):
            cid = first_contact + n
            verified = rng.random() < 0.8
            contact_rows.append({
                "id": cid, "role": "student", "id_number": f"8{cid:07d}" if verified else None,
                "name": f"Kontak {cid}" if verified else "", "email": f"seed{cid}@students.itb.ac.id",
                "phone": f"+62813{cid:08d}", "faculty": "", "program": "", "verified": int(verified),
                "verified_at": start if verified else None, "consent_at": start if verified else None,
                "language": "id", "created_at": start, "updated_at": start,
            })
            mine = []
            for channel in {rng.choices(channel_names, channel_weights)[0]
                            for _ in range(2 if rng.random() < 0.1 else 1)}:
                external = {"whatsapp": f"whatsapp:+62813{cid:08d}", "telegram": str(7_000_000_000 + cid),
                            "webchat": f"web:seed{cid:012x}", "email": f"seed{cid}@students.itb.ac.id"}[channel]
                identity_rows.append({"id": next_identity, "contact_id": cid, "channel": channel,
                                      "external_id": external, "display_name": f"Kontak {cid}",
                                      "last_inbound_at": None, "unreachable": 0, "created_at": start})
                mine.append((next_identity, channel))
                next_identity += 1
            identities.append(mine)
        await put("contacts", iter(contact_rows))

        # Conversations, oldest first; the last ``open_tickets`` ticketed ones are still with agents.
        first_conversation = await next_id("conversations")
        first_message = await next_id("messages")
        first_ticket = await next_id("tickets")
        spacing = YEAR / max(1, conversations)
        ticketed = {n for n in range(conversations) if rng.random() < ticket_share}
        still_open = set(sorted(ticketed)[-open_tickets:]) if open_tickets else set()
        last_inbound: dict[int, datetime] = {}
        conversation_rows: list[dict[str, Any]] = []
        tickets: list[dict[str, Any]] = []
        # Per conversation: its id, contact, identity, channel, start and ticket, for the messages below.
        plan: list[tuple[int, int, int, str, datetime, int | None]] = []
        for n in range(conversations):
            conversation_id = first_conversation + n
            contact_index = rng.randrange(contact_count)
            identity_id, channel = rng.choice(identities[contact_index])
            created = start + spacing * n + timedelta(seconds=rng.randrange(60))
            ticket_id = first_ticket + len(tickets) if n in ticketed else None
            is_open = n in still_open
            if is_open:  # handed off this morning, waiting for an agent
                created = now - timedelta(hours=2) + timedelta(minutes=len(tickets))
            elif n >= conversations - 3:  # a few with the bot right now
                created = now - timedelta(minutes=conversations - n)
            status = "pending" if is_open else ("bot" if created > now - timedelta(minutes=5) else "resolved")
            conversation_rows.append({
                "id": conversation_id, "contact_id": first_contact + contact_index, "identity_id": identity_id,
                "channel": channel, "status": status, "step": "with_agent" if is_open else "done",
                "language": "id", "identity_attempts": 0, "pending_question": None, "last_prediction": None,
                "created_at": created, "updated_at": created,
                "last_message_at": created + timedelta(minutes=messages_per_conversation),
            })
            last_inbound[identity_id] = created + timedelta(minutes=messages_per_conversation)
            if ticket_id is not None:
                category_id, slug = rng.choice(categories)
                opened = created + timedelta(minutes=5)
                due = opened + timedelta(hours=24)
                resolved = None if is_open else opened + timedelta(minutes=rng.randrange(30, 30 * 60))
                rated = resolved is not None and rng.random() < 0.6
                rating = rng.choice((1, 2, 3, 4, 4, 5, 5, 5)) if rated else None
                tickets.append({
                    "id": ticket_id, "number": f"CC-{opened:%y%m}-{ticket_id:06d}", "channel": channel,
                    "predicted_category": slug if rng.random() < 0.8 else rng.choice(categories)[1],
                    "predicted_confidence": round(rng.uniform(0.3, 0.99), 3),
                    "status": "open" if is_open else "resolved", "priority": "normal",
                    "reason": rng.choice(("user_request", "low_confidence", "not_helpful")), "unverified": 0,
                    "subject": "", "opened_at": opened,
                    "first_response_at": None if is_open else opened + timedelta(minutes=30),
                    "resolved_at": resolved, "resolved_by": None if is_open else "agent",
                    "due_at": due,
                    "breached_at": due if resolved and resolved > due else None,
                    "assignee_id": None if is_open else rng.choice(agent_ids),
                    "category_id": None if is_open else category_id, "contact_id": first_contact + contact_index,
                    "conversation_id": conversation_id, "escalated_at": None,
                    "flagged": int(rating is not None and rating <= 2),
                    "survey_sent_at": resolved, "survey_rating": rating,
                    "survey_answered_at": resolved + timedelta(minutes=10) if rated and resolved else None,
                    "survey_comment": None, "fix_notified_at": None, "incident_id": None, "team_id": None,
                })
            plan.append((conversation_id, first_contact + contact_index, identity_id, channel, created, ticket_id))
        for row in identity_rows:
            row["last_inbound_at"] = last_inbound.get(row["id"])
        await put("channel_identities", iter(identity_rows))
        await put("conversations", iter(conversation_rows))
        await put("tickets", iter(tickets))
        seeded.oldest_conversation = first_conversation
        seeded.newest_conversation = first_conversation + conversations - 1

        def messages() -> Iterator[dict[str, Any]]:
            message_id = first_message
            for conversation_id, _contact, _identity, channel, created, ticket_id in plan:
                for k in range(messages_per_conversation):
                    at = created + timedelta(minutes=k)
                    inbound = k % 2 == 0
                    with_agent = ticket_id is not None and k >= 4
                    yield {
                        "id": message_id, "conversation_id": conversation_id,
                        "ticket_id": ticket_id if with_agent else None, "channel": channel,
                        "direction": "in" if inbound else "out",
                        "sender_kind": "user" if inbound else ("agent" if with_agent else "bot"),
                        "agent_id": None, "text": rng.choice(TEXTS if inbound else REPLIES), "buttons": None,
                        "provider_message_id": f"seed-{message_id}",
                        "delivery_status": None if inbound else rng.choice(("sent", "delivered", "read", "read")),
                        "delivery_error": None, "attempts": 0 if inbound else 1, "provider_payload": None,
                        "created_at": at, "sent_at": None if inbound else at,
                        "claimed_at": at if inbound else None, "processed_at": at if inbound else None,
                    }
                    message_id += 1

        await put("messages", messages())
        last_message = first_message + conversations * messages_per_conversation - 1

        def attachments(first: int) -> Iterator[dict[str, Any]]:
            # One inbound message in seventeen carries a screenshot.
            for n, message_id in enumerate(range(first_message, last_message + 1, 34)):
                digest = f"{message_id:064x}"
                yield {"id": first + n, "message_id": message_id, "position": 0, "filename": "tangkapan.png",
                       "content_type": "image/png", "size": 48_213, "sha256": digest, "storage_key": digest,
                       "refused_reason": None, "created_at": start}

        await put("attachments", attachments(await next_id("attachments")))

        def events(event_id: int) -> Iterator[dict[str, Any]]:
            for ticket in tickets:
                kinds = EVENTS[:1] if ticket["resolved_at"] is None else EVENTS
                for k, kind in enumerate(kinds):
                    yield {"id": event_id, "ticket_id": ticket["id"], "kind": kind,
                           "actor_kind": "bot" if kind == "opened" else "agent", "actor_id": ticket["assignee_id"],
                           "data": json.dumps({"seed": True}), "created_at": ticket["opened_at"] + timedelta(minutes=k)}
                    event_id += 1

        await put("ticket_events", events(await next_id("ticket_events")))

        def audit(first: int) -> Iterator[dict[str, Any]]:
            for n, ticket in enumerate(t for t in tickets if t["resolved_at"] is not None):
                for k, action in enumerate(("ticket.take", "ticket.close")):
                    yield {"id": first + 2 * n + k, "actor_id": ticket["assignee_id"], "action": action,
                           "target": ticket["number"], "data": "{}", "created_at": ticket["opened_at"]}

        await put("audit_log", audit(await next_id("audit_log")))

        def mails(first: int) -> Iterator[dict[str, Any]]:
            for n, ticket in enumerate(tickets[::100]):
                yield {"id": first + n, "ticket_id": ticket["id"], "recipients": "dev@itb.example",
                       "subject": f"Eskalasi {ticket['number']}", "body": "Ringkasan", "status": "sent",
                       "attempts": 1, "last_error": None, "created_at": ticket["opened_at"],
                       "sent_at": ticket["opened_at"]}

        await put("escalation_mails", mails(await next_id("escalation_mails")))

        # The last week's webhook receipts (the scheduler prunes older ones), stored.
        def receipts(first: int) -> Iterator[dict[str, Any]]:
            week = now - timedelta(days=7)
            n = 0
            for conversation_id, _contact, _identity, channel, created, _ticket in plan:
                if created < week or channel in ("webchat", "email"):
                    continue
                message_id = first_message + (conversation_id - first_conversation) * messages_per_conversation
                yield {"id": first + n, "channel": channel, "provider_message_id": f"seed-{message_id}",
                       "address": "seed", "payload": "{}", "received_at": created, "stored_at": created,
                       "message_id": message_id, "attempts": 1, "error": None}
                n += 1

        await put("inbox", receipts(await next_id("inbox")))
        await writer.finish(list(seeded.counts))
    finally:
        await writer.close()
    return seeded


async def _pairs(writer: Writer, sql: str) -> list[tuple[Any, Any]]:
    if isinstance(writer, SqliteWriter):
        return [tuple(row) for row in writer.db.execute(sql).fetchall()]
    assert isinstance(writer, PostgresWriter)
    return [tuple(row) for row in await writer.db.fetch(sql)]


def summary(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{table} {count:,}" for table, count in counts.items())
