"""The little SQL the reports need that SQLite and PostgreSQL spell differently, and one way to run it.

Figures are aggregated on the database (GROUP BY, window functions), never by loading rows into Python.
Every datetime parameter goes through ``Sql.moment``: converted to UTC, and on SQLite written as the text
Tortoise stores (SQLite compares datetimes as text, so a ``+07:00`` value would compare wrongly).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from models import Ticket

# Local days are counted from quarter-hour buckets of UTC time: every time zone in use today is a whole
# number of quarter hours from UTC, so a bucket never straddles a local midnight, and the mapping to
# local days (daylight saving included) is done once per bucket in Python with zoneinfo.
BUCKET_SECONDS = 900


def connection() -> BaseDBAsyncClient:
    return Ticket._meta.db


def is_sqlite(db: BaseDBAsyncClient) -> bool:
    return db.capabilities.dialect == "sqlite"


@dataclass(slots=True)
class Sql:
    """Collects the parameters of one statement in the placeholder style of its database."""

    db: BaseDBAsyncClient = field(default_factory=connection)
    values: list[Any] = field(default_factory=list)

    @property
    def sqlite(self) -> bool:
        return is_sqlite(self.db)

    def __call__(self, value: Any) -> str:
        # Numbered on both engines (SQLite's ?NNN), so a placeholder may be used twice in one statement.
        self.values.append(value)
        return f"?{len(self.values)}" if self.sqlite else f"${len(self.values)}"

    def moment(self, value: datetime) -> str:
        utc = value.astimezone(UTC)
        return self(str(utc) if self.sqlite else utc)

    def epoch(self, column: str) -> str:
        """Whole seconds since 1970 (truncated) of a datetime column, as an integer."""
        if self.sqlite:
            # unixepoch (SQLite 3.38) gives the same integer as strftime('%s') without the text in between:
            # a month's durations and buckets are read several times a page, and that cost was a third of it.
            if sqlite3.sqlite_version_info >= (3, 38):
                return f"unixepoch({column})"
            return f"CAST(strftime('%s', {column}) AS INTEGER)"
        return f"CAST(FLOOR(EXTRACT(EPOCH FROM {column})) AS BIGINT)"

    def seconds_between(self, start: str, end: str) -> str:
        return f"({self.epoch(end)} - {self.epoch(start)})"

    def bucket(self, column: str) -> str:
        return f"({self.epoch(column)} / {BUCKET_SECONDS})"

    async def rows(self, statement: str) -> list[dict[str, Any]]:
        return list(await self.db.execute_query_dict(statement, self.values))


async def query(build: Any) -> list[dict[str, Any]]:
    """``build(sql)`` returns the statement, taking its parameters through ``sql``."""
    sql = Sql()
    return await sql.rows(build(sql))


def percentile_ranks(percents: Sequence[int]) -> str:
    """The condition keeping, per group, the two ordered rows each percentile lies between (rn, n from
    ``percentile_source``); integer arithmetic, so both databases pick the same rows."""
    return " OR ".join(f"s.rn = ((s.n - 1) * {p}) / 100 + {k}" for p in percents for k in (1, 2))


def interpolate(ordered: dict[int, float], n: int, percent: int) -> float | None:
    """Linear interpolation between the closest ranks (PostgreSQL's percentile_cont, Excel's
    PERCENTILE.INC): ``ordered`` maps 1-based ranks to values and holds at least the two needed."""
    if n == 0:
        return None
    low = ((n - 1) * percent) // 100 + 1
    fraction = ((n - 1) * percent % 100) / 100
    value = ordered[low]
    if fraction:
        value += fraction * (ordered[low + 1] - value)
    return float(value)
