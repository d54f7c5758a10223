"""The 24-hour target: a pure evaluation and an idempotent sweep that records each breach exactly once."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from tortoise.transactions import in_transaction

from handoff.tickets import UNRESOLVED, add_event
from models import ActorKind, Ticket

log = logging.getLogger(__name__)


class SlaState(StrEnum):
    ON_TRACK = "on_track"
    AT_RISK = "at_risk"
    BREACHED = "breached"
    MET = "met"
    MISSED = "missed"  # resolved, but after the due time


@dataclass(frozen=True, slots=True)
class SlaPolicy:
    target: timedelta = timedelta(hours=24)
    at_risk_share: float = 0.25  # the last quarter of the target is "at risk"


@dataclass(frozen=True, slots=True)
class SlaStatus:
    state: SlaState
    remaining: timedelta  # negative once past due


def evaluate(
    *, opened_at: datetime, due_at: datetime, resolved_at: datetime | None, policy: SlaPolicy, now: datetime
) -> SlaStatus:
    if resolved_at is not None:
        state = SlaState.MET if resolved_at <= due_at else SlaState.MISSED
        return SlaStatus(state, due_at - resolved_at)
    remaining = due_at - now
    if remaining <= timedelta(0):
        return SlaStatus(SlaState.BREACHED, remaining)
    if remaining <= policy.target * policy.at_risk_share:
        return SlaStatus(SlaState.AT_RISK, remaining)
    return SlaStatus(SlaState.ON_TRACK, remaining)


async def sweep(*, now: datetime) -> int:
    """Mark open tickets past due; returns how many were newly breached. Safe to run twice or concurrently."""
    breached = 0
    overdue = await Ticket.filter(status__in=UNRESOLVED, due_at__lte=now, breached_at=None)
    for ticket in overdue:
        async with in_transaction():
            # The conditional update is the guard: a second sweep (or process) updates zero rows.
            updated = await Ticket.filter(id=ticket.id, breached_at=None).update(breached_at=now)
            if updated:
                await add_event(
                    ticket=ticket,
                    kind="sla_breached",
                    actor_kind=ActorKind.SYSTEM,
                    data={"due_at": ticket.due_at.isoformat()},
                )
                breached += updated
    if breached:
        log.warning("SLA sweep: %d ticket(s) newly past the target", breached)
    return breached
