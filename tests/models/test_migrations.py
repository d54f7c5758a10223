"""Upgrading a database that has rows in it: migration 0004's backfill, from a database migrated only to 0003.

The other tests start from a database migrated to head and empty, which never runs a migration on real
rows. Here the rows are written with raw SQL, as the schema of 0003 had them (the models describe head),
then the database is brought to head the way ``serve`` does it at start-up. That also covers every later
migration: on SQLite, 0007's rebuild of ``conversations`` used to delete every message and ticket.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.context import TortoiseContext
from tortoise.migrations.api import migrate

from bot.conversation.deps import FlowDeps
from bot.directory import DatabaseDirectory
from bot.inbound import InboundWorker
from handoff.delivery import ChannelRegistry
from models import Direction, Message, open_database
from models.db import connection_name, run_migrations, tortoise_config
from tests.conftest import PG_URL, POSTGRES, ScriptedClassifier

BEFORE_INBOUND_PROCESSING = "models.0003_auto_20261123_2344"
TABLES = ("contacts", "channel_identities", "conversations", "tickets", "ticket_events", "messages")

# A conversation from before store-then-process, handed to an agent: every inbound message was answered
# in-line, and the agent's reply was still waiting in the outbox when the old version stopped.
SEED = """
INSERT INTO contacts (role, id_number, name, email, phone, faculty, program, verified, verified_at, consent_at,
                      language, created_at, updated_at)
VALUES ('student', '13521045', 'Budi Santoso', NULL, NULL, 'STEI', 'Informatika', TRUE,
        '2026-11-20 01:00:30+00:00', '2026-11-20 01:00:30+00:00', 'id',
        '2026-11-20 01:00:00+00:00', '2026-11-20 01:00:30+00:00');
INSERT INTO channel_identities (contact_id, channel, external_id, display_name, last_inbound_at, unreachable,
                                created_at)
VALUES ((SELECT id FROM contacts WHERE id_number = '13521045'), 'telegram', '5550001', 'Budi',
        '2026-11-20 01:01:00+00:00', FALSE, '2026-11-20 01:00:00+00:00');
INSERT INTO conversations (contact_id, identity_id, channel, status, step, language, identity_attempts,
                           pending_question, last_prediction, created_at, updated_at, last_message_at)
VALUES ((SELECT id FROM contacts WHERE id_number = '13521045'),
        (SELECT id FROM channel_identities WHERE external_id = '5550001'), 'telegram', 'bot', 'awaiting_feedback',
        'id', 0, NULL, NULL, '2026-11-20 01:00:00+00:00', '2026-11-20 01:01:01+00:00', '2026-11-20 01:01:00+00:00');
INSERT INTO tickets (number, conversation_id, contact_id, channel, status, priority, reason, unverified, subject,
                     opened_at, due_at, flagged)
VALUES ('CC-20261120-0001', (SELECT id FROM conversations), (SELECT id FROM contacts), 'telegram', 'open', 'normal',
        'not_helpful', FALSE, 'lupa password', '2026-11-20 01:02:00+00:00', '2026-11-21 01:02:00+00:00', FALSE);
INSERT INTO ticket_events (ticket_id, kind, actor_kind, data, created_at)
VALUES ((SELECT id FROM tickets), 'opened', 'bot', '{"reason":"not_helpful"}', '2026-11-20 01:02:00+00:00');
INSERT INTO messages (conversation_id, ticket_id, channel, direction, sender_kind, agent_id, text, buttons,
                      provider_message_id, delivery_status, delivery_error, attempts, provider_payload, created_at,
                      sent_at)
VALUES
  ((SELECT id FROM conversations), NULL, 'telegram', 'in', 'user', NULL, 'halo', NULL, '5550001:1', NULL, NULL,
   0, '{"update_id":1}', '2026-11-20 01:00:00+00:00', NULL),
  ((SELECT id FROM conversations), NULL, 'telegram', 'out', 'bot', NULL, 'Halo! Silakan kirim NIM Anda.', NULL,
   '5550001:1001', 'sent', NULL, 1, NULL, '2026-11-20 01:00:01+00:00', '2026-11-20 01:00:02+00:00'),
  ((SELECT id FROM conversations), NULL, 'telegram', 'in', 'user', NULL, '13521045 lupa password', NULL,
   '5550001:2', NULL, NULL, 0, '{"update_id":2}', '2026-11-20 01:01:00+00:00', NULL),
  ((SELECT id FROM conversations), NULL, 'telegram', 'out', 'bot', NULL, 'Apakah jawaban ini membantu?',
   '[{"label":"Ya","value":"1"},{"label":"Tidak","value":"2"}]', '5550001:1002', 'sent', NULL, 1, NULL,
   '2026-11-20 01:01:01+00:00', '2026-11-20 01:01:02+00:00'),
  ((SELECT id FROM conversations), (SELECT id FROM tickets), 'telegram', 'out', 'agent', NULL,
   'Halo Budi, password sudah kami reset.', NULL, NULL, 'queued', 'telegram unavailable', 1, NULL,
   '2026-11-20 02:00:00+00:00', NULL);
"""


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def empty_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A database with no schema at all (the shared fixtures' are already at head)."""
    if request.param == "sqlite":
        yield f"sqlite://{tmp_path / 'upgrade.sqlite3'}"
        return
    if not POSTGRES:
        pytest.skip(f"no PostgreSQL answers at {PG_URL}")
    name = f"cc_upgrade_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(PG_URL.replace("postgres://", "postgresql://"))
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{PG_URL.rsplit('/', 1)[0]}/{name}"
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@asynccontextmanager
async def raw_sql(db_url: str) -> AsyncIterator[BaseDBAsyncClient]:
    """A connection of its own for plain SQL, closed before the next migration step opens its own."""
    async with TortoiseContext() as context:
        await context.init(config=tortoise_config(db_url))
        yield context.connections.get(connection_name(db_url))


async def snapshot(connection: BaseDBAsyncClient) -> dict[str, list[dict[str, Any]]]:
    return {table: await connection.execute_query_dict(f"SELECT * FROM {table} ORDER BY id")
            for table in TABLES}


async def test_upgrading_from_0003_marks_old_inbound_messages_processed_and_changes_nothing_else(
    empty_db_url: str,
) -> None:
    async with TortoiseContext():
        await migrate(config=tortoise_config(empty_db_url), target=BEFORE_INBOUND_PROCESSING)
    async with raw_sql(empty_db_url) as connection:
        await connection.execute_script(SEED)
        before = await snapshot(connection)
    assert [len(before[table]) for table in TABLES] == [1, 1, 1, 1, 1, 5]
    assert "processed_at" not in before["messages"][0]  # really the schema of 0003

    await run_migrations(empty_db_url)  # to head, whatever the last migration is

    async with raw_sql(empty_db_url) as connection:
        after = await snapshot(connection)
    # Every row, and every column that existed before the upgrade, is as it was.
    assert {table: len(after[table]) for table in TABLES} == {table: len(before[table]) for table in TABLES}
    for table in TABLES:
        kept = [{column: row[column] for column in old} for row, old in zip(after[table], before[table], strict=True)]
        assert kept == before[table], table
    messages = after["messages"]
    inbound = [m for m in messages if m["direction"] == "in"]
    outbound = [m for m in messages if m["direction"] == "out"]
    assert (len(inbound), len(outbound)) == (2, 3)
    # Answered in-line before the upgrade: processed when they were written, never claimed.
    assert [m["processed_at"] for m in inbound] == [m["created_at"] for m in inbound]
    assert all(m["processed_at"] is not None for m in inbound)
    # The backfill is for inbound turns only: outbound rows have no turn, and the queued one stays queued.
    assert [m["processed_at"] for m in outbound] == [None, None, None]
    assert [m["claimed_at"] for m in messages] == [None] * 5
    assert [m["delivery_status"] for m in outbound] == ["sent", "sent", "queued"]

    # What ``serve`` does next: open the database (migrating is a no-op now) and resume unfinished turns.
    database = await open_database(empty_db_url)
    try:
        rows = await Message.filter(direction=Direction.INBOUND).order_by("id")
        assert [m.processed_at for m in rows] == [m.created_at for m in rows]
        worker = InboundWorker(FlowDeps(registry=ChannelRegistry(), classifier=ScriptedClassifier(),
                                        directory=DatabaseDirectory()))
        assert await worker.resume() == 0
        assert worker.backlog == 0
    finally:
        await database.close()
