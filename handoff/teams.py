"""Teams: agents belong to teams, categories map to a team, and a ticket's team follows its category.

Who sees a ticket, everywhere (queue, ticket page, live updates, /api/v1): a supervisor sees all; with no
team configured every agent sees all (the product as it was); otherwise an agent sees the tickets of
their teams, tickets without a team (their category maps to none) and tickets assigned to them. Anyone
else gets "not found", so ticket ids cannot be probed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from tortoise.expressions import Q
from tortoise.queryset import QuerySet

from handoff.actions import is_supervisor
from handoff.reports.sql import Sql
from models import ApiToken, Category, Team, Ticket, TicketStatus, User, UserRole


async def visible_teams(user: User) -> frozenset[int] | None:
    """The team ids whose tickets ``user`` sees, or None when they see every ticket."""
    if is_supervisor(user) or not await Team.exists():
        return None
    return frozenset(await Team.filter(members__id=user.id).values_list("id", flat=True))  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class Visibility:
    """The tickets someone sees when teams narrow it: those without a team, those of ``team_ids``, and those
    assigned to ``user_id``. One rule, as an ORM filter and as SQL (the ticket list's own statements)."""

    user_id: int | None
    team_ids: frozenset[int]

    def q(self) -> Q:
        condition = Q(team_id=None)
        if self.team_ids:
            condition |= Q(team_id__in=sorted(self.team_ids))
        if self.user_id is not None:
            condition |= Q(assignee_id=self.user_id)
        return condition

    def sql(self, sql: Sql, alias: str = "t") -> str:
        terms = [f"{alias}.team_id IS NULL"]
        if self.team_ids:
            terms.append(f"{alias}.team_id IN ({', '.join(sql(i) for i in sorted(self.team_ids))})")
        if self.user_id is not None:
            terms.append(f"{alias}.assignee_id = {sql(self.user_id)}")
        return f"({' OR '.join(terms)})"


async def visibility(user: User) -> Visibility | None:
    """What ``user`` sees, or None when they see every ticket."""
    team_ids = await visible_teams(user)
    return None if team_ids is None else Visibility(user.id, team_ids)


async def scope(query: QuerySet[Ticket], user: User) -> QuerySet[Ticket]:
    """``query`` narrowed to the tickets ``user`` may see."""
    seen = await visibility(user)
    return query if seen is None else query.filter(seen.q())


async def token_visibility(token: ApiToken) -> Visibility | None:
    """API tokens see what their console user sees; a read-only agent token sees tickets without a team."""
    user = await User.get_or_none(id=token.user_id) if token.user_id else None
    if user is not None:
        return await visibility(user)
    if token.role == UserRole.SUPERVISOR or not await Team.exists():
        return None
    return Visibility(None, frozenset())


async def scope_for_token(query: QuerySet[Ticket], token: ApiToken) -> QuerySet[Ticket]:
    seen = await token_visibility(token)
    return query if seen is None else query.filter(seen.q())


async def can_see(user: User, ticket: Ticket) -> bool:
    team_ids = await visible_teams(user)
    if team_ids is None:
        return True
    team_id = ticket.team_id
    return team_id is None or team_id in team_ids or ticket.assignee_id == user.id


async def can_see_id(user: User, ticket_id: int) -> bool:
    ticket = await Ticket.get_or_none(id=ticket_id)
    return ticket is not None and await can_see(user, ticket)


async def agents_of(team_id: int | None) -> frozenset[int] | None:
    """Who automatic assignment may pick for a ticket of ``team_id``; None: anyone."""
    if team_id is None:
        return None
    return frozenset(await User.filter(teams__id=team_id).values_list("id", flat=True))  # type: ignore[arg-type]


async def set_user_teams(user: User, team_ids: Iterable[int]) -> list[str]:
    """Make ``user`` a member of exactly these teams (unknown ids ignored); returns the team names."""
    wanted = await Team.filter(id__in=list(team_ids))
    await user.teams.clear()
    if wanted:
        await user.teams.add(*wanted)
    return sorted(t.name for t in wanted)


async def retag_category_tickets(category: Category) -> int:
    """Open tickets of a category follow a change of its team."""
    return await Ticket.filter(category_id=category.id).exclude(status=TicketStatus.RESOLVED).update(
        team_id=category.team_id
    )
