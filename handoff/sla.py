"""The SLA rule, in one place: the default target, the choice of a ticket's targets when it opens, and
``evaluate(ticket, now)``; plus the idempotent sweep that records each breach exactly once.

A ticket carries its own target: it is due ``target`` after it opened (``due_at - opened_at``), chosen
once by ``targets_for`` (the supervisor's setting today, per category and priority later). So a ticket
is judged against the target it was given, whatever the setting says by now, and nothing else (pages,
/api/v1, the console's script) needs a policy: they show the due time and the moments computed here.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol

from tortoise.transactions import in_transaction

from models import UNRESOLVED, ActorKind, Ticket, TicketEvent

log = logging.getLogger(__name__)

# Every ticket is due this long after it opens unless SLA_HOURS or a supervisor (handoff.operations) says
# otherwise: the one place the 24 hours are written.
DEFAULT_TARGET = timedelta(hours=24)
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


async def sweep(*, now: datetime) -> int:
    """Mark open tickets past due; returns how many were newly breached. Safe to run twice or concurrently."""
    breached = 0
    overdue = await Ticket.filter(status__in=UNRESOLVED, due_at__lte=now, breached_at=None)
    for ticket in overdue:
        async with in_transaction():
            # The conditional update is the guard: a second sweep (or process) updates zero rows.
            updated = await Ticket.filter(id=ticket.id, breached_at=None).update(breached_at=now)
            if updated:
                # handoff.tickets.add_event's row, written here: tickets opens tickets with targets_for.
                await TicketEvent.create(ticket=ticket, kind="sla_breached", actor_kind=ActorKind.SYSTEM,
                                         data={"due_at": ticket.due_at.isoformat()})
                breached += updated
    if breached:
        log.warning("SLA sweep: %d ticket(s) newly past the target", breached)
    return breached
