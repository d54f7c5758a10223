"""Storing an inbound message: dedupe, the address's identity and contact (created when new), its open
conversation (or a new one), and a message over MAX_STORED_CHARS kept whole as a file. The fast step a
webhook's receipt is stored by (bot.inbound); nothing here reads what the message says.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from bot.channels.base import MAX_STORED_CHARS, InboundMessage
from bot.conversation.deps import FlowDeps, HandleResult
from handoff.webinput import clean_text
from models import (
    Attachment,
    ChannelIdentity,
    ChannelKind,
    Contact,
    Conversation,
    ConversationStatus,
    Direction,
    FlowStep,
    Message,
    SenderKind,
)

log = logging.getLogger(__name__)


# A message over MAX_STORED_CHARS keeps its whole text as this file, before any file the user sent.
FULL_TEXT_POSITION = -1
FULL_TEXT_FILENAME = "full-message.txt"
FULL_TEXT_TYPE = "text/plain"


def introduced(contact: Contact) -> bool:
    """Whether this contact sent an identity after the privacy notice: the bot does not ask again.

    Consent, not the directory's answer: a number found and one not found must lead to the same next
    conversation, or asking twice would tell a guesser which numbers exist (issue 13).
    """
    return contact.consent_at is not None


async def store_inbound(message: InboundMessage, deps: FlowDeps) -> HandleResult:
    """The fast step a webhook waits for: dedupe, find or create who wrote, insert the message unprocessed."""
    key = (message.channel.value, message.external_id)
    lock = deps.locks.get(key)
    try:
        # Per user, so one person's messages are stored (and numbered) in arrival order, and a new
        # user's first two messages do not both create an identity.
        async with lock:
            return await _store_locked(message, deps)
    finally:
        deps.locks.release_idle(key)


async def _store_locked(message: InboundMessage, deps: FlowDeps) -> HandleResult:
    now = deps.clock()
    identity, contact, created = await _identity_for(message, now)
    if message.language_hint in ("id", "en") and message.language_hint != contact.language:
        contact.language = message.language_hint  # before a new conversation copies it
        await Contact.filter(id=contact.id).update(language=contact.language, updated_at=datetime.now(UTC))
    conversation = None if created else await open_conversation(identity)
    if conversation is None:
        if not created and await Message.exists(
            channel=message.channel, provider_message_id=message.provider_message_id
        ):  # a late re-delivery after its conversation closed must not open an empty one
            log.info("duplicate %s message ignored", message.channel.value)
            return HandleResult(duplicate=True, message_id=None, conversation_id=None)
        conversation = await new_conversation(identity, contact, now)
    text = clean_text(message.text)
    row: dict[str, Any] = {
        "conversation": conversation, "channel": message.channel, "direction": Direction.INBOUND,
        "sender_kind": SenderKind.USER, "text": text[:MAX_STORED_CHARS],
        "provider_message_id": message.provider_message_id, "provider_payload": dict(message.raw) or None,
    }
    try:
        # No "exists?" query first: the unique (channel, provider id) index is the dedupe, and a
        # re-delivery is the rare case.
        if len(text) > MAX_STORED_CHARS:
            stored = await _create_long(row, text, deps)
        else:
            stored = await Message.create(**row)
    except IntegrityError:  # a re-delivery, or the same delivery racing in through another worker
        log.info("duplicate %s message ignored", message.channel.value)
        return HandleResult(duplicate=True, message_id=None, conversation_id=None)
    if not created:
        await ChannelIdentity.filter(id=identity.id).update(last_inbound_at=now, unreachable=False)
        await Conversation.filter(id=conversation.id).update(last_message_at=now, updated_at=datetime.now(UTC))
    log.info("inbound message %s stored on conversation %s (%s)", stored.id, conversation.id, message.channel.value)
    return HandleResult(duplicate=False, message_id=stored.id, conversation_id=conversation.id)


async def _create_long(row: dict[str, Any], text: str, deps: FlowDeps) -> Message:
    """A message over MAX_STORED_CHARS: the row holds its beginning, and its whole text is a file on it,
    written in the same transaction, so neither exists without the other (a crash between the two would
    lose the rest for good: the re-delivery is a duplicate)."""
    store = deps.attachments
    if store is None:  # only a flow built without one (tests of other parts); the app always has a store
        log.warning("no attachment store: %d characters of an inbound message not kept", len(text) - MAX_STORED_CHARS)
        return await Message.create(**row)
    data = text.encode("utf-8")
    if not store.policy.refusal(FULL_TEXT_TYPE, len(data), check_type=False):
        # The bytes first, outside the transaction: the database never waits on the disk, and a crash
        # before the rows leaves at most a file nothing names.
        await store.put(data)
    async with in_transaction():
        stored = await Message.create(**row)
        await store.keep(message=stored, position=FULL_TEXT_POSITION, filename=FULL_TEXT_FILENAME,
                         content_type=FULL_TEXT_TYPE, data=data, ours=True)
    log.info("inbound message %s is %d characters long; its whole text is kept as a file", stored.id, len(text))
    return stored


async def kept_in_full(stored: Message) -> bool:
    """Whether the store step cut this message (its whole text is the file at FULL_TEXT_POSITION)."""
    return len(stored.text) >= MAX_STORED_CHARS and await Attachment.exists(
        message_id=stored.id, position=FULL_TEXT_POSITION
    )


async def address_identity(channel: ChannelKind, external_id: str, now: datetime) -> ChannelIdentity:
    """The identity of an address, created (with its own anonymous contact) when new: for proof that
    comes before any message (bot.lms, a signed web chat session)."""
    message = InboundMessage(channel=channel, external_id=external_id, provider_message_id="", text="",
                             received_at=now)
    identity, _contact, _created = await _identity_for(message, now)
    return identity


async def _identity_for(message: InboundMessage, now: datetime) -> tuple[ChannelIdentity, Contact, bool]:
    """The writer's identity and contact (one query when known); True when both were just created."""
    identity = (
        await ChannelIdentity.filter(channel=message.channel, external_id=message.external_id)
        .select_related("contact")
        .first()
    )
    if identity is not None:
        return identity, identity.contact, False
    try:
        async with in_transaction():
            # Every new address starts on a contact of its own: it joins a person only when proven
            # (handoff.contacts.prove), never because it matches something a contact once gave.
            contact = await Contact.create(
                name="",
                phone=message.phone,
                email=message.email.lower() if message.email else None,
                language=message.language_hint if message.language_hint in ("id", "en") else "id",
            )
            identity = await ChannelIdentity.create(
                contact=contact,
                channel=message.channel,
                external_id=message.external_id,
                display_name=clean_text(message.display_name)[:200],
                last_inbound_at=now,
            )
    except IntegrityError:  # another process created this identity first
        identity = await ChannelIdentity.get(channel=message.channel, external_id=message.external_id)
        return identity, await Contact.get(id=identity.contact_id), False
    return identity, contact, True


async def open_conversation(identity: ChannelIdentity) -> Conversation | None:
    return (
        await Conversation.filter(identity=identity).exclude(status=ConversationStatus.RESOLVED).order_by("-id").first()
    )


async def new_conversation(identity: ChannelIdentity, contact: Contact, now: datetime | None) -> Conversation:
    return await Conversation.create(
        contact=contact,
        identity=identity,
        channel=identity.channel,
        language=contact.language,
        step=FlowStep.AWAITING_QUESTION if introduced(contact) else FlowStep.NEW,
        last_message_at=now,
    )
