"""What every channel hands to the flow."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from models import ChannelKind

# Longer messages are kept whole in the database but only this much is classified: a question that
# needs 10,000 characters is one for a person anyway.
MAX_CLASSIFIED_CHARS = 2000


@dataclass(frozen=True, slots=True)
class InboundMessage:
    channel: ChannelKind
    external_id: str  # the user's address on the channel (chat id, WhatsApp number, session id)
    provider_message_id: str  # unique per channel: re-deliveries carry the same one
    text: str
    received_at: datetime
    display_name: str = ""
    phone: str | None = None
    email: str | None = None
    # The language the user chose in the channel's own interface (the web chat's toggle), if any.
    language_hint: str | None = None
    # Kept for audit only; nothing past the channel adapter reads it.
    raw: Mapping[str, Any] = field(default_factory=dict)


def split_message(text: str, limit: int) -> list[str]:
    """Cut a long reply into parts a provider accepts, preferring line breaks, then spaces."""
    parts: list[str] = []
    rest = text
    while len(rest) > limit:
        cut = rest.rfind("\n", 0, limit)
        if cut < limit // 2:
            cut = rest.rfind(" ", 0, limit)
        if cut < limit // 2:
            cut = limit
        parts.append(rest[:cut])
        rest = rest[cut:].lstrip("\n ")
    if rest or not parts:
        parts.append(rest)
    return parts
