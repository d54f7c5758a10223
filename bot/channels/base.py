"""What every channel hands to the flow."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Coroutine, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from models import ChannelKind

log = logging.getLogger(__name__)

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


class Handler(Protocol):
    """Where a channel hands what it received (``bot.inbound.InboundWorker.accept``).

    By default it returns once the delivery is kept (a receipt), before the message is stored: what a
    webhook answers its provider after. ``at_once=True`` returns once the message row itself exists (a
    poller that keeps the message's files on that row straight after)."""

    def __call__(self, message: InboundMessage, /, *, at_once: bool = False) -> Awaitable[object]: ...


@runtime_checkable
class FetchesFiles(Protocol):
    """A channel whose messages name files to download from the provider (WhatsApp media, Telegram
    getFile). Called once the message row exists, so the files are kept on it; the download runs in
    the background and never holds up the turn."""

    def fetch_files(self, message: InboundMessage) -> None: ...


class Downloads:
    """Provider file downloads running in the background once their message is stored: a failure is logged
    (nobody else would hear of it), and shutdown and tests can wait for those still in flight."""

    def __init__(self, channel: str) -> None:
        self.channel = channel
        self._tasks: set[asyncio.Task[None]] = set()

    def start(self, work: Coroutine[Any, Any, None], *, provider_message_id: str) -> None:
        task = asyncio.create_task(self._logged(work, provider_message_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _logged(self, work: Coroutine[Any, Any, None], provider_message_id: str) -> None:
        try:
            await work
        except Exception:
            log.exception("keeping the files of %s message %s failed", self.channel, provider_message_id)

    async def settle(self) -> None:
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)


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
