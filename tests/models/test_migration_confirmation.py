"""Upgrading a database from 0012 with tickets in it: migration 0015 records as confirmed exactly the
categories an agent saved (a ``categorized`` event by an agent), with who, when and whether the guess was
kept, and leaves the classifier's untouched guesses unconfirmed, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

from tortoise.context import TortoiseContext
from tortoise.migrations.api import migrate

from handoff.categorization import is_confirmed
from models import Ticket, User, open_database
from models.db import run_migrations, tortoise_config
from tests.models.test_migrations import empty_db_url, raw_sql

__all__ = ["empty_db_url"]

BEFORE = "models.0012_indexes"


def _ticket(number: str, category: str | None, predicted: str | None) -> str:
    category_id = f"(SELECT id FROM categories WHERE slug = '{category}')" if category else "NULL"
    guess = f"'{predicted}'" if predicted else "NULL"
    return f"""
INSERT INTO tickets (number, conversation_id, contact_id, channel, category_id, predicted_category, status, priority,
                     reason, unverified, subject, opened_at, due_at, flagged)
VALUES ('{number}', (SELECT id FROM conversations), (SELECT id FROM contacts), 'telegram', {category_id}, {guess},
        'resolved', 'normal', 'not_helpful', FALSE, 'lupa password', '2026-11-20 01:02:00+00:00',
        '2026-11-21 01:02:00+00:00', FALSE);"""


def _event(number: str, actor: str | None, at: str, kind: str = "categorized", actor_kind: str = "agent") -> str:
    actor_id = f"(SELECT id FROM users WHERE email = '{actor}')" if actor else "NULL"
    return f"""
INSERT INTO ticket_events (ticket_id, kind, actor_kind, actor_id, data, created_at)
VALUES ((SELECT id FROM tickets WHERE number = '{number}'), '{kind}', '{actor_kind}', {actor_id}, '{{}}', '{at}');"""


SEED = "".join([
    """
INSERT INTO users (email, name, role, password_hash, active, session_version, must_change_password, capacity,
                   available, created_at)
VALUES ('ana@cc.test', 'Ana', 'agent', 'x', TRUE, 1, FALSE, 10, FALSE, '2026-11-20 01:00:00+00:00'),
       ('sari@cc.test', 'Sari', 'supervisor', 'x', TRUE, 1, FALSE, 10, FALSE, '2026-11-20 01:00:00+00:00');
INSERT INTO categories (slug, name_id, name_en, description, active, sort_order)
VALUES ('akun-login', 'Akun & login', 'Account & login', '', TRUE, 1),
       ('nilai', 'Nilai', 'Grades', '', TRUE, 2);
INSERT INTO contacts (role, name, faculty, program, verified, language, created_at, updated_at)
VALUES ('student', 'Budi', 'STEI', 'Informatika', TRUE, 'id', '2026-11-20 01:00:00+00:00',
        '2026-11-20 01:00:00+00:00');
INSERT INTO channel_identities (contact_id, channel, external_id, display_name, unreachable, created_at)
VALUES ((SELECT id FROM contacts), 'telegram', '5550001', 'Budi', FALSE, '2026-11-20 01:00:00+00:00');
INSERT INTO conversations (contact_id, identity_id, channel, status, step, language, identity_attempts, created_at,
                           updated_at)
VALUES ((SELECT id FROM contacts), (SELECT id FROM channel_identities), 'telegram', 'bot', 'done', 'id', 0,
        '2026-11-20 01:00:00+00:00', '2026-11-20 01:00:00+00:00');""",
    # Kept the guess, saved twice: the latest save (Sari's) is the confirmation.
    _ticket("KEPT", "akun-login", "akun-login"),
    _event("KEPT", None, "2026-11-20 01:02:00+00:00", kind="opened", actor_kind="bot"),
    _event("KEPT", "ana@cc.test", "2026-11-20 02:00:00+00:00"),
    _event("KEPT", "sari@cc.test", "2026-11-20 03:00:00+00:00"),
    # Changed the guess.
    _ticket("CHANGED", "nilai", "akun-login"),
    _event("CHANGED", "ana@cc.test", "2026-11-20 04:00:00+00:00"),
    # No guess to agree with.
    _ticket("NO-GUESS", "nilai", None),
    _event("NO-GUESS", "ana@cc.test", "2026-11-20 05:00:00+00:00"),
    # Closed with the classifier's guess that nobody saved: unconfirmed.
    _ticket("GUESS-ONLY", "akun-login", "akun-login"),
    _event("GUESS-ONLY", "ana@cc.test", "2026-11-20 06:00:00+00:00", kind="note"),
    # Saved once, but the category is gone since: nothing to confirm.
    _ticket("NO-CATEGORY", None, "nilai"),
    _event("NO-CATEGORY", "ana@cc.test", "2026-11-20 07:00:00+00:00"),
])


async def test_only_the_categories_an_agent_saved_count_as_confirmed_after_the_upgrade(empty_db_url: str) -> None:
    async with TortoiseContext():
        await migrate(config=tortoise_config(empty_db_url), target=BEFORE)
    async with raw_sql(empty_db_url) as connection:
        await connection.execute_script(SEED)
    await run_migrations(empty_db_url)
    database = await open_database(empty_db_url)
    try:
        users = {u.email: u.id for u in await User.all()}
        found = {
            t.number: (is_confirmed(t), t.category_confirmed_by_id, t.category_confirmed_at, t.category_agreed)
            for t in await Ticket.all()
        }
        at = datetime(2026, 11, 20, tzinfo=UTC).replace
        assert found == {
            "KEPT": (True, users["sari@cc.test"], at(hour=3), True),
            "CHANGED": (True, users["ana@cc.test"], at(hour=4), False),
            "NO-GUESS": (True, users["ana@cc.test"], at(hour=5), None),
            "GUESS-ONLY": (False, None, None, None),
            "NO-CATEGORY": (False, None, None, None),
        }
    finally:
        await database.close()
