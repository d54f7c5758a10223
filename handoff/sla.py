"""The SLA rule, in one place: the defaults, the supervisor's policy, the choice of a ticket's targets,
``evaluate`` (the console's clock) and ``evaluate_targets`` (both targets, pause, notices), and the sweep
that announces each warning and breach exactly once.

A ticket carries its own SLA (models.Ticket's ``sla_*`` columns): the first-response and resolution targets
it was given (``SlaPolicy.choose``: most specific rule wins), whether its clock counts calendar time or
operating hours (handoff.hours), whether waiting on the user (``TicketStatus.PENDING``, the status an agent
sets with "waiting on the user") pauses it, and the due times. ``apply`` sets them when the ticket opens and
again when its status, category or priority changes. So a ticket is judged against what it was given, and
pages, /api/v1 and the console's script show the due time and the moments computed here, never a rule.

Exactly once: every notice is a ``SlaNotice`` row whose unique key (ticket, target, threshold) is inserted
in the same transaction as its ticket event (and its e-mails, handoff.notify); a second sweep, a restarted
process or a second scheduler fails the insert and announces nothing. The sweep reads only tickets whose
``sla_next_check_at`` (their next threshold) has come, so its cost follows the notices due, not the tickets.
"""

from __future__ import annotations

import logging
import math
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from tortoise.transactions import in_transaction

from handoff.hours import ClosedForeverError, OperatingHours
from handoff.operations import defaults_from, load_operations
from models import (
    UNRESOLVED,
    ActorKind,
    Category,
    Priority,
    Setting,
    SlaCounting,
    SlaNotice,
    SlaTarget,
    Ticket,
    TicketEvent,
    TicketStatus,
    User,
    UserRole,
)

log = logging.getLogger(__name__)

# Every ticket is due this long after it opens unless SLA_HOURS or a supervisor (handoff.operations) says
# otherwise: the one place the 24 hours are written.
DEFAULT_TARGET = timedelta(hours=24)
DEFAULT_FIRST_RESPONSE = timedelta(hours=1)
DEFAULT_WARNINGS = (50, 75, 90)  # percent of a target at which its warnings go out
BREACH = 100
AT_RISK_SHARE = 0.25  # the last quarter of a ticket's target is "at risk"
WARNING_SHARE = 0.5  # under half of it left, the console shades the clock as a warning (not a state)


class SlaState(StrEnum):
    ON_TRACK = "on_track"
    AT_RISK = "at_risk"
    BREACHED = "breached"
    MET = "met"
    MISSED = "missed"  # resolved, but after the due time


class Timed(Protocol):
    """A ticket, as far as its SLA goes."""

    @property
    def opened_at(self) -> datetime: ...

    @property
    def due_at(self) -> datetime: ...

    @property
    def resolved_at(self) -> datetime | None: ...


@dataclass(frozen=True, slots=True)
class Targets:
    """What a ticket is given when it opens."""

    target: timedelta
    due_at: datetime


def targets_for(*, opened_at: datetime, setting: timedelta | None = None) -> Targets:
    """A new ticket's targets: the target in force (``setting``: the supervisor's, else SLA_HOURS), else
    the default; the ticket stores the due time, from which its target is read back (``target_of``)."""
    target = DEFAULT_TARGET if setting is None else setting
    return Targets(target=target, due_at=opened_at + target)


def target_of(ticket: Timed) -> timedelta:
    return ticket.due_at - ticket.opened_at


@dataclass(frozen=True, slots=True)
class SlaStatus:
    state: SlaState
    remaining: timedelta  # negative once past due
    target: timedelta

    @property
    def warning(self) -> bool:
        """Under half the target left (and not yet at risk or late): the console's amber."""
        return self.state == SlaState.ON_TRACK and self.remaining < self.target * WARNING_SHARE


@dataclass(frozen=True, slots=True)
class Moments:
    """When a ticket's clock changes colour, for a page that counts down without knowing the rule."""

    due_at: datetime
    at_risk_from: datetime
    warning_from: datetime


def moments(ticket: Timed) -> Moments:
    target = target_of(ticket)
    return Moments(due_at=ticket.due_at, at_risk_from=ticket.due_at - target * AT_RISK_SHARE,
                   warning_from=ticket.due_at - target * WARNING_SHARE)


def evaluate(ticket: Timed, now: datetime) -> SlaStatus:
    """On track, at risk or breached (met or missed once resolved), against the ticket's own target."""
    target = target_of(ticket)
    if ticket.resolved_at is not None:
        state = SlaState.MET if ticket.resolved_at <= ticket.due_at else SlaState.MISSED
        return SlaStatus(state, ticket.due_at - ticket.resolved_at, target)
    remaining = ticket.due_at - now
    if remaining <= timedelta(0):
        return SlaStatus(SlaState.BREACHED, remaining, target)
    if remaining <= target * AT_RISK_SHARE:
        return SlaStatus(SlaState.AT_RISK, remaining, target)
    return SlaStatus(SlaState.ON_TRACK, remaining, target)


def breached_sql(alias: str, now_param: str) -> str:
    """``evaluate``'s BREACHED for an unresolved ticket as an SQL condition on the ``tickets`` row ``alias``
    (``now_param``: the placeholder of ``now``, see ``handoff.reports.sql.Sql.moment``): no time left. Pages
    count and list a year's backlog with it from the (status, due_at) index instead of evaluating every
    unresolved ticket in Python; only the tickets not yet due need ``evaluate`` to tell at risk from on track."""
    return f"{alias}.due_at <= {now_param}"




# --- Policies: what a supervisor sets, and the choice of a ticket's targets -----------------------------

POLICY_KEY = "sla_policy"
MAX_TARGET = timedelta(days=30)  # a month: anything longer is a typo, not a target
MAX_RULES = 200  # categories x priorities is ~60 today; more is a mistake, and each costs a row on the page


@dataclass(frozen=True, slots=True)
class Rule:
    """Targets for one category (slug), one priority, or both; None where the rule leaves it to the next."""

    category: str | None
    priority: Priority | None
    first_response: timedelta | None = None
    resolution: timedelta | None = None


@dataclass(frozen=True, slots=True)
class SlaPolicy:
    first_response: timedelta = DEFAULT_FIRST_RESPONSE
    resolution: timedelta = DEFAULT_TARGET
    rules: tuple[Rule, ...] = ()
    counting: SlaCounting = SlaCounting.CALENDAR
    pause_when_waiting: bool = False
    warnings: tuple[int, ...] = DEFAULT_WARNINGS
    hours: OperatingHours = field(default_factory=OperatingHours)

    def choose(self, *, category: str | None, priority: Priority) -> tuple[timedelta, timedelta]:
        """(first response, resolution) for a ticket: for each target the most specific rule that sets it
        (category and priority, then category, then priority), else the default."""
        keys: list[tuple[str | None, Priority | None]] = []
        if category is not None:
            keys += [(category, priority), (category, None)]
        keys.append((None, priority))
        by_key = {(rule.category, rule.priority): rule for rule in self.rules}

        def pick(attribute: str, default: timedelta) -> timedelta:
            for key in keys:
                rule = by_key.get(key)
                if rule is not None and (value := getattr(rule, attribute)) is not None:
                    return value  # type: ignore[no-any-return]  # getattr by name: Rule's fields are timedelta | None
            return default

        return pick("first_response", self.first_response), pick("resolution", self.resolution)


class PolicyError(ValueError):
    """A policy a supervisor entered that cannot stand: ``errors`` maps a field to a console catalogue key."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        super().__init__(", ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = dict(errors)


def _minutes(value: timedelta | None) -> float | None:
    return None if value is None else value.total_seconds() / 60


def policy_to_json(policy: SlaPolicy) -> dict[str, Any]:
    return {
        # No default resolution target: that is handoff.operations' (the settings page's "target (hours)"),
        # one setting in one place.
        "first_response_minutes": _minutes(policy.first_response),
        "counting": policy.counting.value,
        "pause_when_waiting": policy.pause_when_waiting,
        "warnings": list(policy.warnings),
        "rules": [{"category": r.category, "priority": r.priority.value if r.priority else None,
                   "first_response_minutes": _minutes(r.first_response),
                   "resolution_minutes": _minutes(r.resolution)} for r in policy.rules],
    }


def _target(raw: object, name: str, errors: dict[str, str], *, optional: bool) -> timedelta | None:
    if raw is None or raw == "":
        if not optional:
            errors[name] = "error_sla_number"
        return None
    try:
        minutes = float(str(raw).strip().replace(",", "."))
    except ValueError:
        errors[name] = "error_sla_number"
        return None
    value = timedelta(minutes=minutes) if math.isfinite(minutes) and abs(minutes) < 1e9 else None
    if value is None or not timedelta(0) < value <= MAX_TARGET:
        errors[name] = "error_sla_range"
        return None
    return value


def policy_from_json(value: Mapping[str, Any], *, hours: OperatingHours,
                     resolution: timedelta = DEFAULT_TARGET) -> SlaPolicy:
    """A policy from its stored or posted form, or PolicyError naming every bad field (targets in minutes).

    The default resolution target is handoff.operations' (``resolution``) unless the value names one.
    Categories are slugs; whether they exist is the caller's check (``check_categories``)."""
    errors: dict[str, str] = {}
    first = _target(value.get("first_response_minutes"), "first_response_minutes", errors, optional=False)
    if "resolution_minutes" in value:
        resolution = _target(value.get("resolution_minutes"), "resolution_minutes", errors,
                             optional=False) or resolution
    try:
        counting = SlaCounting(value.get("counting", SlaCounting.CALENDAR.value))
    except ValueError:
        errors["counting"] = "error_sla_counting"
        counting = SlaCounting.CALENDAR
    if counting == SlaCounting.OPERATING and not any(hours.periods(day) for day in range(7)):
        errors["counting"] = "error_sla_no_hours"
    raw_warnings = value.get("warnings", list(DEFAULT_WARNINGS))
    try:
        warnings = tuple(sorted({int(w) for w in raw_warnings}))
    except (TypeError, ValueError):
        errors["warnings"] = "error_sla_warnings"
        warnings = DEFAULT_WARNINGS
    if len(warnings) > 5 or any(not 1 <= w <= 99 for w in warnings):
        errors["warnings"] = "error_sla_warnings"
    rules: list[Rule] = []
    raw_rules = value.get("rules", [])
    if not isinstance(raw_rules, list) or len(raw_rules) > MAX_RULES:
        errors["rules"] = "error_sla_rules"
        raw_rules = []
    seen: set[tuple[str | None, Priority | None]] = set()
    for n, raw in enumerate(raw_rules):
        if not isinstance(raw, Mapping):
            errors[f"rule_{n}"] = "error_sla_rules"
            continue
        category = str(raw["category"]).strip() or None if raw.get("category") else None
        try:
            priority = Priority(raw["priority"]) if raw.get("priority") else None
        except ValueError:
            errors[f"rule_{n}_priority"] = "error_sla_priority"
            continue
        rule_first = _target(raw.get("first_response_minutes"), f"rule_{n}_first_response_minutes", errors,
                             optional=True)
        rule_resolution = _target(raw.get("resolution_minutes"), f"rule_{n}_resolution_minutes", errors,
                                  optional=True)
        if category is None and priority is None:
            errors[f"rule_{n}"] = "error_sla_rule_empty"
        elif (category, priority) in seen:
            errors[f"rule_{n}"] = "error_sla_rule_twice"
        seen.add((category, priority))
        rules.append(Rule(category, priority, rule_first, rule_resolution))
    if errors:
        raise PolicyError(errors)
    if first is None:  # pragma: no cover  # recorded in errors, raised above
        raise PolicyError({"first_response_minutes": "error_sla_number"})
    return SlaPolicy(first_response=first, resolution=resolution, rules=tuple(rules), counting=counting,
                     pause_when_waiting=bool(value.get("pause_when_waiting", False)), warnings=warnings,
                     hours=hours)


async def check_categories(policy: SlaPolicy) -> None:
    """PolicyError when a rule names a category that does not exist."""
    slugs = {r.category for r in policy.rules if r.category is not None}
    known: set[str] = set()
    if slugs:
        known = {str(slug) for slug in await Category.filter(slug__in=slugs).values_list("slug", flat=True)}
    errors = {f"rule_{n}_category": "error_sla_category" for n, r in enumerate(policy.rules)
              if r.category is not None and r.category not in known}
    if errors:
        raise PolicyError(errors)


async def load_policy(*, hours: OperatingHours | None = None, resolution: timedelta | None = None) -> SlaPolicy:
    """The policy in force: the stored one, else the defaults, with the operating hours and default
    resolution target of handoff.operations (a supervisor's, else ``hours`` and ``resolution``: the
    environment's). A damaged row falls back to the defaults, logged."""
    ops = await load_operations(defaults=defaults_from(hours=hours or OperatingHours(),
                                                       sla=resolution or DEFAULT_TARGET))
    default = SlaPolicy(resolution=ops.sla, hours=ops.hours)
    row = await Setting.get_or_none(key=POLICY_KEY)
    if row is None or not isinstance(row.value, dict):
        return default
    try:
        return policy_from_json(row.value, hours=ops.hours, resolution=ops.sla)
    except PolicyError as problem:
        log.warning("stored SLA policy unreadable (%s); the defaults apply", problem)
        return default


async def save_policy(policy: SlaPolicy) -> None:
    await check_categories(policy)
    value = policy_to_json(policy)
    if not await Setting.filter(key=POLICY_KEY).update(value=value):
        await Setting.create(key=POLICY_KEY, value=value)


# --- Counting time ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Clock:
    """Calendar time, or the care center's operating hours. Hours that never open count as calendar time
    (logged): a ticket must still fall due rather than never."""

    counting: SlaCounting
    hours: OperatingHours

    def add(self, start: datetime, amount: timedelta) -> datetime:
        if self.counting == SlaCounting.OPERATING:
            try:
                return self.hours.add_working(start, amount)
            except ClosedForeverError:
                log.warning("SLA counted in operating hours, but the hours never open: calendar time used")
        return start + amount

    def between(self, start: datetime, end: datetime) -> timedelta:
        if self.counting == SlaCounting.OPERATING and any(self.hours.periods(day) for day in range(7)):
            return self.hours.working_between(start, end)
        return max(end - start, timedelta(0))


# --- A ticket's SLA facts and their evaluation (pure) -------------------------------------------------


class SlaFacts(Timed, Protocol):
    """What ``evaluate_targets`` reads of a ticket (models.Ticket has all of it)."""

    @property
    def first_response_at(self) -> datetime | None: ...

    @property
    def first_response_due_at(self) -> datetime | None: ...

    @property
    def sla_first_response_s(self) -> int | None: ...

    @property
    def sla_resolution_s(self) -> int | None: ...

    @property
    def sla_counting(self) -> SlaCounting: ...

    @property
    def sla_paused_at(self) -> datetime | None: ...

    @property
    def sla_paused_s(self) -> int: ...


@dataclass(frozen=True, slots=True)
class TargetReport:
    target: SlaTarget
    length: timedelta
    due_at: datetime | None  # None while paused: it moves by the length of the pause
    state: SlaState
    elapsed: timedelta  # counted time used (pauses excluded)
    thresholds: tuple[int, ...]  # the notices this target has (warnings and the breach)


@dataclass(frozen=True, slots=True)
class SlaReport:
    counting: SlaCounting
    paused: bool
    targets: tuple[TargetReport, ...]
    due_notices: tuple[tuple[SlaTarget, int], ...]  # reached by ``now``, for targets not yet met
    next_check_at: datetime | None  # when the next notice falls due; None: none left or paused

    def target(self, kind: SlaTarget) -> TargetReport | None:
        return next((t for t in self.targets if t.target == kind), None)


def _lengths(ticket: SlaFacts) -> list[tuple[SlaTarget, timedelta, datetime | None, bool]]:
    """(target, length, done at, has warnings) of each target the ticket was given. A ticket from before
    per-target SLAs has its resolution target only (due_at - opened_at), and only its breach."""
    found: list[tuple[SlaTarget, timedelta, datetime | None, bool]] = []
    if ticket.sla_first_response_s is not None:
        found.append((SlaTarget.FIRST_RESPONSE, timedelta(seconds=ticket.sla_first_response_s),
                      ticket.first_response_at, True))
    if ticket.sla_resolution_s is not None:
        found.append((SlaTarget.RESOLUTION, timedelta(seconds=ticket.sla_resolution_s), ticket.resolved_at, True))
    else:
        found.append((SlaTarget.RESOLUTION, target_of(ticket), ticket.resolved_at, False))
    return found


def evaluate_targets(ticket: SlaFacts, policy: SlaPolicy, now: datetime) -> SlaReport:
    """Both targets of ``ticket`` at ``now``: state, counted time used, due time, the notices reached and
    when the next one falls due. Pure: the policy gives the hours and the warning shares."""
    clock = Clock(ticket.sla_counting, policy.hours)
    paused_at = ticket.sla_paused_at
    paused_for = timedelta(seconds=ticket.sla_paused_s)
    reports: list[TargetReport] = []
    due: list[tuple[SlaTarget, int]] = []
    upcoming: list[datetime] = []
    for kind, length, done_at, warns in _lengths(ticket):
        thresholds = (*policy.warnings, BREACH) if warns else (BREACH,)
        until = done_at or paused_at or now
        elapsed = max(clock.between(ticket.opened_at, min(until, now)) - paused_for, timedelta(0))
        if done_at is not None and done_at <= now:
            state = SlaState.MET if elapsed <= length else SlaState.MISSED
        elif elapsed >= length:
            state = SlaState.BREACHED
        elif elapsed >= length * (1 - AT_RISK_SHARE):
            state = SlaState.AT_RISK
        else:
            state = SlaState.ON_TRACK
        due_at = None if paused_at is not None and done_at is None else clock.add(ticket.opened_at,
                                                                                   length + paused_for)
        reports.append(TargetReport(kind, length, due_at, state, elapsed, thresholds))
        if done_at is not None or paused_at is not None:
            continue  # met targets announce nothing; a paused clock has no next moment until it resumes
        for threshold in thresholds:
            moment = clock.add(ticket.opened_at, length * threshold / 100 + paused_for)
            if moment <= now:
                due.append((kind, threshold))
            else:
                upcoming.append(moment)
    return SlaReport(ticket.sla_counting, paused_at is not None, tuple(reports), tuple(due),
                     min(upcoming, default=None))


@dataclass(frozen=True, slots=True)
class ClockFace:
    """A ticket's resolution clock as the console shows it, from ``evaluate_targets`` (so counted in the
    ticket's own way: operating hours, pauses). ``share``: counted time used over the target. The moments
    at which the page's script recolours it are None while paused: a paused clock does not move."""

    state: SlaState
    share: float
    paused: bool
    due_at: datetime | None
    warning_from: datetime | None
    at_risk_from: datetime | None

    @property
    def warning(self) -> bool:
        """Over half the target used (and not yet at risk or late): the console's amber."""
        return self.state == SlaState.ON_TRACK and self.share >= WARNING_SHARE


def clock_face(ticket: SlaFacts, policy: SlaPolicy, now: datetime) -> ClockFace:
    """The queue's and the ticket page's clock: one rule for its colour, here rather than in a script."""
    report = evaluate_targets(ticket, policy, now)
    target = report.target(SlaTarget.RESOLUTION)
    if target is None:  # pragma: no cover  # _lengths always gives a resolution target
        raise ValueError("a ticket without a resolution target")
    share = target.elapsed / target.length if target.length > timedelta(0) else 1.0
    if report.paused or target.due_at is None:
        return ClockFace(target.state, share, True, None, None, None)
    clock = Clock(ticket.sla_counting, policy.hours)
    paused_for = timedelta(seconds=ticket.sla_paused_s)

    def reached(part: float) -> datetime:  # when the counted time used reaches this share of the target
        return clock.add(ticket.opened_at, target.length * part + paused_for)

    return ClockFace(target.state, share, False, target.due_at, reached(WARNING_SHARE), reached(1 - AT_RISK_SHARE))


# --- Applying the policy to a ticket (opening, status, category and priority changes) -------------------

SLA_FIELDS = ("due_at", "first_response_due_at", "sla_first_response_s", "sla_resolution_s", "sla_counting",
              "sla_pauses", "sla_paused_at", "sla_paused_s", "sla_next_check_at")


def apply(ticket: Ticket, policy: SlaPolicy, now: datetime, *, category: str | None, fresh: bool = False) -> None:
    """Set the ticket's targets from ``policy`` (for its category slug and priority) and its due times.

    ``fresh`` (a ticket opening): the counting and the pause setting are taken from the policy too; later
    they stay what the ticket was promised, and only the targets follow a category or priority change.
    Then pause or resume by the ticket's status, and recompute the due times and the next check."""
    if fresh:
        ticket.sla_counting = policy.counting
        ticket.sla_pauses = policy.pause_when_waiting
    first, resolution = policy.choose(category=category, priority=ticket.priority)
    ticket.sla_first_response_s = int(first.total_seconds())
    ticket.sla_resolution_s = int(resolution.total_seconds())
    follow_status(ticket, policy, now)


def follow_status(ticket: Ticket, policy: SlaPolicy, now: datetime) -> None:
    """Pause while the ticket waits on the user (when it pauses at all), resume otherwise; then the due
    times and the next check. Call after any change of status (or of the fields ``apply`` sets)."""
    clock = Clock(ticket.sla_counting, policy.hours)
    waiting = ticket.sla_pauses and ticket.status == TicketStatus.PENDING
    if waiting and ticket.sla_paused_at is None:
        ticket.sla_paused_at = now
    elif not waiting and ticket.sla_paused_at is not None:
        ticket.sla_paused_s += int(clock.between(ticket.sla_paused_at, now).total_seconds())
        ticket.sla_paused_at = None
    report = evaluate_targets(ticket, policy, now)
    first = report.target(SlaTarget.FIRST_RESPONSE)
    resolution = report.target(SlaTarget.RESOLUTION)
    if first is not None and first.due_at is not None:
        ticket.first_response_due_at = first.due_at
    if resolution is not None and resolution.due_at is not None:
        ticket.due_at = resolution.due_at
    if ticket.status == TicketStatus.RESOLVED:
        ticket.sla_next_check_at = None
    else:
        # A notice reached but not yet sent (a sweep will claim it) keeps the ticket in the sweep's sight.
        ticket.sla_next_check_at = now if report.due_notices else report.next_check_at


async def refresh(ticket: Ticket, *, now: datetime, policy: SlaPolicy | None = None, retarget: bool = False) -> None:
    """Store what ``follow_status`` (or with ``retarget``, ``apply``: category or priority changed) makes of
    the ticket now. The caller has already saved the change itself."""
    policy = policy or await load_policy()
    if retarget:
        category = await Category.get_or_none(id=ticket.category_id) if ticket.category_id else None
        apply(ticket, policy, now, category=category.slug if category else None)
    else:
        follow_status(ticket, policy, now)
    await ticket.save(update_fields=list(SLA_FIELDS))


# --- The sweep: each notice exactly once ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Notice:
    ticket_id: int
    target: SlaTarget
    threshold: int
    due_at: datetime | None

    @property
    def breach(self) -> bool:
        return self.threshold >= BREACH


Publish = Callable[[str, dict[str, Any]], None]
# Called inside the claims' transaction (so its rows commit with the claim or not at all): handoff.notify
# queues the breach e-mails to the supervisors there.
OnNotice = Callable[[Ticket, Notice], Awaitable[object]]

SWEEP_BATCH = 500  # tickets read per query: memory stays flat however many fall due at once


async def sweep(*, now: datetime, policy: SlaPolicy | None = None, publish: Publish | None = None,
                on_notice: OnNotice | None = None) -> int:
    """Announce every SLA warning and breach reached by ``now``; returns how many were newly announced.

    Safe to run twice, after a restart, or in two processes at once. When a ticket passed several
    thresholds of one target since the last sweep (the process was down across them), only the highest
    is announced; the lower ones are claimed silently, so nobody gets a stale 50 % warning after a breach.
    """
    policy = policy or await load_policy()
    announced = 0
    after_id = 0
    while True:
        batch = await (Ticket.filter(sla_next_check_at__lte=now, status__in=UNRESOLVED, id__gt=after_id)
                       .order_by("id").limit(SWEEP_BATCH))
        if not batch:
            break
        after_id = batch[-1].id
        announced += await _sweep_batch(batch, policy, now, publish=publish, on_notice=on_notice)
    if announced:
        log.info("SLA sweep: %d notice(s) announced", announced)
    return announced


async def _sweep_batch(tickets: list[Ticket], policy: SlaPolicy, now: datetime, *, publish: Publish | None,
                       on_notice: OnNotice | None) -> int:
    """Claim a batch's notices in one transaction: insert every reached (ticket, target, threshold) with
    this batch's claim token, skipping keys that exist (ON CONFLICT DO NOTHING), and read back the rows
    that carry the token: those, and only those, are this sweep's to announce. Their events (and what
    ``on_notice`` adds) commit with them, or nothing does. Rows go in in (ticket, target, threshold) order,
    the same in every sweep, so two sweeps racing on PostgreSQL wait for each other, never deadlock."""
    reports = {ticket.id: evaluate_targets(ticket, policy, now) for ticket in tickets}
    by_id = {ticket.id: ticket for ticket in tickets}
    loud: set[tuple[int, SlaTarget, int]] = set()
    rows: list[SlaNotice] = []
    token = uuid.uuid4().hex
    for ticket in tickets:
        highest: dict[SlaTarget, int] = {}
        for kind, threshold in reports[ticket.id].due_notices:
            highest[kind] = max(threshold, highest.get(kind, 0))
            rows.append(SlaNotice(ticket_id=ticket.id, target=kind, threshold=threshold, created_at=now,
                                  claim=token))
        loud |= {(ticket.id, kind, threshold) for kind, threshold in highest.items()}
    mine: list[Notice] = []
    if rows:
        async with in_transaction():
            await SlaNotice.bulk_create(rows, ignore_conflicts=True)
            for row in await SlaNotice.filter(claim=token).order_by("ticket_id", "target", "threshold"):
                if (row.ticket_id, row.target, row.threshold) not in loud:
                    continue  # passed while nobody looked, below a higher one: claimed silently
                target = reports[row.ticket_id].target(row.target)
                mine.append(Notice(row.ticket_id, row.target, row.threshold, target.due_at if target else None))
            await TicketEvent.bulk_create([
                TicketEvent(ticket_id=n.ticket_id, kind="sla_breached" if n.breach else "sla_warning",
                            actor_kind=ActorKind.SYSTEM,
                            data={"target": n.target.value, "threshold": n.threshold,
                                  "due_at": n.due_at.isoformat() if n.due_at else None})
                for n in mine])
            breached = [n.ticket_id for n in mine if n.breach and n.target == SlaTarget.RESOLUTION]
            if breached:  # the reports' "breached" figure (handoff.reports) reads this column
                await Ticket.filter(id__in=breached, breached_at=None).update(breached_at=now)
            if on_notice is not None:
                for notice in mine:
                    await on_notice(by_id[notice.ticket_id], notice)
    if publish is not None:  # after the commit: a browser never hears of a notice that did not happen
        cache: dict[tuple[bool, int | None, int | None], list[int]] = {}
        for notice in mine:
            ticket = by_id[notice.ticket_id]
            key = (notice.breach, ticket.assignee_id, ticket.team_id)
            if key not in cache:
                cache[key] = await recipients(ticket, breach=notice.breach)
            publish("sla.breach" if notice.breach else "sla.warning",
                    {"ticket_id": ticket.id, "target": notice.target.value, "threshold": notice.threshold,
                     "recipients": cache[key]})
    # One commit for the batch (a commit per ticket cost PostgreSQL a WAL flush each: 10 ms apiece).
    async with in_transaction():
        for ticket in tickets:
            # Conditional on what this sweep read: a change made meanwhile (a reply, a resume) wins.
            await Ticket.filter(id=ticket.id, sla_next_check_at=ticket.sla_next_check_at).update(
                sla_next_check_at=reports[ticket.id].next_check_at)
    return len(mine)


async def recipients(ticket: Ticket, *, breach: bool) -> list[int]:
    """Console users a notice is for: supervisors for a breach; for a warning the assigned agent, else the
    ticket's team, else every active agent. Ids only: the live event carries no personal data."""
    if breach:
        supervisors = await User.filter(role=UserRole.SUPERVISOR, active=True).order_by("id").only("id")
        return [user.id for user in supervisors]
    if ticket.assignee_id is not None:
        return [ticket.assignee_id]
    agents = User.filter(role=UserRole.AGENT, active=True)
    if ticket.team_id is not None:
        agents = agents.filter(teams__id=ticket.team_id)
    return [user.id for user in await agents.order_by("id").only("id")]

