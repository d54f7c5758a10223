"""SOP step 7, "the agent categorizes the ticket": when a ticket's category counts, defined here once.

A ticket opens with the classifier's guess as its category, because the category chooses the team that
sees it. A guess is not a fact: the category counts once an agent has **confirmed** it, by keeping the
guess (one click) or by choosing another one (``handoff.actions.categorize``), which records who, when and
whether they kept the guess. Until then the console shows it as unconfirmed, and an agent's close (the
console's button, the API's ``close`` action) is refused.

Everything that reads "the ticket's category" as the care center's answer reads confirmed categories
only, through :func:`confirmed_sql`: the retraining examples (``handoff.learning``), the dashboard's
agreement with the classifier, the monthly report's categorization completeness and the export's
"category confirmed" column. A guess nobody looked at is neither a training example nor evidence that
the classifier was right.

Closures by the system are not refused. Today only agents close tickets; a ticket the bot or a sweep
resolves later (``handoff.tickets.resolve_ticket`` without an actor) closes with its category unconfirmed
and is counted as such ("closed without a confirmed category" on the dashboard), where a supervisor can
confirm it afterwards. That is how the helpdesks we follow draw the line: Zendesk's "required to solve"
ticket fields bind agents solving a ticket, not its business rules (triggers, automations), and Zammad's
core workflows, where "required" is set, shape the agents' forms and API calls but leave triggers and
the scheduler out of their scope. A sweep cannot know the right category; refusing it would leave the
ticket open forever, and filling in the guess would make the figures lie again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from handoff.reports.sql import Sql
from models import Category, Ticket, TicketStatus


def confirmed_sql(alias: str) -> str:
    """The rule as an SQL condition on the ``tickets`` row called ``alias``: it has a category, and an
    agent confirmed it. (A confirmed category that was later removed no longer counts.)"""
    return f"({alias}.category_id IS NOT NULL AND {alias}.category_confirmed_at IS NOT NULL)"


def is_confirmed(ticket: Ticket) -> bool:
    """The same rule for one loaded ticket (pages, and the check before an agent closes it)."""
    return ticket.category_id is not None and ticket.category_confirmed_at is not None


def agrees_with_guess(category: Category, predicted: str | None) -> bool | None:
    """Whether the agent kept the classifier's guess; None when it made none (nothing to agree with)."""
    return None if predicted is None else category.slug == predicted


@dataclass(frozen=True, slots=True)
class ConfirmedTicket:
    ticket_id: int
    number: str
    subject: str
    predicted: str | None
    category: str  # the confirmed category's slug
    opened_at: datetime | None
    resolved_at: datetime | None


def _moment(value: object) -> datetime | None:
    """SQLite hands datetimes back as the UTC text Tortoise stored, PostgreSQL as aware datetimes."""
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))


async def confirmed_tickets(*, resolved_only: bool = True, predicted_only: bool = False,
                            newest_first: bool = False) -> list[ConfirmedTicket]:
    """Tickets whose category an agent confirmed (closed ones only, unless ``resolved_only`` is False):
    the retraining examples and the corrections (``handoff.learning``)."""
    sql = Sql()
    where = [confirmed_sql("t")]
    if resolved_only:
        where.append(f"t.status = {sql(TicketStatus.RESOLVED.value)}")
    if predicted_only:
        where.append("t.predicted_category IS NOT NULL")
    rows = await sql.rows(
        "SELECT t.id, t.number, t.subject, t.predicted_category, t.opened_at, t.resolved_at, k.slug FROM tickets t "
        f"JOIN categories k ON k.id = t.category_id WHERE {' AND '.join(where)} "
        f"ORDER BY t.id {'DESC' if newest_first else 'ASC'}"
    )
    return [
        ConfirmedTicket(ticket_id=int(r["id"]), number=str(r["number"] or r["id"]), subject=str(r["subject"] or ""),
                        predicted=r["predicted_category"], category=str(r["slug"]),
                        opened_at=_moment(r["opened_at"]), resolved_at=_moment(r["resolved_at"]))
        for r in rows
    ]


async def agreement(*, resolved_since: datetime) -> list[tuple[str, int, int]]:
    """(classifier's guess, confirmed category id, tickets) over tickets resolved since a moment whose
    category an agent confirmed and the classifier had guessed: the dashboard's agreement figure."""
    sql = Sql()
    rows = await sql.rows(
        "SELECT t.predicted_category AS p, t.category_id AS c, COUNT(*) AS n FROM tickets t "
        # The status is implied by resolved_at (no ticket leaves "resolved"), and says so to the planner:
        # without it PostgreSQL's estimate could pick an index read by "category_id IS NOT NULL" alone.
        f"WHERE t.status = {sql(TicketStatus.RESOLVED.value)} "
        f"AND t.resolved_at >= {sql.moment(resolved_since)} AND t.predicted_category IS NOT NULL "
        f"AND {confirmed_sql('t')} GROUP BY t.predicted_category, t.category_id"
    )
    return [(str(r["p"]), int(r["c"]), int(r["n"])) for r in rows]


async def closed_unconfirmed() -> int:
    """Closed tickets whose category no agent confirmed (closed by the system, or from before migration 0015):
    the dashboard's exception, which a supervisor clears by confirming them."""
    sql = Sql()
    closed = sql(TicketStatus.RESOLVED.value)
    # NOT confirmed_sql, split into its two disjoint halves (never confirmed; confirmed, then the category
    # removed) so that each is a seek on an index (migration 0025) to the few such tickets: as one
    # condition, the databases read every closed ticket ever (tens of milliseconds at 100,000).
    rows = await sql.rows(
        f"SELECT (SELECT COUNT(*) FROM tickets t WHERE t.status = {closed} AND t.category_confirmed_at IS NULL) "
        f"+ (SELECT COUNT(*) FROM tickets t WHERE t.status = {closed} AND t.category_id IS NULL "
        "AND t.category_confirmed_at IS NOT NULL) AS n"
    )
    return int(rows[0]["n"] or 0)
