"""How the product opens its SQLite database: the pragmas every connection runs with."""

from __future__ import annotations

from pathlib import Path

from models import Ticket, open_database
from models.db import run_migrations


async def test_sqlite_runs_in_wal_with_a_page_cache_for_a_months_reads(tmp_path: Path) -> None:
    url = f"sqlite://{tmp_path / 'cc.sqlite3'}"
    await run_migrations(url)
    database = await open_database(url, migrate_first=False)
    try:
        client = Ticket._meta.db
        pragma = {name: (await client.execute_query_dict(f"PRAGMA {name}"))[0] for name in
                  ("journal_mode", "synchronous", "busy_timeout", "cache_size", "foreign_keys")}
        assert [next(iter(row.values())) for row in pragma.values()] == ["wal", 1, 5000, -65536, 1]
    finally:
        await database.close()


async def test_the_operators_own_pragma_wins(tmp_path: Path) -> None:
    url = f"sqlite://{tmp_path / 'cc.sqlite3'}"
    await run_migrations(url)
    database = await open_database(f"{url}?cache_size=-2000", migrate_first=False)
    try:
        rows = await Ticket._meta.db.execute_query_dict("PRAGMA cache_size")
        assert next(iter(rows[0].values())) == -2000
    finally:
        await database.close()
