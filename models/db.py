"""Database configuration and lifecycle: one Tortoise context per process, migrated on open."""

from __future__ import annotations

import logging
import sqlite3
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

from tortoise import Tortoise
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.backends.base.config_generator import expand_db_url
from tortoise.backends.sqlite.client import SqliteClient
from tortoise.context import TortoiseContext
from tortoise.migrations.api import migrate

log = logging.getLogger(__name__)

APP_LABEL = "models"


def sqlite_datetime(moment: datetime) -> str:
    """A datetime as SQLite receives it, written or compared: UTC text, whatever zone it was made in.

    SQLite has no date type: a datetime parameter becomes ``isoformat(" ")`` text and is compared as text,
    so "2026-11-23 17:30:00+00:00" >= "2026-11-24 00:00:00+07:00" is false although 00:30 WIB is after
    midnight WIB. Stored values are UTC; a filter built in local time (the dashboard's "today" from the
    local midnight, an API ``since=`` with an offset) found nothing from 00:00 to 07:00 WIB. Converting
    every datetime parameter here, where the driver turns it into text, makes each comparison mean what
    it says, whoever builds the datetime and wherever. PostgreSQL compares ``timestamptz`` as moments.
    """
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.isoformat(" ")


# Replaces the adapter Tortoise registers when its SQLite backend is imported (above), same text for UTC
# values, so nothing stored changes. Process-wide, like Tortoise's own: every SQLite connection uses it.
sqlite3.register_adapter(datetime, sqlite_datetime)


def normalize_db_url(url: str) -> str:
    """Accept the URLs people paste (Heroku-style ``postgresql://``, a bare file path) as Tortoise URLs."""
    if url.startswith("postgresql://"):
        return "postgres://" + url.removeprefix("postgresql://")
    if "://" not in url:
        return f"sqlite://{Path(url).resolve()}"
    return url


# SQLite in WAL mode (Tortoise's default) with synchronous=NORMAL: a commit no longer waits for an fsync,
# only a checkpoint does, and a crash can lose at most the last commits, never corrupt the file (power
# loss, not a process crash). Every webhook's store step commits, so this is its largest cost on SQLite.
# busy_timeout lets a second process on the same file (``serve --no-scheduler`` + ``clock``) wait for a
# write lock instead of failing with "database is locked".
# cache_size: SQLite's default page cache is 2 MiB, less than one month of tickets and conversations; the
# dashboard's period figures read those several times a view and then came from the OS cache through a
# system call per page (64 MiB: a month's figures at 100,000 tickets 195 to 155 ms). Memory is taken only
# as pages are read, up to that much for the process's one connection.
SQLITE_PRAGMAS = {"journal_mode": "WAL", "synchronous": "NORMAL", "busy_timeout": "5000", "cache_size": "-65536"}
# Tortoise changes a SQLite column by rebuilding its table: create a new one, copy the rows, DROP the old
# one, rename. With foreign keys enforced (Tortoise turns them on), that DROP deletes every row referring to
# the old table ON DELETE CASCADE: 0007's change to conversations.step emptied messages, tickets and their
# events. SQLite's own recipe for such changes (sqlite.org/lang_altertable.html, "other kinds of table
# schema changes") turns foreign keys off while the schema changes and checks them afterwards; so do
# migrations here, on a connection of their own.
MIGRATION_SQLITE_PRAGMAS = {"foreign_keys": "OFF"}


def _with_sqlite_pragmas(url: str, forced: Mapping[str, str] | None = None) -> str:
    if not url.startswith("sqlite://") or ":memory:" in url:
        return url
    base, _, query = url.partition("?")
    given = dict(parse_qsl(query))
    # What the operator wrote wins over our defaults, but not over what migrating needs.
    return f"{base}?{urlencode({**SQLITE_PRAGMAS, **given, **(forced or {})})}"


def connection_name(db_url: str) -> str:
    # Named after the engine, because Tortoise caches compiled INSERT statements per connection name:
    # one process that talks to SQLite and then PostgreSQL (the test suite) must not share them.
    return normalize_db_url(db_url).split("://", 1)[0]


def tortoise_config(db_url: str, *, migrating: bool = False) -> dict[str, Any]:
    name = connection_name(db_url)
    forced = MIGRATION_SQLITE_PRAGMAS if migrating else None
    return {
        "connections": {name: _with_sqlite_pragmas(normalize_db_url(db_url), forced)},
        "apps": {
            APP_LABEL: {
                "models": ["models.entities"],
                "migrations": "models.migrations",
                "default_connection": name,
            }
        },
        "use_tz": True,
        "timezone": "UTC",
    }


@dataclass(slots=True)
class Database:
    url: str
    context: TortoiseContext
    # The connection webhook receipts are written on (bot.inbound.receive); None: the default one.
    receipts: BaseDBAsyncClient | None = None

    async def close(self) -> None:
        if self.receipts is not None:
            await self.receipts.close()
        await self.context.close_connections()


async def open_receipts_connection(db_url: str) -> BaseDBAsyncClient | None:
    """A second SQLite connection, for webhook receipts only.

    Tortoise runs every query of a connection one at a time behind one lock, and a receipt must not wait
    in that line behind the turns' queries: a provider is waiting on it. On a connection of their own,
    SQLite's write lock (held for the length of one write) is all receipts share with the rest. It stays
    out of Tortoise's connection list, so ``in_transaction()`` still finds one default connection.
    PostgreSQL's pool already gives each receipt a connection of its own, and an in-memory SQLite
    database is one per connection (a second connection would be another database).
    """
    url = _with_sqlite_pragmas(normalize_db_url(db_url))
    if not url.startswith("sqlite://") or ":memory:" in url:
        return None
    credentials = expand_db_url(url)["credentials"]
    # A commit that fills the WAL past its limit checkpoints it (copies pages into the file and syncs),
    # which can take tens of milliseconds; that work falls to the other connection, never to a receipt.
    credentials["wal_autocheckpoint"] = 0
    client = SqliteClient(connection_name=f"{connection_name(db_url)}_receipts", **credentials)
    await client.create_connection(with_db=True)
    return client


async def run_migrations(db_url: str) -> None:
    """Apply every pending migration; safe to run on an up-to-date database."""
    config = tortoise_config(db_url, migrating=True)
    url = normalize_db_url(db_url)
    sqlite_file = url.startswith("sqlite://") and ":memory:" not in url
    if sqlite_file:
        Path(url.removeprefix("sqlite://")).parent.mkdir(parents=True, exist_ok=True)
    # A context of its own, so the migration's connections close before the app opens its pool.
    async with TortoiseContext() as context:
        await migrate(config=config)
        if sqlite_file:
            await _check_foreign_keys(context.connections.get(connection_name(db_url)))
    log.info("database migrated")


async def _check_foreign_keys(connection: BaseDBAsyncClient) -> None:
    """Rows a migration left referring to nothing (foreign keys are off while migrating SQLite)."""
    broken = Counter(
        f"{row['table']} -> {row['parent']}" for row in await connection.execute_query_dict("PRAGMA foreign_key_check")
    )
    if broken:
        # Logged, not raised: the migrations are applied and recorded, so refusing to start would not undo them.
        log.error("after migrating, rows refer to missing rows: %s", dict(broken))


async def open_database(db_url: str, *, migrate_first: bool = True) -> Database:
    """Open the process-wide connection; tasks created later (request handlers, jobs) find it."""
    if migrate_first:
        await run_migrations(db_url)
    ctx = await Tortoise.init(config=tortoise_config(db_url), _enable_global_fallback=True)
    return Database(url=db_url, context=ctx, receipts=await open_receipts_connection(db_url))


# For Tortoise's own CLI (``tortoise -c models.db.TORTOISE_ORM makemigrations``): the schema, not a database.
TORTOISE_ORM = tortoise_config("sqlite://:memory:")
