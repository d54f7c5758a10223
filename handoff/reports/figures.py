"""A period's figures, computed on the database: the one source of the dashboard's period view, the
digests and the monthly report.

What is counted (each rule is defined here once):
- **Conversations** are those started in the period (``conversations.created_at``); each ends up in one
  of four outcomes: *handed off* (it has a ticket, or is with an agent through a ticket on another of the
  person's channels), *bot alone* (resolved by the bot, no ticket), *abandoned* (still with the bot, no
  ticket, and the person has written nothing for ``ABANDONED_AFTER``), or *in progress* (the rest: with
  the bot and recently active).
- **Tickets** are those opened in the period: every ticket figure (targets, times, categories, ratings,
  agents, escalations) describes the same tickets, as they stand at ``now``, so the shares add up.
- **Targets**: each ticket is held to its own due times (``targets``); its outcome per target is met,
  missed or still open.
- **Percentiles** interpolate linearly between the closest ranks (PostgreSQL's percentile_cont).
- **Local days** are days in the period's time zone.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any

from handoff.categorization import confirmed_sql
from handoff.reports.period import Period
from handoff.reports.sql import BUCKET_SECONDS, Sql, interpolate, percentile_ranks
from models import Category, ChannelKind, ConversationStatus, FlowStep, Incident, User

# A bot conversation the person has left this long is abandoned, not merely slow: after 24 hours of
# silence WhatsApp no longer lets the bot write to them freely, and the care center's own target is 24 h.
ABANDONED_AFTER = timedelta(hours=24)
# Ratings are 1-5; 4 and 5 count as satisfied, 1 and 2 as dissatisfied (the console flags those).
RATINGS = (1, 2, 3, 4, 5)
SATISFIED_FROM = 4
DISSATISFIED_UP_TO = 2
PERCENTS = (50, 90)


class Outcome(StrEnum):
    MET = "met"
    MISSED = "missed"
    OPEN = "open"


class ConversationOutcome(StrEnum):
    BOT = "bot"
    HANDED_OFF = "handed_off"
    ABANDONED = "abandoned"
    IN_PROGRESS = "in_progress"


@dataclass(frozen=True, slots=True)
class Target:
    """A service target as columns of a ticket: when it is due, when it was achieved, and where the SLA
    sweep recorded a breach (if it does for this target)."""

    name: str
    due: str
    done: str
    breached: str | None = None


def targets() -> tuple[Target, ...]:
    """The targets reports measure. Each ticket carries its own due time, so per-category or per-priority
    targets need nothing here; a first-response target joins this list once tickets store its due time."""
    return (Target("resolution", due="due_at", done="resolved_at", breached="breached_at"),)


def outcome_sql(target: Target, sql: Sql, *, alias: str, now: datetime) -> str:
    """Met, missed or open, as SQL (the export and the figures share it). A breach the sweep recorded
    stays a miss; an unresolved ticket past its due time is a miss even before the sweep has run."""
    col = f"{alias}.{{}}".format
    breached = f"WHEN {col(target.breached)} IS NOT NULL THEN '{Outcome.MISSED}' " if target.breached else ""
    return (
        f"CASE {breached}"
        f"WHEN {col(target.done)} IS NOT NULL THEN "
        f"CASE WHEN {col(target.done)} <= {col(target.due)} THEN '{Outcome.MET}' ELSE '{Outcome.MISSED}' END "
        f"WHEN {col(target.due)} <= {sql.moment(now)} THEN '{Outcome.MISSED}' "
        f"ELSE '{Outcome.OPEN}' END"
    )


@dataclass(frozen=True, slots=True)
class Spread:
    """Durations in seconds: how many, their median and 90th percentile (None when there are none)."""

    count: int = 0
    median: float | None = None
    p90: float | None = None


@dataclass(frozen=True, slots=True)
class TargetCounts:
    met: int = 0
    missed: int = 0
    open: int = 0

    @property
    def decided(self) -> int:
        return self.met + self.missed

    @property
    def met_share(self) -> float | None:
        """Of the tickets whose outcome is known; those still open and not yet due are left out."""
        return self.met / self.decided if self.decided else None


@dataclass(frozen=True, slots=True)
class DayVolume:
    day: date
    conversations: int
    tickets: int


@dataclass(frozen=True, slots=True)
class CategoryCount:
    slug: str | None  # None: tickets without a category
    name_id: str
    name_en: str
    tickets: int

    def name(self, lang: str) -> str:
        return self.name_en if lang == "en" else self.name_id


@dataclass(frozen=True, slots=True)
class AgentFigures:
    user_id: int
    name: str
    email: str
    taken: int
    closed: int
    first_response: Spread
    ratings: int
    rating_average: float | None


@dataclass(frozen=True, slots=True)
class Csat:
    distribution: dict[int, int] = field(default_factory=lambda: dict.fromkeys(RATINGS, 0))

    @property
    def count(self) -> int:
        return sum(self.distribution.values())

    @property
    def average(self) -> float | None:
        return sum(r * n for r, n in self.distribution.items()) / self.count if self.count else None

    @property
    def satisfied_share(self) -> float | None:
        satisfied = sum(n for r, n in self.distribution.items() if r >= SATISFIED_FROM)
        return satisfied / self.count if self.count else None

    @property
    def dissatisfied(self) -> int:
        return sum(n for r, n in self.distribution.items() if r <= DISSATISFIED_UP_TO)


@dataclass(frozen=True, slots=True)
class Figures:
    period: Period
    computed_at: datetime
    conversations: int = 0
    tickets: int = 0
    by_day: tuple[DayVolume, ...] = ()
    conversations_by_channel: dict[ChannelKind, int] = field(default_factory=dict)
    tickets_by_channel: dict[ChannelKind, int] = field(default_factory=dict)
    tickets_by_category: tuple[CategoryCount, ...] = ()
    outcomes: dict[ConversationOutcome, int] = field(default_factory=dict)
    abandoned_by_step: dict[FlowStep, int] = field(default_factory=dict)
    targets: dict[str, TargetCounts] = field(default_factory=dict)
    first_response: Spread = Spread()
    resolution: Spread = Spread()
    resolved: int = 0
    # Categories count once an agent confirmed them (handoff.categorization.confirmed_sql).
    categorized: int = 0  # resolved tickets with a confirmed category
    agent_categorized: int = 0  # tickets whose category an agent confirmed, resolved or not
    predicted_and_agent_categorized: int = 0  # of those, the ones the classifier had guessed
    agent_agreed_with_prediction: int = 0  # of those, the ones where the agent kept the guess
    csat: Csat = Csat()
    agents: tuple[AgentFigures, ...] = ()
    escalated: int = 0
    linked_to_incident: int = 0
    incidents_opened: int = 0
    incidents_fixed: int = 0

    def outcome(self, outcome: ConversationOutcome) -> int:
        return self.outcomes.get(outcome, 0)

    @property
    def bot_share(self) -> float | None:
        """Conversations the bot resolved alone, of those that ended (bot alone, handed off or abandoned)."""
        ended = self.conversations - self.outcome(ConversationOutcome.IN_PROGRESS)
        return self.outcome(ConversationOutcome.BOT) / ended if ended else None

    @property
    def categorized_share(self) -> float | None:
        return self.categorized / self.resolved if self.resolved else None

    @property
    def resolution_target(self) -> TargetCounts:
        return self.targets.get("resolution", TargetCounts())


@dataclass(frozen=True, slots=True)
class Comparison:
    """A period's figures beside the previous period's (``Period.previous``)."""

    current: Figures
    previous: Figures


def change(current: float | None, previous: float | None) -> float | None:
    """Relative change (0.12 is 12 % up); None when there is nothing to compare with."""
    if current is None or previous is None or previous == 0:
        return None
    return (current - previous) / previous


def _cohort(sql: Sql, period: Period, alias: str = "t") -> str:
    return f"{alias}.opened_at >= {sql.moment(period.start_utc)} AND {alias}.opened_at < {sql.moment(period.end_utc)}"


async def _grouped(period: Period, *, column: str = "c.created_at", table: str = "conversations c") -> dict[str, int]:
    """COUNT(*) per local day (ISO date) of the rows of ``table`` whose ``column`` lies in the period."""
    sql = Sql()
    where = f"{column} >= {sql.moment(period.start_utc)} AND {column} < {sql.moment(period.end_utc)}"
    rows = await sql.rows(f"SELECT {sql.bucket(column)} AS k, COUNT(*) AS n FROM {table} WHERE {where} GROUP BY 1")
    return {day.isoformat(): n for day, n in _days(period, {row["k"]: int(row["n"]) for row in rows}).items()}


def _days(period: Period, buckets: dict[object, int]) -> dict[date, int]:
    per_day: dict[date, int] = {}
    for bucket, n in buckets.items():
        day = datetime.fromtimestamp(int(bucket) * BUCKET_SECONDS, period.tz).date()  # type: ignore[call-overload]
        per_day[day] = per_day.get(day, 0) + n
    return per_day


# The durations whose median and p90 the figures give: (name, the column that ends it, grouped by the agent).
_SPREADS = (("first_response", "first_response_at", False), ("resolution", "resolved_at", False),
            ("agent_first_response", "first_response_at", True))


async def _spreads(period: Period) -> list[list[Any]]:
    """Median and p90 of (done - opened_at) over the period's tickets, for each of ``_SPREADS``: overall
    (group 0) or per assignee, as ``[name, group, count, median, p90]``. One statement: the period's
    tickets are read once into a CTE, and each duration is ranked with window functions on both engines;
    only the rows each percentile lies between leave the database."""
    sql = Sql()
    columns = ", ".join(f"{sql.seconds_between('t.opened_at', f't.{done}')} AS {name}" for name, done, _ in _SPREADS)
    ranked = " UNION ALL ".join(
        f"SELECT '{name}' AS k, {'d.a' if by_agent else '0'} AS g, d.{name} AS v, "
        f"ROW_NUMBER() OVER ({'PARTITION BY d.a ' if by_agent else ''}ORDER BY d.{name}) AS rn, "
        f"COUNT(*) OVER ({'PARTITION BY d.a' if by_agent else ''}) AS n "
        f"FROM d WHERE d.{name} IS NOT NULL{' AND d.a IS NOT NULL' if by_agent else ''}"
        for name, _, by_agent in _SPREADS
    )
    rows = await sql.rows(
        f"WITH d AS (SELECT t.assignee_id AS a, {columns} FROM tickets t WHERE {_cohort(sql, period)}) "
        f"SELECT s.k, s.g, s.v, s.rn, s.n FROM ({ranked}) s WHERE {percentile_ranks(PERCENTS)}"
    )
    ranks: dict[tuple[str, int], dict[int, float]] = {}
    sizes: dict[tuple[str, int], int] = {}
    for row in rows:
        key = (str(row["k"]), int(row["g"]))
        ranks.setdefault(key, {})[int(row["rn"])] = float(row["v"])
        sizes[key] = int(row["n"])
    return [[name, group, sizes[(name, group)], interpolate(ordered, sizes[(name, group)], 50),
             interpolate(ordered, sizes[(name, group)], 90)] for (name, group), ordered in ranks.items()]


async def conversation_outcomes(
    period: Period, now: datetime
) -> tuple[dict[ConversationOutcome, int], dict[FlowStep, int]]:
    """Conversations started in the period by outcome, and the abandoned ones by the step they stopped at."""
    outcomes, abandoned, _ = _conversation_figures(await _conversation_groups(period, now))
    return outcomes, abandoned


async def _conversation_groups(period: Period, now: datetime) -> list[dict[str, Any]]:
    """The period's conversations counted per outcome, step and channel (a few dozen rows)."""
    sql = Sql()
    with_agent = ", ".join(f"'{s}'" for s in (ConversationStatus.PENDING, ConversationStatus.OPEN))
    start = sql.moment(period.start_utc)
    # A ticket is never older than its conversation: only tickets opened since the period began can matter.
    # Asked per conversation through the tickets' conversation_id index: a join to the period's distinct
    # conversation ids made SQLite read every ticket ever through that index to build them.
    handed = (f"EXISTS (SELECT 1 FROM tickets h WHERE h.conversation_id = c.id AND h.opened_at >= {start})")
    outcome = (
        f"CASE WHEN {handed} OR c.status IN ({with_agent}) "
        f"THEN '{ConversationOutcome.HANDED_OFF}' "
        f"WHEN c.status = '{ConversationStatus.RESOLVED}' THEN '{ConversationOutcome.BOT}' "
        f"WHEN COALESCE(c.last_message_at, c.created_at) < {sql.moment(now - ABANDONED_AFTER)} "
        f"THEN '{ConversationOutcome.ABANDONED}' ELSE '{ConversationOutcome.IN_PROGRESS}' END"
    )
    rows = await sql.rows(
        f"SELECT {outcome} AS o, c.step AS step, c.channel AS channel, COUNT(*) AS n FROM conversations c "
        f"WHERE c.created_at >= {start} AND c.created_at < {sql.moment(period.end_utc)} "
        "GROUP BY 1, 2, 3"
    )
    return [{"o": str(row["o"]), "step": str(row["step"]), "channel": str(row["channel"]), "n": int(row["n"])}
            for row in rows]


def _conversation_figures(
    rows: list[dict[str, Any]]
) -> tuple[dict[ConversationOutcome, int], dict[FlowStep, int], dict[str, int]]:
    """Outcomes, the abandoned ones' steps and the channels, from ``_conversation_groups``' rows."""
    outcomes = dict.fromkeys(ConversationOutcome, 0)
    abandoned: dict[FlowStep, int] = {}
    channels: dict[str, int] = {}
    for row in rows:
        kind, n = ConversationOutcome(row["o"]), int(row["n"])
        outcomes[kind] += n
        channels[str(row["channel"])] = channels.get(str(row["channel"]), 0) + n
        if kind == ConversationOutcome.ABANDONED:
            step = FlowStep(row["step"])
            abandoned[step] = abandoned.get(step, 0) + n
    return outcomes, abandoned, channels


async def _ticket_counts(period: Period, now: datetime) -> list[list[Any]]:
    """Every count of the period's tickets, per category id (None: no category), as ``[category id,
    {count: n}]``, in one statement: each count is a SUM of its condition (conditional aggregation), so the
    month's tickets are read once, where a COUNT per figure read them a dozen times. The figures add the
    categories up."""
    sql = Sql()
    counts = {
        "resolved": "t.resolved_at IS NOT NULL",
        "categorized": f"t.resolved_at IS NOT NULL AND {confirmed_sql('t')}",
        "escalated": "t.escalated_at IS NOT NULL",
        "linked": "t.incident_id IS NOT NULL",
        # Tickets whose category an agent confirmed; of those, the ones the classifier had guessed, and
        # whether the agent kept the guess is the fact recorded when they confirmed (tickets.category_agreed).
        "chosen": confirmed_sql("t"),
        "predicted": f"{confirmed_sql('t')} AND t.predicted_category IS NOT NULL",
        "agreed": f"{confirmed_sql('t')} AND t.category_agreed = {sql(True)}",
        **{f"channel_{kind.value}": f"t.channel = {sql(kind.value)}" for kind in ChannelKind},
        **{f"rating_{r}": f"t.survey_rating = {sql(r)}" for r in RATINGS},
    }
    for target in targets():
        outcome = outcome_sql(target, sql, alias="t", now=now)
        counts.update({f"{target.name}_{o.value}": f"{outcome} = '{o.value}'" for o in Outcome})
    sums = ", ".join(f"SUM(CASE WHEN {condition} THEN 1 ELSE 0 END) AS {name}" for name, condition in counts.items())
    rows = await sql.rows(f"SELECT t.category_id AS k, COUNT(*) AS tickets, {sums} FROM tickets t "
                          f"WHERE {_cohort(sql, period)} GROUP BY t.category_id")
    return [[None if row["k"] is None else int(row["k"]),
             {name: int(value or 0) for name, value in row.items() if name != "k"}] for row in rows]


async def _agent_counts(period: Period) -> list[dict[str, int]]:
    sql = Sql()
    rows = await sql.rows(
        "SELECT t.assignee_id AS a, COUNT(*) AS taken, "
        "SUM(CASE WHEN t.resolved_at IS NOT NULL THEN 1 ELSE 0 END) AS closed, "
        "COUNT(t.survey_rating) AS ratings, SUM(t.survey_rating) AS rating_sum "
        f"FROM tickets t WHERE {_cohort(sql, period)} AND t.assignee_id IS NOT NULL GROUP BY t.assignee_id"
    )
    return [{name: int(value or 0) for name, value in row.items()} for row in rows]


async def _agents(rows: list[dict[str, int]], spreads: dict[int, Spread]) -> tuple[AgentFigures, ...]:
    if not rows:
        return ()
    users = {u["id"]: u for u in await User.filter(id__in=[r["a"] for r in rows]).values("id", "name", "email")}
    agents = [
        AgentFigures(
            user_id=row["a"],
            name=str(users.get(row["a"], {}).get("name") or users.get(row["a"], {}).get("email") or row["a"]),
            email=str(users.get(row["a"], {}).get("email") or ""),
            taken=row["taken"],
            closed=row["closed"],
            first_response=spreads.get(row["a"], Spread()),
            ratings=row["ratings"],
            rating_average=row["rating_sum"] / row["ratings"] if row["ratings"] else None,
        )
        for row in rows
    ]
    return tuple(sorted(agents, key=lambda a: (-a.closed, -a.taken, a.name.lower())))


# What the database says about a period: plain JSON values (numbers, strings, lists, string-keyed
# objects), so a reading can be stored as it is (handoff.reports.snapshots) and turned into figures later.
Reading = dict[str, Any]


async def read_figures(*, period: Period, now: datetime) -> Reading:
    """Every count and duration of ``period`` as the database stands at ``now``, as JSON values."""
    start, end = period.start_utc, period.end_utc
    # Independent reads, sent together: PostgreSQL runs them on connections of its pool at once (SQLite's
    # one connection takes them in turn, as before).
    (conversation_days, ticket_days, conversation_groups, per_category, spreads, agents, incidents_opened,
     incidents_fixed) = await asyncio.gather(
        _grouped(period), _grouped(period, column="t.opened_at", table="tickets t"),
        _conversation_groups(period, now), _ticket_counts(period, now), _spreads(period), _agent_counts(period),
        Incident.filter(created_at__gte=start, created_at__lt=end).count(),
        Incident.filter(fixed_at__gte=start, fixed_at__lt=end).count())
    return {"conversation_days": conversation_days, "ticket_days": ticket_days,
            "conversation_groups": conversation_groups, "per_category": per_category, "spreads": spreads,
            "agents": agents, "incidents_opened": incidents_opened, "incidents_fixed": incidents_fixed}


async def figures_from(reading: Reading, *, period: Period, now: datetime) -> Figures:
    """The figures of a reading taken at ``now`` (``read_figures``); names of categories and agents are
    looked up as they are today."""
    outcomes, abandoned, conversation_channels = _conversation_figures(reading["conversation_groups"])
    per_category: dict[int | None, dict[str, int]] = dict(reading["per_category"])
    totals: dict[str, int] = {}
    for counted in per_category.values():
        for name, n in counted.items():
            totals[name] = totals.get(name, 0) + n
    spreads: dict[str, dict[int, Spread]] = {name: {} for name, _, _ in _SPREADS}
    for name, group, count, median, p90 in reading["spreads"]:
        spreads[name][group] = Spread(count, median, p90)

    categories = {c["id"]: c for c in await Category.all().values("id", "slug", "name_id", "name_en")}
    by_category = [
        CategoryCount(None, "", "", counted["tickets"]) if cid is None else CategoryCount(
            str(categories[cid]["slug"]), str(categories[cid]["name_id"]), str(categories[cid]["name_en"]),
            counted["tickets"])
        for cid, counted in per_category.items()
        if cid is None or cid in categories
    ]
    by_category.sort(key=lambda c: (c.slug is None, -c.tickets, c.slug or ""))
    conversation_days, ticket_days = reading["conversation_days"], reading["ticket_days"]
    return Figures(
        period=period,
        computed_at=now,
        conversations=sum(conversation_channels.values()),
        tickets=totals.get("tickets", 0),
        by_day=tuple(DayVolume(d, conversation_days.get(d.isoformat(), 0), ticket_days.get(d.isoformat(), 0))
                     for d in period.days),
        conversations_by_channel={k: conversation_channels.get(k.value, 0) for k in ChannelKind},
        tickets_by_channel={k: totals.get(f"channel_{k.value}", 0) for k in ChannelKind},
        tickets_by_category=tuple(by_category),
        outcomes=outcomes,
        abandoned_by_step=abandoned,
        targets={t.name: TargetCounts(*(totals.get(f"{t.name}_{o.value}", 0) for o in Outcome)) for t in targets()},
        first_response=spreads["first_response"].get(0, Spread()),
        resolution=spreads["resolution"].get(0, Spread()),
        resolved=totals.get("resolved", 0),
        categorized=totals.get("categorized", 0),
        agent_categorized=totals.get("chosen", 0),
        predicted_and_agent_categorized=totals.get("predicted", 0),
        agent_agreed_with_prediction=totals.get("agreed", 0),
        csat=Csat({r: totals.get(f"rating_{r}", 0) for r in RATINGS}),
        agents=await _agents(reading["agents"], spreads["agent_first_response"]),
        escalated=totals.get("escalated", 0),
        linked_to_incident=totals.get("linked", 0),
        incidents_opened=int(reading["incidents_opened"]),
        incidents_fixed=int(reading["incidents_fixed"]),
    )


async def compute_figures(*, period: Period, now: datetime) -> Figures:
    """Every figure of ``period`` as the database stands at ``now``."""
    return await figures_from(await read_figures(period=period, now=now), period=period, now=now)


async def compare_figures(*, period: Period, now: datetime) -> Comparison:
    current, previous = await asyncio.gather(compute_figures(period=period, now=now),
                                             compute_figures(period=period.previous(), now=now))
    return Comparison(current, previous)
