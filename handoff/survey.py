"""The satisfaction survey after an agent closes a ticket: one per ticket, 1-5, and 1-2 flags the ticket."""

from __future__ import annotations

import logging
from datetime import datetime

from handoff.tickets import add_event
from models import ActorKind, Conversation, Ticket

log = logging.getLogger(__name__)

RATINGS = frozenset({"1", "2", "3", "4", "5"})
FLAG_AT_OR_BELOW = 2


def parse_rating(text: str) -> int | None:
    answer = text.strip().strip("!.⭐ ")
    return int(answer) if answer in RATINGS else None


async def record_survey(*, conversation: Conversation, rating: int, now: datetime) -> Ticket | None:
    """Store the rating on the conversation's surveyed ticket; None when no survey is waiting for one."""
    ticket = (
        # By contact: the survey goes out where the person wrote last, not always on the ticket's channel.
        await Ticket.filter(contact_id=conversation.contact_id,  # type: ignore[attr-defined]
                            survey_sent_at__not_isnull=True, survey_rating=None)
        .order_by("-id")
        .first()
    )
    if ticket is None:
        return None
    flagged = rating <= FLAG_AT_OR_BELOW
    # Conditional, so a re-delivered or doubled answer cannot overwrite the first one.
    updated = await Ticket.filter(id=ticket.id, survey_rating=None).update(
        survey_rating=rating, survey_answered_at=now, flagged=flagged
    )
    if not updated:
        return None
    await ticket.refresh_from_db()
    await add_event(ticket=ticket, kind="survey_answered", actor_kind=ActorKind.USER,
                    data={"rating": rating, "flagged": flagged})
    log.info("survey answered on ticket %s (rating %d)", ticket.number, rating)
    return ticket
