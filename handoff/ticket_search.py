"""The supervisor's list of every ticket of a period (SOP step 9, "nothing falls through"): filters, search,
keyset pages and the counts of the exceptions, shared by the console's page, its export download and the API.

A query string is read once, here (``parse_search``), into a frozen ``TicketSearch``; a value that cannot be
used raises ``SearchError`` naming a console catalogue key, which the page shows as a sentence and the API
as a 400 problem. Nothing else reads these parameters.

Bounded work, whatever is asked:
- every query is limited to the tickets *opened* in the period (the ``opened_at`` index), and a period is
  at most ``MAX_PERIOD_DAYS`` long;
- pages are keyset pages, newest opened first (``before``: the last ticket id of the previous page),
  at most ``MAX_PAGE`` rows, so page 400 costs what page 1 does (an OFFSET would read every row before it);
- totals are counted up to ``COUNT_CAP`` and shown as "10000+" beyond;
- search: a ticket number or a NIM/NIP/staff number is an equality on a unique column; any other text
  (3 to ``MAX_QUERY`` characters, wildcards escaped) is a LIKE over the contact's name and over the
  messages of the period's tickets' conversations, one at a time through the messages'
  ``(conversation_id, id)`` index.
  No full-text index (FTS5, pg_trgm): the period bounds the rows read, a text search is allowed on at most
  ``MAX_TEXT_DAYS`` days (a month) and reads only what people wrote, and it is not counted apart.

The SLA outcome of an open ticket (on track, at risk, past target) is ``handoff.sla.evaluate``'s: past target
is its rule written as SQL (``handoff.sla.breached_sql``), so a year's backlog, nearly all past due, is
filtered and counted by the database; only the unresolved tickets not yet due are fetched and evaluated.
A closed ticket's outcome is the reports' (``handoff.reports.figures.outcome_sql``), the same the export
writes.

The API's ``GET /api/v1/tickets`` reads its query with ``parse_search`` too (``since`` may also be a moment,
``opened_from``), and narrows the search to what its token may see (``search_tickets(visible=...)``).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from handoff.categorization import confirmed_sql
from handoff.reports.figures import DISSATISFIED_UP_TO, RATINGS, ConversationOutcome, Outcome, conversation_outcomes
from handoff.reports.figures import outcome_sql as report_outcome_sql
from handoff.reports.figures import targets as report_targets
from handoff.reports.period import Period
from handoff.reports.sql import Sql
from handoff.sla import SlaState, breached_sql, evaluate
from handoff.webinput import ascii_int
from models import UNRESOLVED, Category, ChannelKind, Direction, Team, Ticket, TicketStatus, User

DEFAULT_DAYS = 30
MAX_PERIOD_DAYS = 366
MAX_TEXT_DAYS = 31
DEFAULT_PAGE = 50
MAX_PAGE = 100
COUNT_CAP = 10_000
MIN_QUERY = 3
MAX_QUERY = 100
# A ticket nobody has taken this long after it opened has fallen through the assignment.
UNASSIGNED_AFTER = timedelta(minutes=30)
# Tickets never reopen here (a message after closing opens a new ticket): "reopened" is the same person
# opening another ticket within a week of this one being closed, i.e. the answer did not hold.
REOPEN_WINDOW = timedelta(days=7)

PARAMETERS = frozenset({"since", "until", "status", "category", "confirmed", "agent", "team", "channel", "sla",
                        "rating", "q", "exception", "before", "limit"})
NONE = "none"  # category=none, agent=none, team=none: tickets without one
_NUMBER = re.compile(r"(?i)cc-[\d-]{1,24}")  # CC-2611-000042 (handoff.tickets.format_number)
_DIGITS = re.compile(r"\d{1,32}")


class SlaFilter(StrEnum):
    """Met and missed are closed tickets' outcomes; the rest are ``handoff.sla.evaluate``'s open states."""

    MET = "met"
    MISSED = "missed"
    ON_TRACK = "on_track"
    AT_RISK = "at_risk"
    BREACHED = "breached"


class Flag(StrEnum):
    """The exceptions counted at the top of the page; each is also a filter (``exception=``)."""

    UNASSIGNED = "unassigned"
    SLA_RISK = "sla_risk"  # open and at risk or past target
    UNCONFIRMED_CLOSED = "unconfirmed_closed"
    REOPENED = "reopened"
    LOW_RATING = "low_rating"
    ESCALATION_UNANSWERED = "escalation_unanswered"


class SearchError(ValueError):
    """A parameter that cannot be used; ``key`` names the console catalogue's sentence."""

    def __init__(self, key: str, **values: object) -> None:
        super().__init__(key)
        self.key = key
        self.values = values


@dataclass(frozen=True, slots=True)
class TicketSearch:
    period: Period
    status: TicketStatus | None = None
    category: int | str | None = None  # a category id, or NONE
    confirmed: bool | None = None
    agent: int | str | None = None  # a user id, or NONE
    team: int | str | None = None  # a team id, or NONE
    channel: ChannelKind | None = None
    sla: SlaFilter | None = None
    rating: int | None = None
    q: str = ""
    exception: Flag | None = None
    before: int | None = None
    limit: int = DEFAULT_PAGE
    # ``since`` given as a moment (the API's since=2026-11-01T08:00:00+07:00): the tickets opened from it on;
    # the period then starts on its local day.
    opened_from: datetime | None = None

    def query_string(self, **changes: Any) -> dict[str, str]:
        """The parameters that give this search back (``changes`` replaced), for links and the export."""
        since = self.opened_from.isoformat() if self.opened_from is not None else self.period.start.isoformat()
        values = {
            "since": since, "until": self.period.end.isoformat(),
            "status": self.status, "category": self.category, "confirmed": _yes_no(self.confirmed),
            "agent": self.agent, "team": self.team, "channel": self.channel, "sla": self.sla, "rating": self.rating,
            "q": self.q, "exception": self.exception, "before": self.before,
            "limit": self.limit if self.limit != DEFAULT_PAGE else None,
        }
        values.update(changes)
        return {k: str(v) for k, v in values.items() if v is not None and v != ""}


def _yes_no(value: bool | None) -> str | None:
    return None if value is None else ("yes" if value else "no")


def default_period(*, now: datetime, tz: ZoneInfo) -> Period:
    """The last ``DEFAULT_DAYS`` local days, today included."""
    today = now.astimezone(tz).date()
    return Period(today - timedelta(days=DEFAULT_DAYS - 1), today + timedelta(days=1), tz)


def _day(raw: str, name: str) -> date:
    try:
        return date.fromisoformat(raw.strip())
    except ValueError:
        raise SearchError("search_error_date", name=name) from None


E = TypeVar("E", bound=StrEnum)


def _choice(raw: str | None, enum: type[E], name: str) -> E | None:
    if raw is None or raw == "":
        return None
    try:
        return enum(raw)
    except ValueError:
        raise SearchError("search_error_choice", name=name, choices=", ".join(e.value for e in enum)) from None


def _ref(raw: str | None, name: str) -> int | str | None:
    """A row id, or NONE."""
    if raw is None or raw == "":
        return None
    if raw == NONE:
        return NONE
    value = ascii_int(raw, low=1, high=2**31 - 1)
    if value is None:
        raise SearchError("search_error_id", name=name)
    return value


def _since(raw: str, tz: ZoneInfo) -> tuple[date, datetime | None]:
    """A local day, or a moment (ISO 8601; without an offset, UTC) and the local day it falls on."""
    try:
        return date.fromisoformat(raw.strip()), None
    except ValueError:
        pass
    try:
        # A "+" left unencoded in a query string arrives as a space.
        moment = datetime.fromisoformat(raw.strip().replace("Z", "+00:00").replace(" ", "+"))
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        moment = moment.astimezone(UTC)
        return moment.astimezone(tz).date(), moment
    except (ValueError, OverflowError):  # OverflowError: year 1 at +14:00, no instant a database holds
        raise SearchError("search_error_since") from None


def parse_search(query: Mapping[str, str], *, now: datetime, tz: ZoneInfo,
                 known: frozenset[str] = PARAMETERS, max_limit: int = MAX_PAGE) -> TicketSearch:
    """The search a query string asks for. Unknown parameters are refused (a typo must not look filtered).
    ``max_limit``: the largest page (the API's pages are larger than the console's)."""
    unknown = sorted(set(query) - known)
    if unknown:
        raise SearchError("search_error_unknown", names=", ".join(unknown)[:200])
    period = default_period(now=now, tz=tz)
    # Absent: the default period; present, even empty (a cleared date field), it must be a date or a moment.
    since, opened_from = _since(query["since"], tz) if "since" in query else (period.start, None)
    until = _day(query["until"], "until") if "until" in query else period.end
    if until <= since:
        raise SearchError("search_error_order")
    if (until - since).days > MAX_PERIOD_DAYS:
        raise SearchError("search_error_long", days=MAX_PERIOD_DAYS)
    confirmed_raw = query.get("confirmed") or ""
    if confirmed_raw not in ("", "yes", "no"):
        raise SearchError("search_error_choice", name="confirmed", choices="yes, no")
    rating = None
    if query.get("rating"):
        rating = ascii_int(query["rating"], low=min(RATINGS), high=max(RATINGS))
        if rating is None:
            raise SearchError("search_error_rating", low=min(RATINGS), high=max(RATINGS))
    limit = DEFAULT_PAGE
    if query.get("limit"):
        limit = ascii_int(query["limit"], low=1, high=max_limit) or 0
        if not limit:
            raise SearchError("search_error_limit", high=max_limit)
    before = None
    if query.get("before"):
        before = ascii_int(query["before"], low=1, high=2**31 - 1)
        if before is None:
            raise SearchError("search_error_id", name="before")
    text = " ".join((query.get("q") or "").split())
    if len(text) > MAX_QUERY:
        raise SearchError("search_error_query_long", high=MAX_QUERY)
    search = TicketSearch(
        period=Period(since, until, tz),
        status=_choice(query.get("status"), TicketStatus, "status"),
        category=_ref(query.get("category"), "category"),
        confirmed=None if not confirmed_raw else confirmed_raw == "yes",
        agent=_ref(query.get("agent"), "agent"),
        team=_ref(query.get("team"), "team"),
        channel=_choice(query.get("channel"), ChannelKind, "channel"),
        sla=_choice(query.get("sla"), SlaFilter, "sla"),
        rating=rating,
        q=text,
        exception=_choice(query.get("exception"), Flag, "exception"),
        before=before,
        limit=limit,
        opened_from=opened_from,
    )
    if _text_term(text) is not None:
        if len(text) < MIN_QUERY:
            raise SearchError("search_error_query_short", low=MIN_QUERY)
        if (until - since).days > MAX_TEXT_DAYS:
            raise SearchError("search_error_text_long", days=MAX_TEXT_DAYS)
    return search


def _text_term(q: str) -> str | None:
    """The text to look for with LIKE, or None when ``q`` is empty, a ticket number or an identity number."""
    if not q or _NUMBER.fullmatch(q) or _DIGITS.fullmatch(q):
        return None
    return q


def _like(sql: Sql, text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"{sql('%' + escaped.lower() + '%')} ESCAPE '\\'"


@dataclass(frozen=True, slots=True)
class _Open:
    """``handoff.sla.evaluate``'s state of the period's unresolved tickets that are not yet due (at risk or
    on track); those past due are ``handoff.sla.breached_sql``'s, which the database answers itself."""

    states: dict[int, SlaState] = field(default_factory=dict)

    def ids(self, *wanted: SlaState) -> list[int]:
        return sorted(i for i, s in self.states.items() if s in wanted)


@dataclass(frozen=True, slots=True)
class _Clock:
    """A ticket as far as ``handoff.sla.evaluate`` reads it (``sla.Timed``), without loading the model."""

    opened_at: datetime
    due_at: datetime
    resolved_at: datetime | None


def _needs_states(search: TicketSearch) -> bool:
    return search.exception == Flag.SLA_RISK or search.sla in (SlaFilter.ON_TRACK, SlaFilter.AT_RISK)


def _unresolved(sql: Sql) -> str:
    return f"t.status IN ({', '.join(sql(s.value) for s in UNRESOLVED)})"


async def _open_states(period: Period, now: datetime) -> _Open:
    """``evaluate``'s state of the period's unresolved tickets not yet due. Only those are fetched, and only
    the columns it reads: a year's backlog can be thousands of tickets, nearly all of them past due."""
    sql = Sql()
    rows = await sql.rows(
        f"SELECT t.id, t.opened_at, t.due_at FROM tickets t WHERE {_unresolved(sql)} "
        f"AND t.opened_at >= {sql.moment(period.start_utc)} AND t.opened_at < {sql.moment(period.end_utc)} "
        f"AND NOT {breached_sql('t', sql.moment(now))}")
    return _Open({int(r["id"]): evaluate(_Clock(_moment(r["opened_at"]) or now, _moment(r["due_at"]) or now, None),
                                         now).state for r in rows})


def _in_state(sql: Sql, state: SlaState, *, now: datetime, open_states: _Open) -> str:
    if state == SlaState.BREACHED:
        return f"({_unresolved(sql)} AND {breached_sql('t', sql.moment(now))})"
    return _ids(sql, open_states.ids(state))


def _ids(sql: Sql, ids: list[int]) -> str:
    if not ids:
        return "1 = 0"
    # Integers we computed, not input: inlined, as one placeholder each could pass SQLite's limit.
    return f"t.id IN ({', '.join(str(int(i)) for i in ids)})"


def exception_sql(kind: Flag, sql: Sql, *, now: datetime, open_states: _Open, opened_from: datetime) -> str:
    """Each exception's rule, as a condition on the ``tickets`` row ``t``: the counts and the filter share it.
    ``opened_from`` is the lower bound the statement puts on ``t.opened_at``."""
    if kind == Flag.UNASSIGNED:
        unresolved = ", ".join(sql(s.value) for s in UNRESOLVED)
        return (f"(t.status IN ({unresolved}) AND t.assignee_id IS NULL "
                f"AND t.opened_at <= {sql.moment(now - UNASSIGNED_AFTER)})")
    if kind == Flag.SLA_RISK:
        return (f"({_in_state(sql, SlaState.BREACHED, now=now, open_states=open_states)} "
                f"OR {_in_state(sql, SlaState.AT_RISK, now=now, open_states=open_states)})")
    if kind == Flag.UNCONFIRMED_CLOSED:
        return f"(t.status = {sql(TicketStatus.RESOLVED.value)} AND NOT {confirmed_sql('t')})"
    if kind == Flag.REOPENED:
        gap = sql.seconds_between("t.resolved_at", "n.opened_at")
        # The later ticket opened after t was resolved, so after t opened: bounding it by the statement's own
        # lower bound changes no answer, and lets PostgreSQL hash only the tickets since then instead of
        # every ticket ever (a month of 100,000: 45 to 18 ms).
        return (f"(t.resolved_at IS NOT NULL AND EXISTS (SELECT 1 FROM tickets n WHERE n.contact_id = t.contact_id "
                f"AND n.id > t.id AND n.opened_at >= t.resolved_at AND n.opened_at >= {sql.moment(opened_from)} "
                f"AND {gap} <= {int(REOPEN_WINDOW.total_seconds())}))")
    if kind == Flag.LOW_RATING:
        return f"(t.survey_rating IS NOT NULL AND t.survey_rating <= {sql(DISSATISFIED_UP_TO)})"
    return f"t.status = {sql(TicketStatus.ESCALATED.value)}"  # the developers have not reported a fix yet


def _where(search: TicketSearch, sql: Sql, *, now: datetime, open_states: _Open) -> list[str]:
    opened_from = search.opened_from or search.period.start_utc  # also exception_sql's bound
    where = [f"t.opened_at >= {sql.moment(opened_from)}",
             f"t.opened_at < {sql.moment(search.period.end_utc)}"]
    if search.status is not None:
        where.append(f"t.status = {sql(search.status.value)}")
    for column, value in (("category_id", search.category), ("assignee_id", search.agent),
                          ("team_id", search.team)):
        if value == NONE:
            where.append(f"t.{column} IS NULL")
        elif value is not None:
            where.append(f"t.{column} = {sql(value)}")
    if search.confirmed is not None:
        where.append(confirmed_sql("t") if search.confirmed else f"NOT {confirmed_sql('t')}")
    if search.channel is not None:
        where.append(f"t.channel = {sql(search.channel.value)}")
    if search.rating is not None:
        where.append(f"t.survey_rating = {sql(search.rating)}")
    if search.sla in (SlaFilter.MET, SlaFilter.MISSED):
        resolution = report_targets()[0]
        outcome = report_outcome_sql(resolution, sql, alias="t", now=now)
        where.append(f"t.resolved_at IS NOT NULL AND {outcome} = {sql(Outcome(search.sla.value).value)}")
    elif search.sla is not None:
        where.append(_in_state(sql, SlaState(search.sla.value), now=now, open_states=open_states))
    if search.exception is not None:
        where.append(exception_sql(search.exception, sql, now=now, open_states=open_states, opened_from=opened_from))
    if search.q:
        where.append(_search_sql(search.q, sql))
    return where


def _search_sql(q: str, sql: Sql) -> str:
    if _NUMBER.fullmatch(q):
        return f"t.number = {sql(q.upper())}"  # unique
    if _DIGITS.fullmatch(q):
        # A NIM/NIP/staff number (contacts.id_number is unique), or a ticket's id (the end of its number).
        # The contact is looked up first (its unique index) rather than compared on every joined row.
        ticket_id = ascii_int(q, low=1, high=2**31 - 1)
        by_id = f" OR t.id = {sql(ticket_id)}" if ticket_id is not None else ""
        return f"(t.contact_id IN (SELECT k.id FROM contacts k WHERE k.id_number = {sql(q)}){by_id})"
    # LOWER on both sides: PostgreSQL's LIKE is case-sensitive, SQLite's only for non-ASCII letters.
    pattern = _like(sql, q)
    # What the person wrote in the ticket's conversation (the question before the hand-off has no
    # ticket_id); our own replies are not searched, which halves the rows read.
    return (f"(LOWER(c.name) LIKE {pattern} OR EXISTS (SELECT 1 FROM messages m "
            f"WHERE m.conversation_id = t.conversation_id AND m.direction = {sql(Direction.INBOUND.value)} "
            f"AND LOWER(m.text) LIKE {pattern}))")


async def conditions(search: TicketSearch, *, now: datetime) -> Callable[[Sql], list[str]]:
    """The search's conditions on ``tickets t JOIN contacts c`` without its page, for a statement of one's own
    (the export's batches): the open tickets' SLA states are read once, here."""
    open_states = await _open_states(search.period, now) if _needs_states(search) else _Open()
    whole = replace(search, before=None)
    return lambda sql: _where(whole, sql, now=now, open_states=open_states)


@dataclass(frozen=True, slots=True)
class Row:
    id: int
    number: str
    opened_at: datetime
    resolved_at: datetime | None
    status: TicketStatus
    channel: ChannelKind
    contact_name: str
    id_number: str | None
    category: str | None
    confirmed: bool
    agent: str | None
    team: str | None
    rating: int | None
    sla: SlaFilter | None  # None: open and not judged (cannot happen once loaded; kept for safety)


@dataclass(frozen=True, slots=True)
class Page:
    rows: list[Row]
    total: int  # up to COUNT_CAP
    capped: bool
    next_before: int | None  # the ``before`` of the next page; None on the last


def _moment(value: Any) -> datetime | None:
    """SQLite hands datetimes back as the UTC text Tortoise stored, PostgreSQL as aware datetimes."""
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value)).replace(tzinfo=UTC)


async def search_tickets(search: TicketSearch, *, now: datetime, lang: str,
                         visible: Callable[[Sql], str] | None = None) -> Page:
    """A page of the search; ``visible``: the caller's view of the tickets as a condition on ``t`` (the API's
    token, ``handoff.teams.Visibility.sql``), None for every ticket."""
    open_states = await _open_states(search.period, now) if _needs_states(search) else _Open()

    def where_of(sql: Sql) -> list[str]:
        where = _where(search, sql, now=now, open_states=open_states)
        return where if visible is None else [*where, visible(sql)]

    sql = Sql()
    where = where_of(sql)
    joins = "FROM tickets t JOIN contacts c ON c.id = t.contact_id"
    text = _text_term(search.q) is not None
    counted = 0
    if not text:
        # A text search is not counted apart: counting would read every message of the period a second time
        # (the page says "more than" the rows shown when there is a next page). Other filters read no contact.
        count_rows = await sql.rows(f"SELECT COUNT(*) AS n FROM (SELECT 1 FROM tickets t WHERE "
                                    f"{' AND '.join(where)} LIMIT {COUNT_CAP + 1}) s")
        counted = int(count_rows[0]["n"] or 0)
    sql = Sql()
    where = where_of(sql)
    if search.before is not None:
        # Keyset on (opened_at, id), the page's order: the range stays on the opened_at index, which the
        # database walks backwards and leaves after one page. (Ordered by id alone, SQLite read a year's
        # tickets through that index and sorted them all: 614 ms for a year's first page.)
        cursor = await Ticket.filter(id=search.before).values_list("opened_at", flat=True)
        if cursor:
            moment = sql.moment(cursor[0])  # type: ignore[arg-type]
            where.append(f"t.opened_at <= {moment} AND NOT (t.opened_at = {moment} AND t.id >= {sql(search.before)})")
    resolution = report_targets()[0]
    outcome = report_outcome_sql(resolution, sql, alias="t", now=now)
    found = await sql.rows(
        "SELECT t.id, t.number, t.opened_at, t.due_at, t.resolved_at, t.status, t.channel, t.category_id, "
        f"t.assignee_id, t.team_id, t.survey_rating, {outcome} AS outcome, "
        f"CASE WHEN {confirmed_sql('t')} THEN 1 ELSE 0 END AS confirmed, c.name AS contact_name, c.id_number "
        f"{joins} WHERE {' AND '.join(where)} ORDER BY t.opened_at DESC, t.id DESC LIMIT {search.limit + 1}"
    )
    more = len(found) > search.limit
    found = found[: search.limit]
    names = await _names(found, lang)
    rows = []
    for r in found:
        state = None
        if r["resolved_at"] is None and TicketStatus(r["status"]) in UNRESOLVED:  # the page's open tickets
            opened, due = _moment(r["opened_at"]) or now, _moment(r["due_at"]) or now
            state = evaluate(_Clock(opened, due, None), now).state
        sla = SlaFilter(state.value) if state is not None else (
            SlaFilter(r["outcome"]) if r["outcome"] in (Outcome.MET, Outcome.MISSED) else None)
        rows.append(Row(
            id=int(r["id"]), number=str(r["number"] or r["id"]), opened_at=_moment(r["opened_at"]) or now,
            resolved_at=_moment(r["resolved_at"]), status=TicketStatus(r["status"]), channel=ChannelKind(r["channel"]),
            contact_name=str(r["contact_name"] or ""), id_number=r["id_number"],
            category=names["categories"].get(r["category_id"]), confirmed=bool(r["confirmed"]),
            agent=names["users"].get(r["assignee_id"]), team=names["teams"].get(r["team_id"]),
            rating=int(r["survey_rating"]) if r["survey_rating"] is not None else None, sla=sla,
        ))
    if text:
        return Page(rows=rows, total=len(rows), capped=more, next_before=rows[-1].id if more and rows else None)
    return Page(rows=rows, total=min(counted, COUNT_CAP), capped=counted > COUNT_CAP,
                next_before=rows[-1].id if more and rows else None)


async def _names(found: list[dict[str, Any]], lang: str) -> dict[str, dict[Any, str]]:
    users = {r["assignee_id"] for r in found if r["assignee_id"] is not None}
    teams = {r["team_id"] for r in found if r["team_id"] is not None}
    return {
        "categories": {c.id: (c.name_en if lang == "en" else c.name_id) for c in await Category.all()},
        "users": {u["id"]: str(u["name"] or u["email"])
                  for u in await User.filter(id__in=users).values("id", "name", "email")} if users else {},
        "teams": {t["id"]: str(t["name"]) for t in await Team.filter(id__in=teams).values("id", "name")}
        if teams else {},
    }


@dataclass(frozen=True, slots=True)
class ExceptionCounts:
    counts: dict[Flag, int]
    abandoned: int  # conversations abandoned with the bot, started in the period (no ticket to list)


async def exception_counts(period: Period, *, now: datetime) -> ExceptionCounts:
    """How many of the period's tickets each exception holds: one COUNT with a SUM per exception, sent with
    the conversations' outcomes (for "abandoned") so that PostgreSQL runs both at once."""
    open_states = await _open_states(period, now)
    sql = Sql()
    sums = ", ".join(
        f"SUM(CASE WHEN {exception_sql(kind, sql, now=now, open_states=open_states, opened_from=period.start_utc)} "
        f"THEN 1 ELSE 0 END) AS {kind}"
        for kind in Flag
    )
    rows, (outcomes, _) = await asyncio.gather(
        sql.rows(f"SELECT {sums} FROM tickets t WHERE t.opened_at >= {sql.moment(period.start_utc)} "
                 f"AND t.opened_at < {sql.moment(period.end_utc)}"),
        conversation_outcomes(period, now))
    counts = {kind: int(rows[0][kind.value] or 0) for kind in Flag}
    return ExceptionCounts(counts, outcomes[ConversationOutcome.ABANDONED])
