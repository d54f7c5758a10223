"""Every hot query through the planner: none may read the whole of a table that grows.

The statements are not listed here: they are recorded while the product's own code paths run against a
real database that holds some history (tests/models/hot_paths.py, tests/models/history.py): WhatsApp
webhooks through receipt, store and turn, a hand-off, the web chat, status callbacks, an outbox retry
pass, the console's queue, ticket page, actions and dashboard, the API, and every scheduler job and
background sweep. Each distinct statement then goes through ``EXPLAIN QUERY PLAN`` (SQLite) or
``EXPLAIN`` (PostgreSQL) with the parameters it ran with. A query added later to any of these paths is
checked without anyone listing it.

Reading a table whole is: on SQLite a ``SCAN`` step (with or without an index: ``SCAN t USING INDEX i``
walks all of ``i``), a ``SEARCH`` without an index (MIN(id) walking the rowids) or an automatic index; on
PostgreSQL a ``Seq Scan``, or an index scan without an index condition (a walk of the whole index); on
both, an index range with only an upper bound (``due_at <= now``: every row older than a moment, which is
all of history in time) or only ``IS NOT NULL``.

The question put to each planner is "can an index serve this?", and the answer must not depend on how
few rows a test database has. SQLite has no statistics (nothing runs ANALYZE, in production either), so
it takes any index that matches. PostgreSQL gets none either (autovacuum is off for the test database's
tables, so no ANALYZE lands halfway through), so it too takes a matching index as selective, and it is
asked with ``enable_seqscan`` off: it reads a table whole only when no index can serve the query. With
statistics of a few hundred rows it would rightly walk a two-page table whole, and learn nothing about
the year of rows that production has. Which index a planner with a year's statistics picks, and how
long each statement then takes, is for benchmarks/db_history_bench.py to show.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from tests.fakes.twilio import FakeTwilio, fake_twilio
from tests.models.history import seed_history
from tests.models.hot_paths import Statement, drive_hot_paths, product, recording, settings_for

__all__ = ["fake_twilio"]

# Conversations of history under the paths (20,000 messages, 600 tickets, a second to write): the paths
# run beside other people's rows, as in production, and each table spans enough pages that PostgreSQL,
# which sizes tables by their pages, never finds walking one whole as cheap as an index.
HISTORY = 2000

# Tables that stay small whatever the traffic: reading one whole costs microseconds and needs no index.
# Every other table (including any added later) is taken to grow, and a full scan of it fails the test.
SMALL_TABLES = {
    "users": "console users: the care center's agents and supervisors, tens",
    "teams": "a handful of agent teams",
    "team_members": "agents times teams: tens",
    "categories": "the supervisor's category list: 13 by default, tens at most",
    "answer_templates": "two languages per category",
    "settings": "one row per console setting",
    "figure_snapshots": "the dashboard's stored figures: one per period a supervisor viewed in the last day",
    "generated_reports": "the monthly reports kept for download: two a month, 24 a year",
    "stored_secrets": "one row per installation secret",
    "scheduler_leases": "one row: the scheduler's lease",
    "turn_leases": "one row per person being answered right now (deleted when done; expired ones swept)",
    "api_tokens": "made by hand with `carecenter token create`: a few per integration",
    "incidents": "developer-team incidents: a few a month, and their page shows the newest 200",
    "live_events": "console live events in transit, pruned to the last few minutes (handoff.relay)",
    "tortoise_migrations": "one row per migration",
}


@dataclass(frozen=True, slots=True)
class Allowed:
    """A full walk of a growing table that one statement needs, with the reason it stays cheap."""

    table: str
    statement: re.Pattern[str]
    reason: str


ALLOWED: tuple[Allowed, ...] = (
    Allowed(
        "inbox",
        re.compile(r'^DELETE FROM "inbox" WHERE "stored_at"<'),
        "the scheduler's prune: the receipts it reads are the ones it deletes, so the inbox keeps a week",
    ),
    Allowed(
        "tickets",
        re.compile(r'^SELECT [^;]* FROM "tickets" WHERE "opened_at">=(?:\?|\$\d+) ORDER BY "id" DESC LIMIT'),
        "the API's since= page, newest first: the walk from the newest ticket stops once it has as many as it "
        "counted just before (handoff.api), and the tickets opened since a moment are the newest ones",
    ),
    Allowed(
        "tickets",
        re.compile(r'^SELECT COUNT\(\*\) FROM "tickets"$'),
        "the API's list promises the total of what its filters match; with no filter that is every ticket, "
        "counted from the smallest index",
    ),
)


EXPLAINED = re.compile(r"^\s*(SELECT|UPDATE|DELETE|WITH)\b", re.IGNORECASE)
TABLE_NAME = re.compile(r'(?:FROM|JOIN|UPDATE)\s+"(\w+)"(?:\s+(?:AS\s+)?"(\w+)")?', re.IGNORECASE)


def aliases(sql: str) -> dict[str, str]:
    """Alias (or table name) -> table, for the names the planner prints."""
    found: dict[str, str] = {}
    for table, alias in TABLE_NAME.findall(sql):
        found[table] = table
        if alias:
            found[alias] = table
    return found


def growing(table: str) -> bool:
    return table not in SMALL_TABLES


# A page of one table in primary-key order with no filter at all (the newest 300 audit entries): the walk
# stops after LIMIT (+ OFFSET) rows, however large the table.
UNFILTERED_PAGE = re.compile(
    r'^SELECT [^;]* FROM "(\w+)" ORDER BY "(?:\1"\.")?id" (?:ASC|DESC) LIMIT \S+(?: OFFSET \S+)?$'
)


def allowed(table: str, sql: str) -> bool:
    page = UNFILTERED_PAGE.match(sql)
    if page is not None and page.group(1) == table:
        return True
    return any(a.table == table and a.statement.search(sql) for a in ALLOWED)


def explained(sql: str) -> bool:
    # ``WHERE 1=0`` is what Tortoise writes for an empty ``__in`` list: the engine reads no row at all.
    return EXPLAINED.match(sql) is not None and " WHERE 1=0" not in sql


SQLITE_STEP = re.compile(r"^(SCAN|SEARCH) (\w+)(.*)$")
UNBOUNDED = re.compile(r"^\(*\w+\)*(?:::[\w ]+)? ?(?:<=? ?|IS NOT NULL$)")


def reaches_back(terms: list[str]) -> bool:
    """Only upper bounds (``due_at <= now``: every row older than a moment, all of history in time) or
    ``IS NOT NULL`` (PostgreSQL's MIN(id): the primary key walked from its start until a row matches)."""
    return bool(terms) and all(UNBOUNDED.match(term.strip("() ")) for term in terms)


def sqlite_full_scans(connection: sqlite3.Connection, statement: Statement) -> list[str]:
    rows = connection.execute(f"EXPLAIN QUERY PLAN {statement.sql}", statement.values).fetchall()
    names = aliases(statement.sql)
    scans = []
    for _id, _parent, _unused, detail in rows:
        found = SQLITE_STEP.match(detail)
        if found is None or found.group(2) not in names:  # SCAN CONSTANT ROW, a subquery's result...
            continue
        step, name, rest = found.groups()
        table = names[name]
        if not growing(table) or allowed(table, statement.sql):
            continue
        constraints = re.search(r"\((.*)\)$", rest)
        # A SEARCH without USING walks the table in rowid order until a row matches (SQLite's min/max
        # optimisation: MIN(id) WHERE opened_at >= ? started at the oldest ticket); an AUTOMATIC index is
        # built from the whole table for each run.
        whole = step == "SCAN" or " USING " not in rest or "AUTOMATIC" in rest
        if whole or reaches_back(constraints.group(1).split(" AND ") if constraints else []):
            scans.append(f"{table}: {detail}")
    return scans


def postgres_nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from postgres_nodes(child)


def postgres_conditions(node: dict[str, Any]) -> list[str | None]:
    """The index conditions a scan node reads by; None for an index it walks whole."""
    kind = node["Node Type"]
    if kind in ("Index Scan", "Index Only Scan"):
        return [node.get("Index Cond")]
    if kind == "Bitmap Heap Scan":  # its bitmap index scans (under BitmapAnd / BitmapOr too)
        return [n.get("Index Cond") for n in postgres_nodes(node) if n["Node Type"] == "Bitmap Index Scan"]
    if kind == "Seq Scan":
        return [None]
    return []  # not a scan: ModifyTable names the table an UPDATE writes, its scan is a child node


async def postgres_full_scans(connection: asyncpg.Connection, statement: Statement) -> list[str]:
    raw = await connection.fetchval(f"EXPLAIN (FORMAT JSON) {statement.sql}", *statement.values)
    plan = (json.loads(raw) if isinstance(raw, str) else raw)[0]["Plan"]
    scans = []
    for node in postgres_nodes(plan):
        table = node.get("Relation Name")
        if table is None or not growing(table) or allowed(table, statement.sql):
            continue
        conditions = postgres_conditions(node)
        if any(c is None or reaches_back(c.split(") AND (")) for c in conditions):
            scans.append(f"{table}: {node['Node Type']} {' / '.join(c or 'whole' for c in conditions)}"
                         f"{' filter ' + node['Filter'] if 'Filter' in node else ''}")
    return scans


async def full_scans(db_url: str, statements: Sequence[Statement]) -> list[str]:
    """Every full scan of a growing table, one line each: the path, the scan, the statement."""
    problems: list[str] = []
    checked = [s for s in statements if explained(s.sql)]
    if db_url.startswith("sqlite://"):
        connection = sqlite3.connect(db_url.removeprefix("sqlite://"))
        try:
            for statement in checked:
                problems += [f"[{statement.path}] {scan}\n    {statement.sql}"
                             for scan in sqlite_full_scans(connection, statement)]
        finally:
            connection.close()
        return problems
    pg = await asyncpg.connect(db_url.replace("postgres://", "postgresql://", 1))
    try:
        await pg.execute("SET enable_seqscan = off")
        for statement in checked:
            problems += [f"[{statement.path}] {scan}\n    {statement.sql}"
                         for scan in await postgres_full_scans(pg, statement)]
    finally:
        await pg.close()
    return problems


async def without_statistics(db_url: str) -> None:
    """No ANALYZE by autovacuum while the test runs: the plans must not change with its timing."""
    if db_url.startswith("sqlite://"):
        return
    pg = await asyncpg.connect(db_url.replace("postgres://", "postgresql://", 1))
    try:
        for table in await pg.fetch("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"):
            await pg.execute(f'ALTER TABLE "{table[0]}" SET (autovacuum_enabled = false)')
    finally:
        await pg.close()


async def test_no_hot_query_reads_a_growing_table_whole(db_url: str, tmp_path: Path, fake_twilio: FakeTwilio) -> None:
    await without_statistics(db_url)
    with recording() as recorder:
        async with product(settings_for(fake_twilio, db_url, tmp_path)) as client:
            await seed_history(db_url, conversations=HISTORY, now=datetime.now(UTC))
            await drive_hot_paths(client, fake_twilio, recorder)
    statements = list(recorder.seen.values())
    assert len({s.path for s in statements}) >= 10  # every path ran and was recorded
    problems = await full_scans(db_url, statements)
    assert problems == [], "full scans of growing tables:\n" + "\n".join(problems)


def engine_sql(db_url: str, sql: str) -> str:
    """``?`` placeholders as PostgreSQL numbers them."""
    if db_url.startswith("sqlite://"):
        return sql
    parts = sql.split("?")
    return "".join(f"{part}${n}" for n, part in enumerate(parts[:-1], 1)) + parts[-1]


@pytest.mark.parametrize(
    ("sql", "values", "reads_whole"),
    [
        ('SELECT "id" FROM "messages" WHERE "text"=?', ("halo",), True),
        ('SELECT "id" FROM "messages" WHERE "conversation_id"=? ORDER BY "id" DESC LIMIT ?', (1, 20), False),
        ('SELECT "id" FROM "tickets" WHERE "due_at"<=?', (datetime(2026, 11, 24, tzinfo=UTC),), True),
        ('SELECT "id" FROM "tickets" WHERE "opened_at">=?', (datetime(2026, 11, 24, tzinfo=UTC),), False),
        ('SELECT "id" FROM "tickets" WHERE NOT "status"=?', ("resolved",), True),
        ('SELECT "id" FROM "tickets" WHERE "status" IN (?,?)', ("open", "pending"), False),
        ('SELECT "id" FROM "audit_log" ORDER BY "id" DESC LIMIT ?', (300,), False),
        ('SELECT "id" FROM "categories" WHERE "name_id"=?', ("Nilai",), False),
        ('SELECT MIN("id") FROM "tickets" WHERE "survey_comment"=?', ("x",), True),
    ],
    ids=["unindexed-column", "conversation-page", "everything-before", "since", "not-resolved", "unresolved",
         "newest-page", "small-table", "min-walk"],
)
async def test_the_check_tells_a_full_read_from_an_index_search(
    db_url: str, sql: str, values: tuple[Any, ...], reads_whole: bool
) -> None:
    await without_statistics(db_url)
    problems = await full_scans(db_url, [Statement(engine_sql(db_url, sql), values, "check")])
    assert bool(problems) is reads_whole, problems

