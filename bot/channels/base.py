"""The one channel seam: what a channel is (``ChannelBase``), what it hands to the flow (``InboundMessage``
through a ``Handler``), and the optional file fetch (``FetchesFiles``).

A channel is one class in one file of ``bot/channels``: its ``kind``, its declared ``capabilities``,
``from_settings`` (None when its settings are absent, so it stays off), ``setup`` (mount webhooks, start
pollers and clients in the app's cleanup context), ``send``, and, when its messages name files to fetch
from the provider, ``fetch_files``. ``bot.channels.registry.CHANNELS`` lists the classes, the web chat
among them. Every channel hands what it received to the same ``Handler``. The helpdesk
sees only ``handoff.delivery.Channel`` (kind, buttons, ``send``) and ``Capabilities``: it never imports
a channel.
"""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, Self, runtime_checkable

from handoff.delivery import Capabilities, OutboundMessage, SendResult
from handoff.webinput import clean_text
from models import ChannelKind

if TYPE_CHECKING:
    from aiohttp import web

    from bot.config import Settings
    from handoff.attachments import AttachmentStore

log = logging.getLogger(__name__)

# What one message puts in the database, on every channel: the providers' own limit for a text
# (Telegram 4096, WhatsApp 4096). The store step (bot.conversation.ingest) cuts a longer text (a careless or forged
# provider, a log pasted into the web chat, a long mail) to this, keeps the whole of it as a text file on
# the message for the agent, and the turn hands it to a person. Every step after the store (identity,
# language, classifier) reads at most this much of a message.
MAX_STORED_CHARS = 4096
# Of the stored text, the classifier reads this much: a question that needs more is one for a person.
MAX_CLASSIFIED_CHARS = 2000
# The raw provider payload is kept for audit, not as a second copy of a long text: its strings are cut
# to MAX_STORED_CHARS, its lists and objects to this many items, this many levels deep.
MAX_PAYLOAD_ITEMS = 100
MAX_PAYLOAD_DEPTH = 16
CUT_MARK = "…"


def audit_payload(raw: Mapping[str, Any]) -> dict[str, Any]:
    """A provider payload bounded for keeping: same shape, long strings and long lists cut (CUT_MARK)."""
    bounded = _bounded(raw, 0)
    return bounded if isinstance(bounded, dict) else {}


def _bounded(value: Any, depth: int) -> Any:
    if isinstance(value, str):
        value = clean_text(value)
        return value if len(value) <= MAX_STORED_CHARS else value[:MAX_STORED_CHARS] + CUT_MARK
    if isinstance(value, Mapping | list | tuple) and depth >= MAX_PAYLOAD_DEPTH:
        return CUT_MARK
    if isinstance(value, Mapping):
        return {_bounded(str(key), depth + 1): _bounded(item, depth + 1)
                for key, item in list(value.items())[:MAX_PAYLOAD_ITEMS]}
    if isinstance(value, list | tuple):
        return [_bounded(item, depth + 1) for item in value[:MAX_PAYLOAD_ITEMS]]
    return value


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
    # Kept for audit only; nothing past the channel adapter reads it. Bounded here, once for every channel
    # (audit_payload), so neither the inbox nor the message row keeps a second copy of a huge text. The text
    # itself stays whole until the store step, which keeps what is over MAX_STORED_CHARS as a file.
    raw: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "raw", audit_payload(self.raw))


# Keeps files the channel already holds on the stored message (its row id): called before the turn runs,
# so an agent sees them on the ticket the turn may open.
KeepFiles = Callable[[int], Awaitable[None]]


class Handler(Protocol):
    """Where every channel hands what it received (``bot.inbound.InboundWorker.accept``): one door.

    By default it returns once the delivery is kept (a receipt), before the message is stored: what a
    webhook answers its provider after. ``at_once=True`` returns once the message row itself exists (a
    poller that keeps the message's files on that row straight after). ``in_line=True`` returns once the
    message is stored, ``keep`` has kept its files, and its turn has run (the web chat, which promises the
    replies are in its history when it answers)."""

    def __call__(
        self, message: InboundMessage, /, *, at_once: bool = False, in_line: bool = False,
        keep: KeepFiles | None = None,
    ) -> Awaitable[object]: ...


@runtime_checkable
class FetchesFiles(Protocol):
    """A channel whose messages name files to download from the provider (WhatsApp media, Telegram
    getFile). Called once the message row exists, so the files are kept on it; the download runs in
    the background and never holds up the turn."""

    def fetch_files(self, message: InboundMessage) -> None: ...


class ChannelBase(ABC):
    """The base of every channel (the seam described in this module's docstring)."""

    kind: ChannelKind
    capabilities: ClassVar[Capabilities]
    # Its sends can fail for a passing reason (a provider down or throttling): the outbox worker
    # (handoff.outbox) runs beside it to try them again. False for a channel whose send cannot fail.
    retried: ClassVar[bool] = True

    @classmethod
    @abstractmethod
    def from_settings(cls, settings: Settings, store: AttachmentStore) -> Self | None:
        """The channel its settings describe, or None when they are absent (the channel stays off)."""

    @abstractmethod
    def setup(self, app: web.Application, handle: Handler, *, polls: bool = True) -> None:
        """Mount the webhooks and lifecycle. ``polls``: this process also fetches input itself (the
        IMAP poller, Telegram polling without a PUBLIC_URL): the worker's job when a worker runs."""

    @abstractmethod
    async def send(self, message: OutboundMessage) -> SendResult: ...


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
