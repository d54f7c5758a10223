"""Ticket exports (the SOP's step 10): one row per ticket opened in a period, as CSV or XLSX, streamed.

Memory stays flat whatever the number of tickets: rows come from the database in keyset-paginated
batches (``id > last ORDER BY id LIMIT n``, on the primary key), CSV leaves chunk by chunk and XLSX is
written into its zip as it comes (handoff.xlsx_stream). Whether a ticket's category is confirmed
is a fact of the ticket row (handoff.categorization), read with the rest of it.

Cells a spreadsheet would run as a formula are neutralised (OWASP "CSV injection"), and personal-data
columns can be masked.
"""

from __future__ import annotations

import asyncio
import csv
import functools
import io
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import IO, Any

from handoff.categorization import confirmed_sql
from handoff.reports.figures import outcome_sql, targets
from handoff.reports.period import Period
from handoff.reports.sql import Sql
from handoff.reports.text import ReportText, report_text
from handoff.ticket_search import TicketSearch, conditions
from handoff.xlsx_stream import SheetWriter, TextCell, Value
from models import Category, Team, User

BATCH = 1000
MASK = "*"


class ExportFormat(StrEnum):
    CSV = "csv"
    XLSX = "xlsx"


# The columns, in order; the SLA outcomes follow "status", one per target (handoff.reports.figures.targets).
BEFORE_SLA = ("number", "opened_at", "first_response_at", "resolved_at", "channel", "contact_name", "id_number",
              "email", "phone", "category", "category_confirmed", "predicted_category", "agent", "team", "status")
AFTER_SLA = ("escalated", "incident", "rating", "comment")
PERSONAL = frozenset({"contact_name", "id_number", "email", "phone"})
TIMES = frozenset({"opened_at", "first_response_at", "resolved_at"})

Cell = str | int | datetime | None


def columns() -> tuple[str, ...]:
    return (*BEFORE_SLA, *(f"sla_{t.name}" for t in targets()), *AFTER_SLA)


# Spreadsheet formula neutralisation (OWASP, "CSV Injection"): a cell beginning with one of these runs
# as a formula in Excel, LibreOffice or Google Sheets. Some importers drop leading spaces and quotes first,
# so what follows those counts too; fullwidth forms are folded to ASCII by some of them.
FORMULA_STARTS = frozenset("=+-@＝＋－＠")
CONTROL_STARTS = frozenset("\t\r")
_SKIPPED = " \t\r\n\x0b\x0c\u00a0\u3000'\"`‘’“”"
# A cell whose first character is none of these cannot be formula-like: the common case, decided without
# stripping (an export asks this of every text cell, over a million times for 100,000 tickets).
_SUSPECT_FIRST = FORMULA_STARTS | CONTROL_STARTS | frozenset(_SKIPPED)


def formula_like(value: str) -> bool:
    if value[:1] not in _SUSPECT_FIRST:
        return False
    if value[:1] in CONTROL_STARTS:
        return True
    return value.lstrip(_SKIPPED)[:1] in FORMULA_STARTS


def neutralise(value: str) -> str:
    """CSV: a leading single quote makes the spreadsheet read the cell as text (OWASP's advice)."""
    return "'" + value if formula_like(value) else value


def mask_name(name: str) -> str:
    """Initials only: "Budi Santoso" -> "B. S."."""
    return " ".join(f"{word[0].upper()}." for word in name.split())


def mask_id_number(value: str) -> str:
    """NIM/NIP with the middle digits hidden: the first three (programme, or birth year) and the last two stay."""
    if len(value) <= 5:
        return MASK * len(value)
    return value[:3] + MASK * (len(value) - 5) + value[-2:]


def mask_email(value: str) -> str:
    local, at, domain = value.partition("@")
    if not at:
        return MASK * len(value)
    return (local[:1] + MASK * 3) + "@" + domain


def mask_phone(value: str) -> str:
    if len(value) <= 6:
        return MASK * len(value)
    return value[:3] + MASK * (len(value) - 6) + value[-3:]


MASKS: dict[str, Callable[[str], str]] = {
    "contact_name": mask_name, "id_number": mask_id_number, "email": mask_email, "phone": mask_phone,
}


@dataclass(frozen=True, slots=True)
class ExportRequest:
    period: Period
    now: datetime
    mask: bool = False
    lang: str = "id"
    # The supervisor page's filters and search (handoff.ticket_search); its period must be ``period``.
    search: TicketSearch | None = None


def header(request: ExportRequest) -> list[str]:
    text = report_text(request.lang)
    zone = datetime.now(request.period.tz).tzname() or str(request.period.tz)
    return [text(f"column.{name}", tz=zone) for name in columns()]


def _moment(value: Any) -> datetime | None:
    """SQLite hands datetimes back as the UTC text Tortoise stored, PostgreSQL as aware datetimes."""
    if value is None or isinstance(value, datetime):
        return value
    moment = datetime.fromisoformat(str(value))
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _cohort(sql: Sql, period: Period) -> str:
    return f"t.opened_at >= {sql.moment(period.start_utc)} AND t.opened_at < {sql.moment(period.end_utc)}"


@dataclass(frozen=True, slots=True)
class _Names:
    categories: dict[Any, dict[str, Any]]
    by_slug: dict[str, dict[str, Any]]
    users: dict[Any, str]
    teams: dict[Any, str]

    @classmethod
    async def load(cls) -> _Names:
        # Small tables (dozens to hundreds of rows), read once rather than joined into every batch.
        categories = {c["id"]: c for c in await Category.all().values("id", "slug", "name_id", "name_en")}
        return cls(
            categories=categories,
            by_slug={str(c["slug"]): c for c in categories.values()},
            users={u["id"]: str(u["name"] or u["email"]) for u in await User.all().values("id", "name", "email")},
            teams={t["id"]: str(t["name"]) for t in await Team.all().values("id", "name")},
        )

    def category(self, row: dict[str, Any] | None, lang: str) -> str | None:
        if row is None:
            return None
        return str(row["name_en"] if lang == "en" else row["name_id"])


async def ticket_batches(request: ExportRequest) -> AsyncIterator[list[list[Cell]]]:
    """The export's rows, ``BATCH`` at a time, in ticket order."""
    sql = Sql()
    bounds = await sql.rows(
        f"SELECT MIN(t.id) AS low, MAX(t.id) AS high FROM tickets t WHERE {_cohort(sql, request.period)}"
    )
    if not bounds or bounds[0]["low"] is None:
        return
    low, high = int(bounds[0]["low"]), int(bounds[0]["high"])
    shape = _Shape(request, report_text(request.lang), await _Names.load())
    filtered = await conditions(request.search, now=request.now) if request.search is not None else None
    last = low - 1
    while True:
        sql = Sql()
        outcomes = "".join(f", {outcome_sql(t, sql, alias='t', now=request.now)} AS sla_{t.name}" for t in targets())
        extra = "".join(f" AND {condition}" for condition in filtered(sql)) if filtered is not None else ""
        rows = await sql.rows(
            "SELECT t.id, t.number, t.opened_at, t.first_response_at, t.resolved_at, t.channel, t.status, "
            "t.category_id, t.predicted_category, t.assignee_id, t.team_id, t.escalated_at, t.incident_id, "
            f"t.survey_rating, t.survey_comment{outcomes}, "
            f"CASE WHEN {confirmed_sql('t')} THEN 1 ELSE 0 END AS category_confirmed, "
            "c.name AS contact_name, c.id_number, c.email, c.phone "
            "FROM tickets t JOIN contacts c ON c.id = t.contact_id "
            # The id bounds are written into the statement (integers we computed, not input). As parameters,
            # PostgreSQL's cached generic plan for the sixth batch on took the opened_at index and sorted the
            # period's rows for every batch (100,000 rows in 17 s instead of 4); each batch's own plan walks
            # the primary key.
            f"WHERE t.id > {int(last)} AND t.id <= {int(high)} AND {_cohort(sql, request.period)}{extra} "
            f"ORDER BY t.id LIMIT {BATCH}"
        )
        if rows:
            yield [_row(row, shape) for row in rows]
        if len(rows) < BATCH:
            return
        last = int(rows[-1]["id"])


class _Shape:
    """What every row of one export shares, worked out once rather than per row (at 100,000 rows a
    catalogue lookup or a column list per cell was most of the export's time): the columns, the targets,
    the time zone, and each catalogue text the cells use, looked up the first time it is needed."""

    def __init__(self, request: ExportRequest, text: ReportText, names: _Names) -> None:
        self.request = request
        self.names = names
        self.columns = columns()
        self.targets = tuple(t.name for t in targets())
        self.tz = request.period.tz
        self.label = functools.cache(text)  # a catalogue text by key, looked up once per export


def _row(row: dict[str, Any], shape: _Shape) -> list[Cell]:
    names, lang, label = shape.names, shape.request.lang, shape.label
    category = names.categories.get(row["category_id"])
    values: dict[str, Cell] = {
        "number": row["number"],
        "channel": label(f"channel.{row['channel']}"),
        "contact_name": row["contact_name"] or None,
        "id_number": row["id_number"],
        "email": row["email"],
        "phone": row["phone"],
        "category": names.category(category, lang),
        # Without a category there is nothing to confirm: the cell stays empty, like the category's.
        "category_confirmed": None if category is None else label("yes" if row["category_confirmed"] else "no"),
        "predicted_category": names.category(names.by_slug.get(row["predicted_category"] or ""), lang)
        or row["predicted_category"],
        "agent": names.users.get(row["assignee_id"]),
        "team": names.teams.get(row["team_id"]),
        "status": label(f"status.{row['status']}"),
        "escalated": label("yes") if row["escalated_at"] is not None else label("no"),
        "incident": int(row["incident_id"]) if row["incident_id"] is not None else None,
        "rating": int(row["survey_rating"]) if row["survey_rating"] is not None else None,
        "comment": row["survey_comment"],
    }
    for name in TIMES:
        moment = _moment(row[name])
        values[name] = moment.astimezone(shape.tz).replace(tzinfo=None) if moment else None
    for target in shape.targets:
        values[f"sla_{target}"] = label(f"outcome.{row[f'sla_{target}']}")
    if shape.request.mask:
        for name, mask in MASKS.items():
            value = values[name]
            values[name] = mask(value) if isinstance(value, str) and value else value
    return [values[name] for name in shape.columns]


def _csv_cell(value: Cell) -> str | int:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat(" ", "minutes")  # 2026-11-30 17:05: strftime's text at a third of its cost
    if isinstance(value, str):
        return neutralise(value)
    return value


async def csv_chunks(request: ExportRequest) -> AsyncIterator[bytes]:
    """UTF-8 with a byte-order mark (so Excel reads the names right), every field quoted (OWASP), one
    chunk per batch."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    writer.writerow(header(request))
    yield ("\ufeff" + buffer.getvalue()).encode()
    async for batch in ticket_batches(request):
        buffer.seek(0)
        buffer.truncate()
        writer.writerows([_csv_cell(v) for v in row] for row in batch)
        yield buffer.getvalue().encode()


def _xlsx_cell(value: Cell) -> Value:
    # Marked as text the way Excel's own leading apostrophe does: shown as written, never run, and still
    # text when someone edits it.
    return TextCell(value) if isinstance(value, str) and formula_like(value) else value


def _xlsx_rows(batch: list[list[Cell]]) -> list[list[Value]]:
    return [[_xlsx_cell(v) for v in row] for row in batch]


async def write_xlsx(request: ExportRequest, out: Path | IO[bytes]) -> int:
    """Returns how many tickets were written. Rows are turned into XML and compressed in a thread (CPU
    work), one batch at a time, so memory stays flat (handoff.xlsx_stream)."""
    sheet = await asyncio.to_thread(
        SheetWriter, out, name=report_text(request.lang)("label.tickets"), header=header(request)
    )
    written = 0
    # One batch is written (XML and compression, in a thread) while the next is read from the database:
    # at most two batches in memory, and the export takes about the longer of the two, not their sum.
    writing: asyncio.Future[None] | None = None
    try:
        async for batch in ticket_batches(request):
            rows = _xlsx_rows(batch)
            if writing is not None:
                await writing
            writing = asyncio.ensure_future(asyncio.to_thread(sheet.write_rows, rows))
            written += len(batch)
        if writing is not None:
            await writing
    finally:
        if writing is not None and not writing.done():
            await asyncio.wait([writing])  # never close the file under a write still running
        await asyncio.to_thread(sheet.close)
    return written


async def write_csv(request: ExportRequest, out: IO[bytes]) -> None:
    async for chunk in csv_chunks(request):
        out.write(chunk)
