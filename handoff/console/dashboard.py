"""The supervisor's dashboard (the SOP's step 9): is every ticket handled, categorized and closed in time?"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from handoff.sla import SlaPolicy, SlaState, evaluate
from handoff.tickets import UNRESOLVED
from models import Category, Conversation, ConversationStatus, Ticket, TicketStatus, User, UserRole

AGE_BUCKETS: tuple[tuple[str, timedelta], ...] = (
    ("age_lt_4h", timedelta(hours=4)),
    ("age_4_12h", timedelta(hours=12)),
    ("age_12_24h", timedelta(hours=24)),
)
AGE_OVER = "age_gt_24h"
WINDOW = timedelta(days=30)


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
    at_risk: list[Ticket] = field(default_factory=list)
    breached: list[Ticket] = field(default_factory=list)
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
    # The classifier loop: where agents confirmed or changed the bot's category (30 days).
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


async def build_dashboard(*, now: datetime, tz: ZoneInfo, sla: timedelta, lang: str) -> Dashboard:
    board = Dashboard()
    policy = SlaPolicy(target=sla)
    unresolved = await Ticket.filter(status__in=UNRESOLVED).prefetch_related("assignee", "category")
    board.open_by_status = bars(Counter(t.status.value for t in unresolved),
                                [s.value for s in TicketStatus if s != TicketStatus.RESOLVED])
    board.open_by_age = bars(Counter(_age_bucket(now - t.opened_at) for t in unresolved),
                             [name for name, _ in AGE_BUCKETS] + [AGE_OVER])
    for ticket in sorted(unresolved, key=lambda t: t.due_at):
        state = evaluate(opened_at=ticket.opened_at, due_at=ticket.due_at, resolved_at=None,
                         policy=policy, now=now).state
        if state == SlaState.BREACHED:
            board.breached.append(ticket)
        elif state == SlaState.AT_RISK:
            board.at_risk.append(ticket)
    board.unassigned = sum(1 for t in unresolved if t.assignee is None)
    board.closed_without_category = await Ticket.filter(status=TicketStatus.RESOLVED, category_id=None).count()

    load = Counter(t.assignee.id for t in unresolved if t.assignee is not None)
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
    names = {c.slug: (c.name_en if lang == "en" else c.name_id) for c in await Category.all()}
    board.today_by_category = bars(Counter(
        names.get(t.category.slug, t.category.slug) if t.category else "—" for t in today
    ))

    since = now - WINDOW
    resolved = await Conversation.filter(created_at__gte=since, status=ConversationStatus.RESOLVED).values_list(
        "id", flat=True
    )
    with_ticket = set(await Ticket.filter(opened_at__gte=since).values_list("conversation_id", flat=True))
    board.bot_resolved = sum(1 for cid in resolved if cid not in with_ticket)
    board.handed_off = len(with_ticket)
    total = board.bot_resolved + board.handed_off
    board.bot_share = board.bot_resolved / total if total else None

    answered = await Ticket.filter(survey_answered_at__gte=since, survey_rating__not_isnull=True)
    ratings: list[int] = [t.survey_rating for t in answered if t.survey_rating is not None]
    board.csat_count = len(ratings)
    if ratings:
        board.csat_average = sum(ratings) / len(ratings)
        board.csat_satisfied_share = sum(1 for r in ratings if r >= 4) / len(ratings)
    board.flagged = await Ticket.filter(flagged=True).order_by("-id").limit(20)

    checked = await Ticket.filter(resolved_at__gte=since, predicted_category__not_isnull=True,
                                  category_id__not_isnull=True).prefetch_related("category")
    changes: Counter[tuple[str, str]] = Counter()
    for ticket in checked:
        confirmed = ticket.category.slug if ticket.category else ""
        if confirmed == ticket.predicted_category:
            board.predicted_agreed += 1
        else:
            changes[(names.get(ticket.predicted_category or "", ticket.predicted_category or ""),
                     names.get(confirmed, confirmed))] += 1
    board.predicted_total = len(checked)
    board.corrections = [(bot, agent, n) for (bot, agent), n in changes.most_common(15)]
    return board
