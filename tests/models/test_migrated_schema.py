"""A database brought to head by the migrations has every index and unique constraint the models declare,
on SQLite and PostgreSQL.

Tortoise changes a SQLite column by rebuilding its table, and a rebuilt table can come back without its
indexes: migration 0014's change to ``channel_identities.external_id`` dropped the unique (channel,
external_id) constraint and the contact_id index until it created them again. So the migrated schema is
compared with the one Tortoise generates from the models, index by index (names aside: the columns, in
order, and whether unique)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.context import TortoiseContext

from models.db import connection_name, run_migrations, tortoise_config
from tests.conftest import PG_URL, POSTGRES

Index = tuple[str, tuple[str, ...], bool]  # table, columns in order, unique


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def two_empty_db_urls(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[tuple[str, str]]:
    if request.param == "sqlite":
        yield f"sqlite://{tmp_path / 'migrated.sqlite3'}", f"sqlite://{tmp_path / 'generated.sqlite3'}"
        return
    if not POSTGRES:
        pytest.skip(f"no PostgreSQL answers at {PG_URL}")
    names = [f"cc_schema_{uuid.uuid4().hex[:10]}" for _ in range(2)]
    admin = await asyncpg.connect(PG_URL.replace("postgres://", "postgresql://"))
    for name in names:
        await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        base = PG_URL.rsplit("/", 1)[0]
        yield f"{base}/{names[0]}", f"{base}/{names[1]}"
    finally:
        for name in names:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def _sqlite_indexes(connection: BaseDBAsyncClient) -> set[Index]:
    found: set[Index] = set()
    tables = await connection.execute_query_dict(
        "SELECT name FROM sqlite_master "
        "WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name != 'tortoise_migrations'"
    )
    for table in (str(row["name"]) for row in tables):
        for index in await connection.execute_query_dict(f'PRAGMA index_list("{table}")'):
            if index["origin"] == "pk":
                continue
            columns = await connection.execute_query_dict(f'PRAGMA index_info("{index["name"]}")')
            ordered = tuple(str(c["name"]) for c in sorted(columns, key=lambda c: int(c["seqno"])))
            found.add((table, ordered, bool(index["unique"])))
    return found


async def _postgres_indexes(connection: BaseDBAsyncClient) -> set[Index]:
    rows = await connection.execute_query_dict(
        """
        SELECT t.relname AS table_name, i.indisunique AS is_unique,
               array_agg(a.attname ORDER BY k.ordinality) AS columns
        FROM pg_index i
        JOIN pg_class t ON t.oid = i.indrelid
        JOIN pg_namespace n ON n.oid = t.relnamespace AND n.nspname = 'public'
        CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ordinality)
        JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum
        WHERE NOT i.indisprimary AND t.relname != 'tortoise_migrations'
        GROUP BY t.relname, i.indexrelid, i.indisunique
        """
    )
    return {(str(r["table_name"]), tuple(r["columns"]), bool(r["is_unique"])) for r in rows}


async def indexes(db_url: str) -> set[Index]:
    async with TortoiseContext() as context:
        await context.init(config=tortoise_config(db_url))
        connection = context.connections.get(connection_name(db_url))
        if db_url.startswith("sqlite"):
            return await _sqlite_indexes(connection)
        return await _postgres_indexes(connection)


async def test_the_migrations_give_every_index_the_models_declare(two_empty_db_urls: tuple[str, str]) -> None:
    migrated_url, generated_url = two_empty_db_urls
    await run_migrations(migrated_url)
    async with TortoiseContext() as context:
        await context.init(config=tortoise_config(generated_url))
        await context.generate_schemas()
    migrated, generated = await indexes(migrated_url), await indexes(generated_url)
    assert generated  # the comparison compares something
    assert sorted(generated - migrated) == []  # declared, but missing after the migrations
    assert sorted(migrated - generated) == []  # left by a migration, declared nowhere
