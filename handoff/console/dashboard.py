"""The supervisor's dashboard (the SOP's step 9): is every ticket handled, categorized and closed in time?"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tortoise.expressions import Subquery
from tortoise.functions import Count
from tortoise.queryset import QuerySet

from handoff.categorization import agreement, closed_unconfirmed
from handoff.reports.figures import compare_figures
from handoff.reports.period import Period, PeriodError, Preset, preset_period
from handoff.reports.sql import Sql
from handoff.reports.summary import shown, shown_change, summary_rows
from handoff.reports.text import report_text
from handoff.sla import SlaState, evaluate
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
class _Open:
    """An unresolved ticket as far as the dashboard counts it (and as ``handoff.sla.evaluate`` reads it)."""

    id: int
    status: str
    opened_at: datetime
    due_at: datetime
    assignee_id: int | None
    resolved_at: datetime | None = None


async def build_dashboard(*, now: datetime, tz: ZoneInfo, lang: str) -> Dashboard:
    board = Dashboard()
    # The backlog is read as plain columns, not as models: a year's backlog can be thousands of tickets
    # (8,000 in benchmarks/list_bench.py, where building models took 2.4 s), and only a few are listed.
    sql = Sql()
    statuses = ", ".join(sql(s.value) for s in UNRESOLVED)
    unresolved = [
        _Open(int(r["id"]), str(r["status"]), _moment(r["opened_at"]), _moment(r["due_at"]), r["assignee_id"])
        for r in await sql.rows(f"SELECT id, status, opened_at, due_at, assignee_id FROM tickets "  # noqa: S608
                                f"WHERE status IN ({statuses})")
    ]
    board.open_by_status = bars(Counter(t.status for t in unresolved),
                                [s.value for s in TicketStatus if s != TicketStatus.RESOLVED])
    board.open_by_age = bars(Counter(_age_bucket(now - t.opened_at) for t in unresolved),
                             [name for name, _ in AGE_BUCKETS] + [AGE_OVER])
    breached, at_risk = [], []
    for ticket in sorted(unresolved, key=lambda t: t.due_at):
        state = evaluate(ticket, now).state
        if state == SlaState.BREACHED:
            breached.append(ticket.id)
        elif state == SlaState.AT_RISK:
            at_risk.append(ticket.id)
    board.breached_count, board.at_risk_count = len(breached), len(at_risk)
    # The ticket list's longest period, ending today: where the link from the count lists them all.
    board.backlog_since = now.astimezone(tz).date() - timedelta(days=MAX_PERIOD_DAYS - 1)
    board.breached = await _listed(breached[:LISTED])
    board.at_risk = await _listed(at_risk[:LISTED])
    board.unassigned = sum(1 for t in unresolved if t.assignee_id is None)
    board.closed_without_category = await closed_unconfirmed()  # a guess nobody confirmed is no category

    load = Counter(t.assignee_id for t in unresolved if t.assignee_id is not None)
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
    error: str = ""


async def build_period_view(*, query: Mapping[str, str], now: datetime, tz: ZoneInfo, lang: str) -> PeriodView:
    """``period`` (a ``Preset``; this month by default), and ``since``/``until`` for a custom one. A period
    that cannot be used falls back to this month, with the reason in ``error``."""
    text = report_text(lang)
    preset = query.get("period", Preset.THIS_MONTH.value)
    error = ""
    try:
        period = preset_period(preset, now=now, tz=tz, since=query.get("since", ""), until=query.get("until", ""))
    except PeriodError as refused:
        error = text(refused.key, **refused.values)
        preset = Preset.THIS_MONTH.value
        period = preset_period(preset, now=now, tz=tz)
    both = await compare_figures(period=period, now=now)
    figures = both.current
    return PeriodView(
        preset=preset,
        period=period,
        title=text.period(period),
        previous_title=text.period(both.previous.period),
        rows=[PeriodRow(text(f"label.{row.label}"), shown(row.kind, row.current, text),
                        shown(row.kind, row.previous, text), shown_change(row, text)) for row in summary_rows(both)],
        by_channel=bars({kind.value: n for kind, n in figures.tickets_by_channel.items()}),
        by_category=bars({(c.name(lang) or text("none")): c.tickets for c in figures.tickets_by_category}),
        error=error,
    )
