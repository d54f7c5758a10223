"""Agents teach the classifier: every closed ticket whose category an agent confirmed is an example.

Only confirmed categories (handoff.categorization): a guess nobody looked at would teach the classifier
its own mistakes, and would count as the agents agreeing with it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from handoff.categorization import confirmed_tickets
from models import Direction, Message


async def confirmed_examples() -> list[tuple[str, str]]:
    """(first user message, confirmed category slug) for each resolved ticket an agent categorized."""
    examples: list[tuple[str, str]] = []
    for ticket in await confirmed_tickets():
        text = ticket.subject
        if not text:
            first = await Message.filter(ticket_id=ticket.ticket_id, direction=Direction.INBOUND).order_by("id").first()
            text = first.text if first else ""
        if text.strip():
            examples.append((text, ticket.category))
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
    """Where agents changed the bot's category (confirmed categories, open tickets too): counts of (bot's
    guess, agent's category), and the latest."""
    counts: Counter[tuple[str, str]] = Counter()
    recent: list[Correction] = []
    for ticket in await confirmed_tickets(resolved_only=False, predicted_only=True, newest_first=True):
        if ticket.category == ticket.predicted:
            continue
        pair = (ticket.predicted or "", ticket.category)
        counts[pair] += 1
        if len(recent) < limit:
            recent.append(Correction(ticket_id=ticket.ticket_id, number=ticket.number, predicted=pair[0],
                                     confirmed=pair[1], subject=ticket.subject[:140],
                                     at=ticket.resolved_at or ticket.opened_at))
    return counts, recent
