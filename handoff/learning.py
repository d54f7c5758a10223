"""Agents teach the classifier: every ticket closed with a category is a confirmed example."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

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


@dataclass(frozen=True, slots=True)
class RetrainSettings:
    """Where retraining from the console reads and writes. The data files replace the shipped Edunex
    training and test files when set (NLP_TRAIN_DATA / NLP_TEST_DATA); tests point them at tiny files."""

    model_dir: Path
    train_data: Path | None = None
    test_data: Path | None = None


@dataclass(frozen=True, slots=True)
class Correction:
    ticket_id: int
    number: str
    predicted: str
    confirmed: str
    subject: str
    at: datetime | None


async def corrections(*, limit: int = 30) -> tuple[Counter[tuple[str, str]], list[Correction]]:
    """Where agents changed the bot's category: counts of (bot's guess, agent's category), and the latest."""
    tickets = await Ticket.filter(predicted_category__not_isnull=True, category_id__not_isnull=True).prefetch_related(
        "category"
    ).order_by("-id")
    counts: Counter[tuple[str, str]] = Counter()
    recent: list[Correction] = []
    for ticket in tickets:
        if ticket.category is None or ticket.category.slug == ticket.predicted_category:
            continue
        pair = (ticket.predicted_category or "", ticket.category.slug)
        counts[pair] += 1
        if len(recent) < limit:
            recent.append(Correction(ticket_id=ticket.id, number=ticket.number or str(ticket.id), predicted=pair[0],
                                     confirmed=pair[1], subject=ticket.subject[:140],
                                     at=ticket.resolved_at or ticket.opened_at))
    return counts, recent
