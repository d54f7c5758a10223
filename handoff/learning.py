"""Agents teach the classifier: every ticket closed with a category is a confirmed example."""

from __future__ import annotations

from models import Direction, Message, Ticket, TicketStatus


async def confirmed_examples() -> list[tuple[str, str]]:
    """(first user message, confirmed category slug) for each resolved ticket that has a category."""
    examples: list[tuple[str, str]] = []
    tickets = await Ticket.filter(status=TicketStatus.RESOLVED, category_id__not_isnull=True).prefetch_related(
        "category"
    )
    for ticket in tickets:
        text = ticket.subject
        if not text:
            first = await Message.filter(ticket=ticket, direction=Direction.INBOUND).order_by("id").first()
            text = first.text if first else ""
        if text.strip() and ticket.category is not None:
            examples.append((text, ticket.category.slug))
    return examples
