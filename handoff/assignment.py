"""Automatic assignment among agents who are available: fewest open tickets first, within each agent's
capacity, round robin on ties; a ticket whose agent has not answered within N minutes of operating hours
goes to the next. A helpdesk service: the console (handoff.console.assignment) only runs it.

Only inside operating hours (``hours``: the supervisor's, read each round): out of hours nothing is offered
or re-offered, so tickets wait for the next opening instead of bouncing between absent agents all night;
the user was told that opening when the ticket opened (the bot's out-of-hours message names it). The
"not answered in time" clock counts operating time too, so an offer made at 15:55 is re-offered at 08:05
the next working day, not at 16:05.

Every change is a conditional UPDATE (assignee still what we read, no first response yet), so it is
safe beside agents taking tickets by hand and beside a second process doing the same.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from handoff.hours import OperatingHours
from handoff.teams import agents_of
from handoff.tickets import add_event
from models import (
    UNRESOLVED,
    ActorKind,
    Conversation,
    ConversationStatus,
    Ticket,
    TicketEvent,
    TicketStatus,
    User,
    UserRole,
)

log = logging.getLogger(__name__)

AUTO_KINDS = frozenset({"auto_assigned", "reoffered"})
ASSIGNMENT_KINDS = AUTO_KINDS | {"taken", "assigned"}


@dataclass(slots=True)
class Assigner:
    answer_within: timedelta | None = timedelta(minutes=10)  # None: never re-offer
    # The operating hours in force (read each round, so a supervisor's change applies); None: always open.
    hours: Callable[[], Awaitable[OperatingHours]] | None = None
    # Round robin on ties: who got a ticket least recently (per process; a restart starts fair again).
    _last: dict[int, datetime] = field(default_factory=dict)

    async def pick(self, *, exclude: frozenset[int] = frozenset(), team_id: int | None = None) -> User | None:
        """The best available agent; for a ticket of a team, among that team's members only."""
        members = await agents_of(team_id)
        agents = [a for a in await User.filter(active=True, available=True, role=UserRole.AGENT)
                  if a.id not in exclude and (members is None or a.id in members)]
        if not agents:
            return None
        open_tickets = await Ticket.filter(assignee_id__in=[a.id for a in agents], status__in=UNRESOLVED).only(
            "id", "assignee_id"
        )
        load: Counter[int] = Counter(t.assignee_id for t in open_tickets if t.assignee_id is not None)
        free = [a for a in agents if load[a.id] < a.capacity]
        if not free:
            return None
        epoch = datetime.min.replace(tzinfo=UTC)
        return min(free, key=lambda a: (load[a.id], self._last.get(a.id, epoch), a.id))

    async def assign(self, *, ticket_id: int, now: datetime) -> User | None:
        """Give an unassigned ticket to the best available agent; None when nobody can take it."""
        current = await Ticket.get_or_none(id=ticket_id)
        if current is None:
            return None
        agent = await self.pick(team_id=current.team_id)
        if agent is None:
            return None
        updated = (
            await Ticket.filter(id=ticket_id, assignee_id=None)
            .exclude(status=TicketStatus.RESOLVED)
            .update(assignee_id=agent.id)
        )
        if not updated:  # someone took it by hand meanwhile
            return None
        self._last[agent.id] = now
        ticket = await Ticket.get(id=ticket_id)
        await Conversation.filter(id=ticket.conversation_id).update(
            status=ConversationStatus.OPEN, updated_at=now
        )
        await add_event(ticket=ticket, kind="auto_assigned", actor_kind=ActorKind.SYSTEM,
                        data={"to": agent.id, "at": now.isoformat()})
        log.info("ticket %s auto-assigned to user %s", ticket.number, agent.id)
        return agent

    async def _hours(self) -> OperatingHours | None:
        return await self.hours() if self.hours is not None else None

    async def run_round(self, *, now: datetime) -> int:
        """One round: the backlog, then the re-offers; nothing outside operating hours."""
        hours = await self._hours()
        if hours is not None and not hours.is_open(now):
            return 0
        return await self.assign_backlog(now=now) + await self.reoffer_unanswered(now=now, hours=hours)

    async def assign_backlog(self, *, now: datetime, limit: int = 50) -> int:
        """Unassigned tickets, most urgent first, while someone has room."""
        assigned = 0
        backlog = await Ticket.filter(assignee_id=None, status__in=UNRESOLVED).order_by(
            "due_at"
        ).limit(limit).only("id")
        for ticket in backlog:
            # Not "stop at the first miss": with teams, one team being full says nothing of another.
            if await self.assign(ticket_id=ticket.id, now=now) is not None:
                assigned += 1
        return assigned

    async def reoffer_unanswered(self, *, now: datetime, hours: OperatingHours | None = None) -> int:
        """Tickets given automatically but not answered in time (operating time, with ``hours``) go to the
        next agent."""
        if self.answer_within is None:
            return 0
        moved = 0
        waiting = await Ticket.filter(assignee_id__not_isnull=True, first_response_at=None, status__in=UNRESOLVED)
        for ticket in waiting:
            last = await TicketEvent.filter(ticket=ticket, kind__in=list(ASSIGNMENT_KINDS)).order_by("-id").first()
            if last is None or last.kind not in AUTO_KINDS:
                continue  # taken or assigned by a person: theirs until they hand it on
            at = datetime.fromisoformat(str(last.data.get("at"))) if last.data.get("at") else last.created_at
            waited = hours.working_between(at, now) if hours is not None else now - at
            if waited < self.answer_within:
                continue
            current = ticket.assignee_id
            others = frozenset() if current is None else frozenset({current})
            agent = await self.pick(exclude=others, team_id=ticket.team_id)
            if agent is None:
                continue
            updated = await Ticket.filter(id=ticket.id, assignee_id=current, first_response_at=None).update(
                assignee_id=agent.id
            )
            if updated:
                self._last[agent.id] = now
                await add_event(ticket=ticket, kind="reoffered", actor_kind=ActorKind.SYSTEM,
                                data={"from": current, "to": agent.id, "at": now.isoformat()})
                log.info("ticket %s re-offered from user %s to user %s", ticket.number, current, agent.id)
                moved += 1
        return moved
