"""The supervisor's dashboard (the SOP's step 9): is every ticket handled, categorized and closed in time?"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from tortoise.expressions import Subquery
from tortoise.functions import Count
from tortoise.queryset import QuerySet

from handoff.categorization import agreement, closed_unconfirmed
from handoff.reports import snapshots
from handoff.reports.period import Period, PeriodError, Preset, preset_period
from handoff.reports.sql import Sql
from handoff.reports.summary import shown, shown_change, summary_rows
from handoff.reports.text import report_text
from handoff.sla import SlaState, breached_sql, evaluate
from handoff.ticket_search import MAX_PERIOD_DAYS
from models import UNRESOLVED, Category, Conversation, ConversationStatus, Ticket, TicketStatus, User, UserRole

AGE_BUCKETS: tuple[tuple[str, timedelta], ...] = (
    ("age_lt_4h", timedelta(hours=4)),
    ("age_4_12h", timedelta(hours=12)),
    ("age_12_24h", timedelta(hours=24)),
)
AGE_OVER = "age_gt_24h"
WINDOW = timedelta(days=30)
# Tickets past or near their target listed by name (the most overdue first); the rest are counted, and all
# of them are on the supervisor's ticket list (/console/admin/tickets?sla=breached).
LISTED = 20


@dataclass(frozen=True, slots=True)
class Bar:
    label: str
    value: int
    share: float  # 0..1 of the largest bar in its chart, for the CSS width


@dataclass(frozen=True, slots=True)
class AgentLoad:
    name: str
    email: str
    open: int
    capacity: int
    available: bool


@dataclass(slots=True)
class Dashboard:
    open_by_status: list[Bar] = field(default_factory=list)
    open_by_age: list[Bar] = field(default_factory=list)
    at_risk: list[Ticket] = field(default_factory=list)  # the first LISTED of at_risk_count
    breached: list[Ticket] = field(default_factory=list)  # the first LISTED of breached_count
    at_risk_count: int = 0
    breached_count: int = 0
    backlog_since: date | None = None
    closed_without_category: int = 0
    unassigned: int = 0
    agents: list[AgentLoad] = field(default_factory=list)
    today_by_channel: list[Bar] = field(default_factory=list)
    today_by_category: list[Bar] = field(default_factory=list)
    today_total: int = 0
    bot_resolved: int = 0
    handed_off: int = 0
    bot_share: float | None = None
    csat_average: float | None = None
    csat_count: int = 0
    csat_satisfied_share: float | None = None
    flagged: list[Ticket] = field(default_factory=list)
    # The classifier loop: where agents confirmed or changed the bot's category (resolved in the last 30 days).
    corrections: list[tuple[str, str, int]] = field(default_factory=list)
    predicted_total: int = 0
    predicted_agreed: int = 0


def bars(counts: Counter[str] | dict[str, int], order: list[str] | None = None) -> list[Bar]:
    keys = order if order is not None else sorted(counts, key=lambda k: (-counts[k], k))
    top = max((counts.get(k, 0) for k in keys), default=0) or 1
    return [Bar(k, counts.get(k, 0), counts.get(k, 0) / top) for k in keys]


def _age_bucket(age: timedelta) -> str:
    for name, limit in AGE_BUCKETS:
        if age < limit:
            return name
    return AGE_OVER


@dataclass(frozen=True, slots=True)
class _Clock:
    """An unresolved ticket as ``handoff.sla.evaluate`` reads it, without loading the model."""

    opened_at: datetime
    due_at: datetime
    resolved_at: datetime | None = None


async def _backlog(board: Dashboard, now: datetime) -> Counter[int]:
    """The unresolved tickets' counts, and the open tickets per assignee.

    Counted by the database, grouped by status and assignee (a handful of rows), not fetched: a year's
    backlog can be thousands of tickets (8,000 in benchmarks/list_bench.py, where fetching and evaluating
    them all took 280 ms). Past target is ``handoff.sla.breached_sql``, counted and listed from the
    (status, due_at) index; only the tickets not yet due are evaluated one by one (at risk or on track)."""
    sql = Sql()
    statuses = ", ".join(sql(s.value) for s in UNRESOLVED)
    # Tickets younger than each bucket's limit: the buckets are the differences.
    younger = ", ".join(f"SUM(CASE WHEN opened_at > {sql.moment(now - limit)} THEN 1 ELSE 0 END) AS {name}"
                        for name, limit in AGE_BUCKETS)
    groups = await sql.rows(
        f"SELECT status, assignee_id, COUNT(*) AS n, {younger}, "  # noqa: S608
        f"SUM(CASE WHEN {breached_sql('tickets', sql.moment(now))} THEN 1 ELSE 0 END) AS breached "
        f"FROM tickets WHERE status IN ({statuses}) GROUP BY status, assignee_id")
    by_status: Counter[str] = Counter()
    load: Counter[int] = Counter()
    ages: Counter[str] = Counter()
    for row in groups:
        n = int(row["n"])
        by_status[str(row["status"])] += n
        if row["assignee_id"] is None:
            board.unassigned += n
        else:
            load[int(row["assignee_id"])] += n
        below = 0
        for name, _ in AGE_BUCKETS:
            ages[name] += int(row[name] or 0) - below
            below = int(row[name] or 0)
        ages[AGE_OVER] += n - below
        board.breached_count += int(row["breached"] or 0)
    board.open_by_status = bars(by_status, [s.value for s in TicketStatus if s != TicketStatus.RESOLVED])
    board.open_by_age = bars(ages, [name for name, _ in AGE_BUCKETS] + [AGE_OVER])
    sql = Sql()
    statuses = ", ".join(sql(s.value) for s in UNRESOLVED)
    # Most overdue first, as the ticket list's "past target" filter shows them.
    board.breached = await _listed([int(r["id"]) for r in await sql.rows(
        f"SELECT id FROM tickets WHERE status IN ({statuses}) AND {breached_sql('tickets', sql.moment(now))} "  # noqa: S608
        f"ORDER BY due_at, id LIMIT {LISTED}")])
    sql = Sql()
    statuses = ", ".join(sql(s.value) for s in UNRESOLVED)
    at_risk = [
        int(r["id"]) for r in await sql.rows(
            f"SELECT id, opened_at, due_at FROM tickets WHERE status IN ({statuses}) "  # noqa: S608
            f"AND NOT {breached_sql('tickets', sql.moment(now))} ORDER BY due_at, id")
        if evaluate(_Clock(_moment(r["opened_at"]), _moment(r["due_at"])), now).state == SlaState.AT_RISK
    ]
    board.at_risk_count = len(at_risk)
    board.at_risk = await _listed(at_risk[:LISTED])
    return load


async def build_dashboard(*, now: datetime, tz: ZoneInfo, lang: str) -> Dashboard:
    board = Dashboard()
    load = await _backlog(board, now)
    # The ticket list's longest period, ending today: where the link from the count lists them all.
    board.backlog_since = now.astimezone(tz).date() - timedelta(days=MAX_PERIOD_DAYS - 1)
    board.closed_without_category = await closed_unconfirmed()  # a guess nobody confirmed is no category

    board.agents = [
        AgentLoad(u.name or u.email, u.email, load.get(u.id, 0), u.capacity, u.available)
        for u in await User.filter(active=True).order_by("name")
        # Supervisors appear only while they hold tickets: the table is about the agents' load.
        if u.role == UserRole.AGENT or load.get(u.id, 0)
    ]

    midnight = datetime.combine(now.astimezone(tz).date(), datetime.min.time(), tzinfo=tz)
    today = await Ticket.filter(opened_at__gte=midnight).prefetch_related("category")
    conversations_today = await Conversation.filter(created_at__gte=midnight).values_list("channel", flat=True)
    board.today_total = len(conversations_today)
    board.today_by_channel = bars(Counter(str(c) for c in conversations_today))
    categories = await Category.all()
    names = {c.slug: (c.name_en if lang == "en" else c.name_id) for c in categories}
    board.today_by_category = bars(Counter(
        names.get(t.category.slug, t.category.slug) if t.category else "—" for t in today
    ))

    # The last 30 days are counted by the database, from indexes that hold every column these counts read
    # (models.entities): a month of rows is thousands, and fetching them all took tens of milliseconds.
    since = now - WINDOW
    handed_off = Ticket.filter(opened_at__gte=since)
    board.handed_off = await _one(handed_off.annotate(n=Count("conversation_id", distinct=True)))
    board.bot_resolved = await Conversation.filter(created_at__gte=since, status=ConversationStatus.RESOLVED).exclude(
        id__in=Subquery(handed_off.values("conversation_id"))
    ).count()
    total = board.bot_resolved + board.handed_off
    board.bot_share = board.bot_resolved / total if total else None

    ratings: dict[int, int] = dict(
        await Ticket.filter(survey_answered_at__gte=since, survey_rating__not_isnull=True)
        .annotate(n=Count("id")).group_by("survey_rating").values_list("survey_rating", "n")
    )
    board.csat_count = sum(ratings.values())
    if board.csat_count:
        board.csat_average = sum(rating * n for rating, n in ratings.items()) / board.csat_count
        board.csat_satisfied_share = sum(n for rating, n in ratings.items() if rating >= 4) / board.csat_count
    board.flagged = await Ticket.filter(flagged=True).order_by("-id").limit(20)

    slugs = {c.id: c.slug for c in categories}
    # Confirmed categories only: an unconfirmed guess "agrees" with itself and would flatter the classifier.
    changes: Counter[tuple[str, str]] = Counter()
    for predicted, category_id, n in await agreement(resolved_since=since):
        confirmed = slugs.get(category_id, "")
        board.predicted_total += n
        if confirmed == predicted:
            board.predicted_agreed += n
        else:
            changes[(names.get(predicted, predicted), names.get(confirmed, confirmed))] += n
    board.corrections = [(bot, agent, n) for (bot, agent), n in changes.most_common(15)]
    return board


def _moment(value: Any) -> datetime:
    """SQLite hands datetimes back as the UTC text Tortoise stored, PostgreSQL as aware datetimes."""
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


async def _listed(ids: list[int]) -> list[Ticket]:
    """The tickets, in the order of ``ids``, with their assignee."""
    tickets = {t.id: t for t in await Ticket.filter(id__in=ids).prefetch_related("assignee")} if ids else {}
    return [tickets[i] for i in ids if i in tickets]


async def _one(query: QuerySet[Any]) -> int:
    """The single number an aggregate query without GROUP BY returns."""
    rows: list[Any] = list(await query.values_list("n", flat=True))
    return int(rows[0] or 0) if rows else 0


@dataclass(frozen=True, slots=True)
class PeriodRow:
    label: str
    current: str
    previous: str
    change: str


@dataclass(frozen=True, slots=True)
class PeriodView:
    """The dashboard's figures for a chosen period beside the period before: the monthly report's own
    figures (handoff.reports.figures) and summary rows, written as the PDF writes them."""

    preset: str
    period: Period
    title: str
    previous_title: str
    rows: list[PeriodRow]
    by_channel: list[Bar]
    by_category: list[Bar]
    as_of: str = ""  # when the figures were read (handoff.reports.snapshots)
    refresh_query: str = ""  # this view's query string asking for figures read now
    error: str = ""


async def build_period_view(*, query: Mapping[str, str], now: datetime, tz: ZoneInfo, lang: str) -> PeriodView:
    """``period`` (a ``Preset``; this month by default), and ``since``/``until`` for a custom one. A period
    that cannot be used falls back to this month, with the reason in ``error``. The figures are stored ones
    at most a few minutes old (handoff.reports.snapshots); ``refresh=1`` asks for figures read now."""
    text = report_text(lang)
    preset = query.get("period", Preset.THIS_MONTH.value)
    error = ""
    try:
        period = preset_period(preset, now=now, tz=tz, since=query.get("since", ""), until=query.get("until", ""))
    except PeriodError as refused:
        error = text(refused.key, **refused.values)
        preset = Preset.THIS_MONTH.value
        period = preset_period(preset, now=now, tz=tz)
    both = await snapshots.comparison(period, now=now, refresh=query.get("refresh") == "1")
    figures = both.current
    refresh_query = {"period": preset, "refresh": "1"}
    if preset == Preset.CUSTOM:
        refresh_query.update(since=period.start.isoformat(), until=period.end.isoformat())
    return PeriodView(
        preset=preset,
        period=period,
        title=text.period(period),
        previous_title=text.period(both.previous.period),
        rows=[PeriodRow(text(f"label.{row.label}"), shown(row.kind, row.current, text),
                        shown(row.kind, row.previous, text), shown_change(row, text)) for row in summary_rows(both)],
        by_channel=bars({kind.value: n for kind, n in figures.tickets_by_channel.items()}),
        by_category=bars({(c.name(lang) or text("none")): c.tickets for c in figures.tickets_by_category}),
        as_of=text.moment(figures.computed_at.astimezone(tz)),
        refresh_query=urlencode(refresh_query),
        error=error,
    )
