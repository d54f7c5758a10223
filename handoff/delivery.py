"""The seam between the helpdesk and the channels, and the outbox every outbound message goes through.

A message is a row first (status ``queued``), then it is handed to the channel: an agent's reply and the
bot's answer take the same path, so nothing reaches a user that the database does not know about.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Protocol, runtime_checkable

from tortoise.transactions import in_transaction

from handoff import reply_window
from handoff.attachments import AttachmentStore, NewFile
from handoff.reachability import mark_unreachable
from models import (
    Attachment,
    ChannelIdentity,
    ChannelKind,
    Conversation,
    DeliveryStatus,
    Direction,
    Message,
    SenderKind,
    Ticket,
    TicketStatus,
    User,
)

log = logging.getLogger(__name__)

# A throttled message's delivery_error starts with this and the time it may go again, e.g.
# "throttled until 2026-11-24T10:10:00+00:00: rate limited by Telegram; retry after 600 s": the row
# itself carries its schedule (handoff.outbox reads it back), so the outbox needs no extra column.
THROTTLED = "throttled until "
# When a provider throttles without saying for how long (Twilio's 429 / 20429 carry no retry_after).
DEFAULT_THROTTLE_WAIT = timedelta(minutes=1)


def throttle_note(until: datetime, reason: str) -> str:
    return f"{THROTTLED}{until.astimezone(UTC).isoformat(timespec='seconds')}: {reason}"[:500]


def throttled_until(delivery_error: str | None) -> datetime | None:
    """When a message held back by provider throttling may go again; None if it was not throttled."""
    if not delivery_error or not delivery_error.startswith(THROTTLED):
        return None
    stamp = delivery_error.removeprefix(THROTTLED).split(": ", 1)[0]
    try:
        return datetime.fromisoformat(stamp)
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class Button:
    label: str
    value: str  # what the user "says" by pressing it


@dataclass(frozen=True, slots=True)
class OutboundAttachment:
    """A stored file going out with a message; the channel reads its bytes from the store by key."""

    id: int  # our Attachment row
    filename: str
    content_type: str
    size: int
    storage_key: str


class Purpose(StrEnum):
    """Why a message goes out: a channel that must choose a form (WhatsApp's templates outside its
    window) is told, and never reads tickets to guess."""

    BOT_ANSWER = "bot_answer"
    AGENT_REPLY = "agent_reply"
    SURVEY = "survey"
    RESOLUTION_NOTICE = "resolution_notice"


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    message_id: int  # our Message row
    channel: ChannelKind
    recipient: str  # the channel's external id of the user
    text: str
    buttons: tuple[Button, ...] = ()
    conversation_id: int | None = None
    sender_kind: SenderKind = SenderKind.BOT
    attachments: tuple[OutboundAttachment, ...] = ()
    purpose: Purpose = Purpose.BOT_ANSWER
    # When the user last wrote on this channel: what its reply window (handoff.reply_window) runs from.
    user_wrote_at: datetime | None = None

    def can_send_freely(self, now: datetime) -> bool:
        """Inside the channel's reply window (less its margin), or the channel has none; else only a
        template may go. ``now`` is the channel's clock, the one its provider's window follows."""
        return reply_window.can_send_freely(self.channel, self.user_wrote_at, now)


@dataclass(frozen=True, slots=True)
class SendResult:
    provider_message_id: str | None
    status: DeliveryStatus = DeliveryStatus.SENT
    error: str | None = None


class DeliveryError(Exception):
    """A channel could not deliver; ``permanent`` means retrying will not help (blocked bot, bad number).

    ``throttled`` means the provider refused to take anything for now (Telegram's 429 ``retry_after``,
    Twilio's 429 / 20429): nothing was sent, and nothing is wrong with this message, so it goes again after
    ``retry_after`` seconds (``DEFAULT_THROTTLE_WAIT`` when the provider did not say) without counting as
    one of its tries.
    """

    def __init__(self, reason: str, *, permanent: bool = False, unreachable: bool = False,
                 throttled: bool = False, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent
        self.unreachable = unreachable
        self.throttled = throttled
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a channel declares it can carry; the helpdesk asks these, never which channel it is."""

    buttons: bool = False  # quick-reply buttons (the survey's 1-5)
    files: bool = False  # files both ways
    # Free-form replies only within this long of the user's last message (handoff.reply_window); outside
    # it only a template goes. None: no window.
    reply_window: reply_window.ReplyWindow | None = None
    # Links in a message must be absolute (PUBLIC_URL): the user reads it outside our pages.
    absolute_links: bool = True


class Lookup(StrEnum):
    """What a provider says of a message whose send was cut off (``LooksUpSent``)."""

    FOUND = "found"  # it took the whole message: the row is sent, with the provider's id
    NOT_FOUND = "not_found"  # it never took any of it: sending it again repeats nothing
    PARTLY = "partly"  # it took some parts of a message sent in several: sending again would repeat them
    CANNOT_TELL = "cannot_tell"  # the provider did not answer, or its answer does not settle it: ask again


@dataclass(frozen=True, slots=True)
class SentLookup:
    outcome: Lookup
    provider_message_id: str | None = None
    status: DeliveryStatus = DeliveryStatus.SENT  # for FOUND: what the provider reports of it
    reason: str = ""  # for PARTLY and CANNOT_TELL: why, for the row's delivery_error and the log

    @classmethod
    def cannot_tell(cls, reason: str) -> SentLookup:
        return cls(Lookup.CANNOT_TELL, reason=reason)


@runtime_checkable
class LooksUpSent(Protocol):
    """A channel whose provider can be asked whether it took a message (Twilio's Messages list).

    Optional: the outbox asks it about rows left ``unknown`` (a send cut off by a crash, a timeout or a
    provider 5xx) and sends again only what the provider says it never took (handoff.outbox). A channel
    that cannot be asked (Telegram, mail) keeps sending at most once. ``since`` is the row's claim less a
    skew: what the provider created before it cannot be this send."""

    async def lookup_sent(self, message: OutboundMessage, *, since: datetime) -> SentLookup: ...


@runtime_checkable
class Channel(Protocol):
    """One way of talking to users. Adding a channel is one file in bot/channels and one registry line."""

    kind: ChannelKind

    @property
    def capabilities(self) -> Capabilities: ...

    async def send(self, message: OutboundMessage) -> SendResult: ...


@dataclass(slots=True)
class ChannelRegistry:
    _channels: dict[ChannelKind, Channel] = field(default_factory=dict)

    def add(self, channel: Channel) -> None:
        self._channels[channel.kind] = channel

    def get(self, kind: ChannelKind) -> Channel | None:
        return self._channels.get(kind)

    def kinds(self) -> Iterable[ChannelKind]:
        return self._channels.keys()

    def __iter__(self) -> Iterator[Channel]:
        return iter(self._channels.values())


@dataclass(slots=True)
class HeldDeliveries:
    """Outbound rows written inside a transaction whose delivery waits for its commit (``holding_deliveries``)."""

    messages: list[Message] = field(default_factory=list)

    async def deliver(self, *, registry: ChannelRegistry) -> None:
        """Hand the held rows to their channels, in the order they were written. Call after the commit."""
        while self.messages:
            await deliver(registry=registry, message=self.messages.pop(0))


_held: ContextVar[HeldDeliveries | None] = ContextVar("held_deliveries", default=None)


@contextmanager
def holding_deliveries() -> Iterator[HeldDeliveries]:
    """While open (in this task and the tasks it starts), ``send_text`` writes its row ``queued`` and
    does not deliver it: the caller delivers the held rows once the transaction they were written in has
    committed (``HeldDeliveries.deliver``). A reply must never reach a person for a turn whose writes
    were then rolled back (the turn runs again and would answer twice), and a transaction must not wait
    on a provider. If the process dies between the commit and the delivery, the rows are ``queued`` and
    never tried: the outbox sends them (handoff.outbox, ``UNTRIED_GRACE``), or the next holder of the
    person's turn does first (bot.turns)."""
    held = HeldDeliveries()
    token = _held.set(held)
    try:
        yield held
    finally:
        _held.reset(token)


async def send_text(
    *,
    registry: ChannelRegistry,
    conversation: Conversation,
    text: str,
    sender_kind: SenderKind,
    buttons: tuple[Button, ...] = (),
    agent: User | None = None,
    ticket: Ticket | None = None,
    files: Sequence[NewFile] = (),
    store: AttachmentStore | None = None,
) -> Message:
    """Store an outbound message (and its files), then deliver it through the conversation's channel."""
    if files and store is None:
        raise ValueError("files need an attachment store")
    # The message and its files are one row set: the outbox never sees the message without its files.
    async with in_transaction():
        message = await Message.create(
            conversation=conversation,
            ticket=ticket,
            channel=conversation.channel,
            direction=Direction.OUTBOUND,
            sender_kind=sender_kind,
            agent=agent,
            text=text,
            buttons=[{"label": b.label, "value": b.value} for b in buttons] or None,
            delivery_status=DeliveryStatus.QUEUED,
        )
        if files and store is not None:
            await store.keep_all(message=message, files=list(files))
    held = _held.get()
    if held is not None:  # inside a turn: delivered after its commit
        held.messages.append(message)
        return message
    await deliver(registry=registry, message=message)
    return message


async def purpose_of(message: Message, *, has_buttons: bool) -> Purpose:
    """Why this stored message goes out (also asked when a refused message is queued again)."""
    if has_buttons:  # the only buttons that go out unasked are the survey's
        return Purpose.SURVEY
    if message.sender_kind == SenderKind.AGENT:
        return Purpose.AGENT_REPLY
    if message.ticket_id is not None and await Ticket.exists(id=message.ticket_id, status=TicketStatus.RESOLVED):
        return Purpose.RESOLUTION_NOTICE
    return Purpose.BOT_ANSWER


# How long after its claim a row ``unknown`` on a channel that can be asked (``LooksUpSent``) holds back its
# conversation's later messages: until the outbox has asked the provider (handoff.outbox.RECONCILE_GRACE,
# then its next sweep), so a reply cut off by a crash and sent again still reaches the person before the
# ones written after it. Bounded, so a provider that cannot answer for long delays the conversation by
# this much at most; after it the later messages go, and the cut-off one, if sent again, arrives late.
UNCONFIRMED_HOLD = timedelta(minutes=10)


async def outbound_for(message: Message, channel: Channel) -> OutboundMessage:
    """What the channel is handed for a stored row: everything read from the database up front."""
    return (await _prepared(message, channel))[0]


async def _prepared(message: Message, channel: Channel) -> tuple[OutboundMessage, int]:
    """The channel's message for a row, and the id of the identity it goes to."""
    conversation = await Conversation.get(id=message.conversation_id)
    identity = await ChannelIdentity.get(id=conversation.identity_id)
    buttons = tuple(Button(b["label"], b["value"]) for b in (message.buttons or []))
    buttons = buttons if channel.capabilities.buttons else ()
    purpose = await purpose_of(message, has_buttons=bool(buttons))
    files = tuple(
        OutboundAttachment(id=a.id, filename=a.filename, content_type=a.content_type, size=a.size,
                           storage_key=a.storage_key)
        for a in await Attachment.filter(message_id=message.id, storage_key__not_isnull=True).order_by("position")
        if a.storage_key
    )
    return OutboundMessage(
        message_id=message.id,
        channel=message.channel,
        recipient=identity.external_id,
        text=message.text,
        buttons=buttons,
        conversation_id=conversation.id,
        sender_kind=message.sender_kind,
        attachments=files,
        purpose=purpose,
        user_wrote_at=identity.last_inbound_at,
    ), identity.id


async def waits_for_unconfirmed(message: Message, channel: Channel, *, now: datetime) -> bool:
    """An earlier message of the same conversation is ``unknown`` and its provider will be asked about it
    (``UNCONFIRMED_HOLD``): this one waits, so the person gets them in the order they were written."""
    if not isinstance(channel, LooksUpSent):
        return False
    return await Message.filter(
        conversation_id=message.conversation_id, direction=Direction.OUTBOUND, id__lt=message.id,
        delivery_status=DeliveryStatus.UNKNOWN, claimed_at__gt=now - UNCONFIRMED_HOLD,
    ).exists()


async def deliver(*, registry: ChannelRegistry, message: Message) -> None:
    channel = registry.get(message.channel)
    if channel is None:
        # The channel is not configured in this process (e.g. its token was removed): keep it queued.
        message.attempts += 1
        message.delivery_error = "channel not configured"
        await message.save(update_fields=["attempts", "delivery_error"])
        log.warning("no channel %s for message %s; left queued", message.channel, message.id)
        return
    # One rule for every path that sends (a turn's replies, an agent's, the outbox): held back, not a try.
    # The outbox sends it once the earlier one is settled.
    if await waits_for_unconfirmed(message, channel, now=datetime.now(UTC)):
        log.info("message %s waits for an earlier message of its conversation to be confirmed", message.id)
        return
    # Read before the claim: nothing but the provider call may stand between the claim and the send, since
    # a crash in between leaves a row "unknown" that the provider never saw.
    outbound, identity_id = await _prepared(message, channel)
    message.attempts += 1
    # Claim the row before the provider sees it: a second worker finds nothing to claim, and a crash
    # mid-send leaves it "unknown" with the claim's time, which the outbox asks the provider about when
    # the channel can be asked, and otherwise never sends again (handoff.outbox).
    claimed_at = datetime.now(UTC)
    claimed = await Message.filter(id=message.id, delivery_status=DeliveryStatus.QUEUED).update(
        delivery_status=DeliveryStatus.UNKNOWN, claimed_at=claimed_at
    )
    if not claimed:
        log.info("message %s is not queued (already delivered or in flight); not sent again", message.id)
        return
    message.claimed_at = claimed_at
    try:
        result = await channel.send(outbound)
    except DeliveryError as exc:
        if exc.throttled:
            # Held back, not failed: the provider took nothing (a 429 is a refusal before sending, so
            # sending again repeats nothing). Its tries are for failures of this message; the outbox bounds
            # throttling by a deadline of its own instead.
            message.attempts -= 1
            wait = DEFAULT_THROTTLE_WAIT if exc.retry_after is None else timedelta(seconds=math.ceil(exc.retry_after))
            # The wall clock, not a sweep's: the provider's wait starts when it answered.
            until = datetime.now(UTC) + wait
            # Whole seconds in the note: round up, so the message never goes before the provider's time.
            until = until.replace(microsecond=0) + timedelta(seconds=1 if until.microsecond else 0)
            message.delivery_status = DeliveryStatus.QUEUED
            message.delivery_error = throttle_note(until, exc.reason)
            await message.save(update_fields=["attempts", "delivery_status", "delivery_error"])
            log.info("message %s on %s throttled by the provider; next try at %s", message.id, message.channel,
                     until.isoformat(timespec="seconds"))
            return
        message.delivery_status = DeliveryStatus.FAILED if exc.permanent else DeliveryStatus.QUEUED
        message.delivery_error = exc.reason[:500]
        await message.save(update_fields=["attempts", "delivery_status", "delivery_error"])
        if exc.unreachable:
            await mark_unreachable(identity_id=identity_id, reason=exc.reason)
        log.warning("delivery of message %s on %s failed: %s", message.id, message.channel, exc.reason)
        return
    message.delivery_status = result.status
    message.provider_message_id = result.provider_message_id
    message.delivery_error = result.error
    message.sent_at = datetime.now(UTC)
    await message.save(
        update_fields=["attempts", "delivery_status", "provider_message_id", "delivery_error", "sent_at"]
    )
