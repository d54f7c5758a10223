"""The conversation contract, independent of the channel.

first contact → greeting + privacy notice + ask identity (one message) → verify against the directory → classify
→ confident: template answer + "did this help?" → yes: resolved by the bot / no: hand off
→ unsure, or the user asks for a person at any point: hand off (a ticket, due in 24 h)
While a ticket is open the bot stays silent and files what the user writes on the ticket, on whichever of
the person's channels they write (``_file_on_open_ticket``): a verified contact's new channel joins the
ticket with one acknowledgement instead of starting a second conversation with the bot.
"""

from __future__ import annotations

import asyncio
import html
import logging
import re
from collections.abc import Callable, Collection
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from bot.channels.base import MAX_CLASSIFIED_CHARS, MAX_STORED_CHARS, InboundMessage
from bot.directory import Directory, DirectoryRecord, InactivePolicy, is_active
from bot.i18n import Catalog, catalog, detect_language
from bot.identity import (
    DEFAULT_CAMPUS_DOMAINS,
    Identity,
    IdentityKind,
    ParseResult,
    is_campus_email,
    mask,
    normalise_phone,
    parse_identity,
)
from bot.leases import Leases, person_of
from bot.names import given_name
from handoff import identity_limits, proof_codes
from handoff.attachments import AttachmentStore
from handoff.contacts import Person, is_proven, prove
from handoff.delivery import Button, ChannelRegistry, send_text
from handoff.hours import OperatingHours
from handoff.incidents import follow_incident, incident_index
from handoff.operations import Operations, defaults_from, describe_spans, load_operations, sla_text
from handoff.sla import DEFAULT_TARGET
from handoff.survey import (
    CommentKind,
    comment_kind,
    parse_rating,
    record_comment,
    record_survey,
    ticket_awaiting_comment,
)
from handoff.templating import ANSWER, OUT_OF_HOURS, render
from handoff.tickets import add_event, open_ticket, open_ticket_of, resolve_by_bot, user_wrote
from handoff.webinput import clean_text
from models import (
    ActorKind,
    AnswerTemplate,
    Attachment,
    Category,
    ChannelIdentity,
    ChannelKind,
    Contact,
    Conversation,
    ConversationStatus,
    Direction,
    FlowStep,
    HandoffReason,
    Message,
    ProofLevel,
    ProofMethod,
    SenderKind,
    Ticket,
    TicketStatus,
)
from nlp import Prediction
from nlp.acts import Act, Reading
from nlp.acts import read as read_act
from nlp.decision import Decision

log = logging.getLogger(__name__)

MAX_IDENTITY_ATTEMPTS = 3
# A message over MAX_STORED_CHARS keeps its whole text as this file, before any file the user sent.
FULL_TEXT_POSITION = -1
FULL_TEXT_FILENAME = "full-message.txt"
FULL_TEXT_TYPE = "text/plain"

# The values of the "did this help?" buttons (and what the prompt tells people to type on channels without
# buttons); any other yes or no is read by nlp.acts.
_BUTTON_YES = "1"
_BUTTON_NO = "2"
_WORD = re.compile(r"[\w']+")
# Asking for a one-time code (the offer's button sends the first), and leaving the wait for one.
_SEND_CODE = frozenset({"kirim kode", "send code", "kode baru", "new code", "minta kode", "kirim ulang", "resend"})
_CANCEL = frozenset({"batal", "cancel", "batalkan"})
_ENGLISH_REQUEST = re.compile(r"\b(english|inggris)\b")
_INDONESIAN_REQUEST = re.compile(r"\b(bahasa indonesia|indonesian|indonesia)\b")


@dataclass(slots=True)
class KeyedLocks:
    """One lock per user address, so two messages from one person are handled in order."""

    _locks: dict[tuple[str, str], asyncio.Lock] = field(default_factory=dict)

    def get(self, key: tuple[str, str]) -> asyncio.Lock:
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = asyncio.Lock()
        return lock

    def release_idle(self, key: tuple[str, str]) -> None:
        lock = self._locks.get(key)
        if lock is not None and not lock.locked():
            del self._locks[key]


class Predictor(Protocol):
    """What the flow needs of a classifier (nlp.Classifier; tests pass a scripted one). ``predict`` runs in a
    worker thread (a long message costs milliseconds of CPU), so it must be safe to call from several at
    once: nlp.Classifier only reads its model."""

    def predict(self, text: str, *, exclude: Collection[str] = ()) -> Prediction: ...


@dataclass(slots=True)
class FlowDeps:
    registry: ChannelRegistry
    classifier: Predictor
    directory: Directory
    hours: OperatingHours = field(default_factory=OperatingHours)
    campus_domains: tuple[str, ...] = DEFAULT_CAMPUS_DOMAINS
    # A directory entry that is not active: a claim at most, or refused (DIRECTORY_INACTIVE).
    inactive: InactivePolicy = InactivePolicy.CLAIMED
    # SECRET_KEY: keys the guessing limits' hashes (handoff.identity_limits); a stored one when unset.
    secret_key: str = ""
    # Whether a one-time code can be mailed (SMTP_* configured): only then is proof by code offered.
    code_mail: bool = False
    sla: timedelta = DEFAULT_TARGET
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    locks: KeyedLocks = field(default_factory=KeyedLocks)  # the store step, per user
    turn_locks: KeyedLocks = field(default_factory=KeyedLocks)  # the process step, per user, in this process
    # This process's person leases (bot.leases): what keeps one person's turns in one process at a time.
    leases: Leases = field(default_factory=Leases)
    # Called with (event name, data) after a state change the console shows live.
    notify: Callable[[str, dict[str, Any]], None] = lambda _name, _data: None
    # Where the whole text of a message over MAX_STORED_CHARS is kept (the app's one attachment store).
    attachments: AttachmentStore | None = None


@dataclass(frozen=True, slots=True)
class HandleResult:
    duplicate: bool
    message_id: int | None
    conversation_id: int | None


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def is_yes(text: str, reading: Reading | None = None) -> bool:
    """The "yes" button, or a yes in words ("iya kak", "sudah bisa", "it helped"), by nlp.acts."""
    return text.strip().strip("!. ") == _BUTTON_YES or (reading or read_message(text)).act is Act.YES


def is_no(text: str, reading: Reading | None = None) -> bool:
    """The "no" button, or a no in words ("belum", "masih error", "not helpful"), by nlp.acts."""
    return text.strip().strip("!. ") == _BUTTON_NO or (reading or read_message(text)).act is Act.NO


# nlp.acts is slow on a message made only of its phrases: 2,000 characters of "halo " took 6.6 ms on this
# machine idle and 22 ms while tests ran beside it, on the event loop. So only a message's head is read
# (0.3 ms for the same text); a longer message is a question (or a request for a person, if its head says
# so) anyway, and its head's greeting is dropped.
ACTS_CHARS = 256


def asks_for_code(text: str) -> bool:
    return " ".join(_words(text)) in _SEND_CODE


def read_message(text: str) -> Reading:
    """What a message does (nlp.acts), read on at most its first ACTS_CHARS characters."""
    if len(text) <= ACTS_CHARS:
        return read_act(text)
    head = read_act(text[:ACTS_CHARS])
    if head.act is Act.PERSON:
        return head
    start = text.find(head.question) if head.act is Act.QUESTION and head.question else -1
    return Reading(Act.QUESTION, question=text[start:] if start >= 0 else text, lang=head.lang, seen=head.seen)


def _introduced(contact: Contact) -> bool:
    """Whether this contact sent an identity after the privacy notice: the bot does not ask again.

    Consent, not the directory's answer: a number found and one not found must lead to the same next
    conversation, or asking twice would tell a guesser which numbers exist (issue 13).
    """
    return contact.consent_at is not None


class _Turn:
    """One inbound message being handled: the state it reads and the replies it sends."""

    def __init__(
        self, deps: FlowDeps, conversation: Conversation, identity: ChannelIdentity, contact: Contact, now: datetime
    ) -> None:
        self.deps = deps
        self.conversation = conversation
        self.identity = identity
        self.contact = contact
        self.now = now

    @property
    def proven(self) -> bool:
        """May this address be shown the person's name, role and tickets (handoff.contacts.is_proven)."""
        return is_proven(self.identity)

    @property
    def settled(self) -> bool:
        """Whether the bot asks this address who they are (see ``_introduced``)."""
        return _introduced(self.contact)

    @property
    def cat(self) -> Catalog:
        return catalog(self.conversation.language)

    async def say(self, key: str, *, buttons: tuple[Button, ...] = (), **values: object) -> None:
        await self.say_text(self.cat.t(key, **values), buttons=buttons)

    async def say_text(self, text: str, *, buttons: tuple[Button, ...] = (), ticket: Ticket | None = None) -> None:
        await send_text(
            registry=self.deps.registry,
            conversation=self.conversation,
            text=text,
            sender_kind=SenderKind.BOT,
            buttons=buttons,
            ticket=ticket,
        )

    def first_name(self) -> str:
        """The given name without titles or degrees (bot.names), only on a proven address: an old verified
        contact may have merely claimed addresses (issue 13)."""
        return given_name(self.contact.name) if self.contact.name and self.proven else ""

    def name_suffix(self) -> str:
        """", Kak Budi" / ", Bapak/Ibu Siti" (the catalogue's salutation for the role), or "" without a name
        (none known, or not one this address may be shown)."""
        name = self.first_name()
        if not name:
            return ""
        role = self.contact.role.value if self.contact.role else "other"
        return f", {self.cat.t(f'salutation_{role}', name=name)}"


async def handle_inbound(message: InboundMessage, deps: FlowDeps) -> HandleResult:
    """Store and process in one call: for callers that want the turn done on return (web chat, tests).

    Webhooks instead store (``store_inbound``), answer the provider, and leave the turn to the worker in
    ``bot.inbound``. Idempotent either way: a re-delivered message is stored once and answered once.
    """
    result = await store_inbound(message, deps)
    if result.message_id is not None:
        await process_inbound(result.message_id, deps, key=(message.channel.value, message.external_id))
    return result


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
    conversation = None if created else await _open_conversation(identity)
    if conversation is None:
        if not created and await Message.exists(
            channel=message.channel, provider_message_id=message.provider_message_id
        ):  # a late re-delivery after its conversation closed must not open an empty one
            log.info("duplicate %s message ignored", message.channel.value)
            return HandleResult(duplicate=True, message_id=None, conversation_id=None)
        conversation = await _new_conversation(identity, contact, now)
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


async def _kept_in_full(stored: Message) -> bool:
    """Whether the store step cut this message (its whole text is the file at FULL_TEXT_POSITION)."""
    return len(stored.text) >= MAX_STORED_CHARS and await Attachment.exists(
        message_id=stored.id, position=FULL_TEXT_POSITION
    )


# How long an in-line turn (web chat, tests) waits for another process holding the same person: long
# enough for that holder to finish the person's few messages, including this one.
INLINE_WAIT = 30.0  # seconds


async def process_inbound(message_id: int, deps: FlowDeps, *, key: tuple[str, str] | None = None) -> bool:
    """Run the turn of a stored message now, with every earlier unprocessed message of its person first
    (bot.turns). Returns False when it was not this caller's to run (already processed, or run by the
    process that holds the person)."""
    from bot import turns  # bot.turns drives this module's steps; imported here to keep one entry point

    if key is None:
        row = await Message.filter(id=message_id).values("channel", "conversation__identity__external_id")
        if not row:
            return False
        key = (str(row[0]["channel"]), str(row[0]["conversation__identity__external_id"]))
    lock = deps.turn_locks.get(key)
    try:
        async with lock:
            if await Message.exists(id=message_id, processed_at__not_isnull=True):
                return False
            drained = await turns.drain_person(person_of(*key), deps, leases=deps.leases, wait=INLINE_WAIT,
                                               until=message_id)
            return message_id in drained.ran
    finally:
        deps.turn_locks.release_idle(key)


async def run_turn(stored: Message, deps: FlowDeps) -> None:
    """The state machine's entry: one stored inbound message's turn. bot.turns runs it inside the turn's
    transaction, with the replies held until the commit."""
    conversation: Conversation = stored.conversation
    identity: ChannelIdentity = conversation.identity
    contact: Contact = identity.contact
    if conversation.status == ConversationStatus.RESOLVED:
        # An earlier message of the same user closed this conversation after this one was stored:
        # the message belongs to the next conversation, as it would have had the turns run in-line.
        conversation = await _open_conversation(identity) or await _new_conversation(identity, contact, None)
        stored.conversation = conversation
        await stored.save(update_fields=["conversation_id"])
    log.info("inbound message %s processing on conversation %s", stored.id, conversation.id)
    turn = _Turn(deps, conversation, identity, contact, deps.clock())
    await _prove_by_address(turn)
    await _step(turn, stored, stored.text)


async def _prove_by_address(turn: _Turn) -> None:
    """Arriving from the address the directory lists for a person proves the address theirs
    (``ProofMethod.ADDRESS``): a mail from the campus mailbox the directory gave them. Then the turn goes on
    as that person's (their open ticket, their name). A person met here for the first time still hears
    the greeting and the privacy notice once, before anything is answered."""
    address = _address_on_record(turn.identity, turn.conversation.step, turn.deps.campus_domains)
    if address is None:
        return
    record = await _lookup(turn, address)
    if record is None:
        return
    listed = record.phone if address.kind is IdentityKind.PHONE else record.email.lower()
    if not listed or listed != address.value:
        return
    if not is_active(record):
        # An entry that is not active is never proven (DIRECTORY_INACTIVE): a claim at most, as if typed.
        # Not consent: the person has not seen the privacy notice yet, and hears it as anyone does.
        if turn.deps.inactive == InactivePolicy.CLAIMED:
            turn.identity.claimed_number = record.id_number
            turn.identity.proof = ProofLevel.CLAIMED
            await turn.identity.save(update_fields=["claimed_number", "proof"])
        return
    known = await Contact.exists(id_number=record.id_number, consent_at__not_isnull=True)
    await _prove(turn, record, ProofMethod.ADDRESS, speaking=False)
    # A conversation's first message (``_address_on_record``): nothing to ask them, they are known, and
    # the conversation speaks the person's language.
    conversation = turn.conversation
    conversation.language = turn.contact.language
    conversation.step = FlowStep.AWAITING_QUESTION
    await conversation.save(update_fields=["language", "step", "updated_at"])
    if not known:
        await turn.say("greeting")
        await turn.say("privacy_notice")


@dataclass(frozen=True, slots=True)
class _Prefetched:
    """The directory, with the answers a turn will ask for already fetched (``prefetch_directory``)."""

    directory: Directory
    answers: dict[Identity, DirectoryRecord | None]

    async def lookup(self, identity: Identity) -> DirectoryRecord | None:
        if identity in self.answers:
            return self.answers[identity]
        return await self.directory.lookup(identity)


@dataclass(frozen=True, slots=True)
class _Predicted:
    """The classifier, with its answer for one text already computed (``prefetch``)."""

    classifier: Predictor
    text: str
    prediction: Prediction

    def predict(self, text: str, *, exclude: Collection[str] = ()) -> Prediction:
        if text == self.text and not exclude:
            return self.prediction
        return self.classifier.predict(text, exclude=exclude) if exclude else self.classifier.predict(text)


async def prefetch(stored: Message, deps: FlowDeps) -> FlowDeps:
    """What the turn will ask of the directory and the classifier, asked before its transaction opens.

    A transaction must not wait on the network (the directory is an HTTP service in production), and on
    SQLite it holds the database's write lock from its first statement (bot.turns, FENCE_FIRST): every
    millisecond of classifier CPU inside it is a millisecond the webhooks' receipts wait. A step that
    asks for something else (a pending question joined to this text) computes it in the turn as before.
    """
    directory = await prefetch_directory(stored, deps)
    classifier = deps.classifier
    conversation: Conversation = stored.conversation
    text = stored.text.strip()
    steps = (FlowStep.AWAITING_QUESTION, FlowStep.AWAITING_FEEDBACK, FlowStep.AWAITING_CLARIFICATION)
    if (conversation.status == ConversationStatus.BOT and text and not text.startswith("/")
            and conversation.step in steps and (reading := read_message(text)).act is Act.QUESTION):
        # The text the turn will classify first: the question without its preamble (nlp.acts). A follow-up
        # read with its context, or a second opinion without a rejected label, is computed in the turn.
        wanted = (reading.question or text)[:MAX_CLASSIFIED_CHARS]
        classifier = _Predicted(deps.classifier, wanted, await asyncio.to_thread(deps.classifier.predict, wanted))
    if directory is deps.directory and classifier is deps.classifier:
        return deps
    return replace(deps, directory=directory, classifier=classifier)


async def prefetch_directory(stored: Message, deps: FlowDeps) -> Directory:
    """Look up, before the turn's transaction opens, what the turn will look up: the directory is an HTTP
    service in production, and a transaction must not wait on the network (on SQLite it holds the
    process's one connection, and the write lock once it has written). The turn asks for the sender's
    own address when it may prove them (``_address_on_record``) and, in the identity step, for the
    identity it parses from the same text the same way."""
    wanted: list[Identity] = []
    conversation: Conversation = stored.conversation
    address = _address_on_record(conversation.identity, conversation.step, deps.campus_domains)
    if address is not None:
        wanted.append(address)
    parsed = await _identity_to_look_up(stored, deps)
    if parsed is not None:
        wanted.append(parsed)
    claimed = _claimed_to_look_up(stored, deps)
    if claimed is not None:
        wanted.append(claimed)
    if not wanted:
        return deps.directory
    answers: dict[Identity, DirectoryRecord | None] = {}
    for identity in wanted:
        try:
            answers[identity] = await deps.directory.lookup(identity)
        except Exception:  # the turn asks again, and handles the outage as it always has
            log.exception("directory lookup failed for %s", mask(identity.value))
    return _Prefetched(deps.directory, answers) if answers else deps.directory


async def _identity_to_look_up(stored: Message, deps: FlowDeps) -> Identity | None:
    conversation: Conversation = stored.conversation
    if conversation.status != ConversationStatus.BOT or conversation.step != FlowStep.AWAITING_IDENTITY:
        return None
    text = stored.text.strip()
    if not text or text.startswith("/"):
        return None
    parsed = await asyncio.to_thread(parse_identity, text, today=deps.clock().date(),
                                     campus_domains=deps.campus_domains)
    if parsed.identity is None:
        return None
    # Over a guessing limit the turn looks nothing up: neither is anything fetched for it.
    keys = await _attempt_keys(deps, conversation.identity, parsed.identity)
    return parsed.identity if await identity_limits.allowed(keys, now=deps.clock()) else None


def _claimed_to_look_up(stored: Message, deps: FlowDeps) -> Identity | None:
    """The claimed number's record, when this message asks for a code or gives one (``_send_code``,
    ``_code_step``): only then, so other messages of a claimed address never wait on the directory."""
    conversation: Conversation = stored.conversation
    identity: ChannelIdentity = conversation.identity
    if not deps.code_mail or not identity.claimed_number or is_proven(identity):
        return None
    if conversation.status != ConversationStatus.BOT:
        return None
    text = stored.text
    giving = conversation.step == FlowStep.AWAITING_CODE and proof_codes.as_code(text) is not None
    if not giving and not asks_for_code(text):
        return None
    return _number_identity(identity.claimed_number, deps)


def _address_on_record(identity: ChannelIdentity, step: FlowStep, campus_domains: tuple[str, ...]) -> Identity | None:
    """The sender's own address, when arriving from it can prove them, not yet proven: an e-mail from a
    campus address (the mail channel's address is the sender's; only campus addresses, so the directory is
    not asked about every outside sender), or a WhatsApp number (Twilio's From, which WhatsApp vouches for;
    a Telegram contact card proves nothing, anyone can share any card). Asked at a conversation's first
    message only, not at every message of everyone not proven: the directory may be an HTTP service,
    slow or down, and every later message would wait on it again."""
    if is_proven(identity) or step != FlowStep.NEW:
        return None
    if identity.channel == ChannelKind.EMAIL:
        address = identity.external_id.lower()
        return Identity(IdentityKind.EMAIL, address) if is_campus_email(address, campus_domains) else None
    if identity.channel == ChannelKind.WHATSAPP:
        phone = normalise_phone(identity.external_id.removeprefix("whatsapp:"))
        return Identity(IdentityKind.PHONE, phone) if phone else None
    return None


async def hand_over_failed(message_id: int, deps: FlowDeps) -> None:
    """A message that kept failing (bot.turns parks it): the person hears that something went wrong and
    that an agent will follow up, and the message goes to an agent on a ticket, so it is read by someone.

    A ticket rather than silence: helpdesks people trust (Zammad, Chatwoot) never lose a message, and this
    one is exactly what the bot could not handle. Opened as the bot being unsure (there is no better
    reason among the console's), without the classifier (it may be what failed). When an agent has the
    conversation already, the message is filed on that ticket and the agent answers; nothing is said."""
    stored = await Message.get(id=message_id).select_related("conversation__identity__contact")
    conversation: Conversation = stored.conversation
    identity: ChannelIdentity = conversation.identity
    contact: Contact = identity.contact
    if conversation.status == ConversationStatus.RESOLVED:
        conversation = await _open_conversation(identity) or await _new_conversation(identity, contact, None)
        stored.conversation = conversation
        await stored.save(update_fields=["conversation_id"])
    turn = _Turn(deps, conversation, identity, contact, deps.clock())
    if conversation.status in (ConversationStatus.PENDING, ConversationStatus.OPEN):
        ticket = await open_ticket_of(conversation)
        if ticket is not None:
            await _file_message(turn, ticket, stored)
            return
    await turn.say("turn_failed")
    await _handoff(turn, HandoffReason.LOW_CONFIDENCE, question=stored.text[:MAX_CLASSIFIED_CHARS],
                   predicted=(None, None))


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


async def _open_conversation(identity: ChannelIdentity) -> Conversation | None:
    return (
        await Conversation.filter(identity=identity).exclude(status=ConversationStatus.RESOLVED).order_by("-id").first()
    )


async def _new_conversation(identity: ChannelIdentity, contact: Contact, now: datetime | None) -> Conversation:
    return await Conversation.create(
        contact=contact,
        identity=identity,
        channel=identity.channel,
        language=contact.language,
        step=FlowStep.AWAITING_QUESTION if _introduced(contact) else FlowStep.NEW,
        last_message_at=now,
    )


async def _step(turn: _Turn, stored: Message, raw_text: str) -> None:
    conversation = turn.conversation
    text = raw_text.strip()

    if conversation.status in (ConversationStatus.PENDING, ConversationStatus.OPEN):
        await _file_on_ticket(turn, stored)
        return
    # A rating (or its comment) answers the survey of a ticket already closed here, even when another is
    # open elsewhere; anything else is checked against that open ticket below.
    if text and conversation.step == FlowStep.AWAITING_SURVEY and await _survey_step(turn, text):
        return
    if text and conversation.step == FlowStep.AWAITING_SURVEY_COMMENT and await _comment_step(turn, text):
        return
    # Ahead of commands, a request for a person and an empty text (a file sent alone): on the ticket's own
    # channel those are filed too.
    if await _file_on_open_ticket(turn, stored):
        return
    if not text:
        await turn.say("empty_message")
        return
    if await _kept_in_full(stored):
        await _long_message(turn, text)
        return
    if text.startswith("/"):
        await _command(turn, text)
        return
    # What the message does comes before what it is about (nlp.acts): read once here, for every step.
    reading = read_message(text)
    await _maybe_switch_language(turn, text, reading)

    if conversation.step == FlowStep.NEW:
        await _first_contact(turn, text, reading)
        return
    if reading.act is Act.PERSON:
        await _person_request(turn, reading, text)
        return
    # Proof by code (issue 13): asked for at any step after the identity, and six digits while one is awaited.
    if _may_ask_for_code(turn) and asks_for_code(text):
        await _send_code(turn)
        return
    if conversation.step == FlowStep.AWAITING_CODE:
        await _code_step(turn, stored, text)
    elif conversation.step == FlowStep.AWAITING_IDENTITY:
        if not await _consent_step(turn, stored, text, reading):
            await _identity_step(turn, stored, text)
    elif conversation.step == FlowStep.AWAITING_FEEDBACK:
        await _feedback_step(turn, text, reading)
    elif conversation.step == FlowStep.AWAITING_CLARIFICATION:
        await _clarification_step(turn, text, reading)
    else:
        await _question_step(turn, text, reading)


async def _person_request(turn: _Turn, reading: Reading, text: str = "") -> None:
    """A request for a person hands off at any step; its topic, if it names one ("mau bicara dengan petugas
    soal nilai"), joins what the bot was holding, so the agent's ticket says what it is about. An identity
    in the request ("13521045 saya mau bicara dengan admin") is taken first, so the ticket opens verified:
    the privacy notice was shown when the bot asked for it."""
    if text and turn.conversation.step == FlowStep.AWAITING_IDENTITY and not turn.settled:
        parsed = await _parse_identity(turn, text)
        if parsed.identity is not None:
            # A claim, as at the identity step (issue 13): the agent sees the number claimed, not proven.
            await _claim(turn, parsed.identity, await _limited_lookup(turn, parsed.identity))
            reading = _rest_of(parsed.remainder)
    held = turn.conversation.pending_question or ""
    question = " ".join(q for q in (held, reading.question) if q)[:MAX_CLASSIFIED_CHARS]
    await _handoff(turn, HandoffReason.USER_REQUEST, question=question)


async def _long_message(turn: _Turn, text: str) -> None:
    """A message cut at MAX_STORED_CHARS goes to a person, who reads it whole (the file on it): the bot
    would answer from its beginning only. Like a request for a person, this needs no verified identity;
    the ticket says whether there is one. Said once: later messages are filed on the ticket."""
    await _maybe_switch_language(turn, text)
    await turn.say("long_message")
    await _handoff(turn, HandoffReason.LOW_CONFIDENCE, question=text)


async def _survey_step(turn: _Turn, text: str) -> bool:
    """After an agent closed the ticket: a 1-5 answers the survey; anything else is a new message.

    Returns True when the message was the rating. Either way the survey is over: one chance per ticket.
    """
    turn.conversation.step = FlowStep.AWAITING_QUESTION if turn.settled else FlowStep.NEW
    await turn.conversation.save(update_fields=["step", "updated_at"])
    rating = parse_rating(text)
    if rating is None:
        return False
    ticket = await record_survey(conversation=turn.conversation, rating=rating, now=turn.now)
    if ticket is None:
        return False
    await turn.say("survey_thanks_low" if ticket.flagged else "survey_thanks")
    await turn.say("survey_comment_ask")
    turn.conversation.step = FlowStep.AWAITING_SURVEY_COMMENT
    await turn.conversation.save(update_fields=["step", "updated_at"])
    turn.deps.notify("ticket.survey", {"ticket_id": ticket.id})
    return True


async def _comment_step(turn: _Turn, text: str) -> bool:
    """The message after a chat rating: the optional comment, unless it is a command, a decline, a request
    for a person or a new question (handoff.survey has the rule). Returns True when it was consumed here.
    Either way the bot asks only once."""
    turn.conversation.step = FlowStep.AWAITING_QUESTION if turn.settled else FlowStep.NEW
    await turn.conversation.save(update_fields=["step", "updated_at"])
    ticket = await ticket_awaiting_comment(conversation=turn.conversation, now=turn.now)
    if ticket is None:  # too late: the window passed, so this is just a new message
        return False
    kind = comment_kind(text)
    if kind == CommentKind.DECLINE:
        await turn.say("survey_comment_skipped")
        return True
    if kind != CommentKind.COMMENT or read_message(text).act is Act.PERSON:
        return False
    if await record_comment(ticket=ticket, text=text) is None:
        return False
    await turn.say("survey_comment_thanks")
    turn.deps.notify("ticket.survey", {"ticket_id": ticket.id})
    return True


async def _command(turn: _Turn, text: str) -> None:
    command, _, argument = text.partition(" ")
    command = command.lower().split("@", 1)[0]  # Telegram appends @botname in groups
    if command == "/start":
        if turn.conversation.step == FlowStep.NEW:
            await _first_contact(turn, "")
        elif turn.settled:
            await turn.say("welcome_back", name_suffix=turn.name_suffix())
        else:
            await turn.say("ask_identity")
        return
    if command in ("/help", "/bantuan"):
        await turn.say("help")
        return
    if command in ("/bahasa", "/language", "/lang"):
        wanted = argument.strip().lower()[:2]
        await _set_language(turn, wanted if wanted in ("en", "id") else ("en" if turn.cat.lang == "id" else "id"))
        await turn.say("language_switched")
        return
    if command in ("/agen", "/agent", "/petugas", "/human"):
        await _handoff(turn, HandoffReason.USER_REQUEST, question=turn.conversation.pending_question or "")
        return
    await turn.say("unknown_command", command=command[:32])


async def _set_language(turn: _Turn, lang: str) -> None:
    if turn.conversation.language != lang:
        turn.conversation.language = lang
        await turn.conversation.save(update_fields=["language", "updated_at"])
    if turn.contact.language != lang:
        turn.contact.language = lang
        await turn.contact.save(update_fields=["language", "updated_at"])


async def _maybe_switch_language(turn: _Turn, text: str, reading: Reading | None = None) -> None:
    lowered = text.lower()
    if len(lowered) <= 40 and _ENGLISH_REQUEST.search(lowered) and "bahasa indonesia" not in lowered:
        await _set_language(turn, "en")
        return
    if len(lowered) <= 40 and _INDONESIAN_REQUEST.search(lowered):
        await _set_language(turn, "id")
        return
    # One or two words say little to the detector; but a message made only of English fixed phrases ("hi",
    # "thanks") says English (nlp.acts knows which phrases are whose). Only towards English: Indonesian is
    # the default anyway, and English speakers on campus write "halo" and "makasih" too, so those must not
    # undo an English page or /language en. Else keep what the user chose.
    detected = detect_language(text) if len(_words(text)) >= 3 else None
    if detected is None and reading is not None and reading.act is not Act.QUESTION and reading.lang == "en":
        detected = reading.lang
    if detected is not None:
        await _set_language(turn, detected)


async def _file_on_ticket(turn: _Turn, stored: Message) -> None:
    """A person owns the conversation: the bot keeps quiet and files the message on the ticket."""
    ticket = await open_ticket_of(turn.conversation)
    if ticket is None:  # a status without a ticket should not happen; give the conversation back to the bot
        turn.conversation.status = ConversationStatus.BOT
        turn.conversation.step = FlowStep.AWAITING_QUESTION if turn.settled else FlowStep.NEW
        await turn.conversation.save(update_fields=["status", "step", "updated_at"])
        log.error("conversation %s was with an agent but had no open ticket", turn.conversation.id)
        await _step(turn, stored, stored.text)
        return
    await _file_message(turn, ticket, stored)


async def _file_message(turn: _Turn, ticket: Ticket, stored: Message) -> None:
    stored.ticket = ticket
    await stored.save(update_fields=["ticket_id"])
    await add_event(ticket=ticket, kind="user_message", actor_kind=ActorKind.USER, data={"message_id": stored.id})
    # Waiting on the user is over once they answer: open again, the SLA clock resumes (handoff.tickets).
    await user_wrote(ticket=ticket, now=turn.now, sla=turn.deps.sla, hours=turn.deps.hours)
    turn.deps.notify("ticket.message", {"ticket_id": ticket.id, "message_id": stored.id})


async def _open_ticket_elsewhere(turn: _Turn) -> Ticket | None:
    """The ticket this person has with an agent on another of their channels, if any.

    Only a proven address counts (``handoff.contacts.is_proven``): it joined the person's contact because
    the person proved it is theirs. A claimed address (someone typed a number) has a contact of its own and
    must learn nothing of the person's tickets, so it can never reach someone else's ticket through here.
    """
    if not turn.proven:
        return None
    return (
        await Ticket.filter(
            contact_id=turn.contact.id,
            conversation__status__in=[ConversationStatus.PENDING, ConversationStatus.OPEN],
        )
        .exclude(status=TicketStatus.RESOLVED)
        .exclude(conversation_id=turn.conversation.id)
        .order_by("-id")
        .first()
    )


async def _file_on_open_ticket(turn: _Turn, stored: Message) -> bool:
    """A verified person with a ticket open on another channel writes here: file it there, as on the
    ticket's own channel, instead of greeting or classifying a second time (one thread for the agent).

    This conversation goes to the agent too (the ticket's own status, step WITH_AGENT), the way an agent's
    reply on another channel moves it (handoff.actions.reply): later messages here take the
    ordinary ``_file_on_ticket`` path, silently, and closing the ticket gives it back to the bot
    (``_release_conversations``). So the person gets one acknowledgement naming the ticket, once per ticket
    on each channel, and the agent's replies come here while this is where they wrote last
    (``handoff.tickets.reply_conversation``). Returns False, changing nothing, when there is no such ticket.
    """
    ticket = await _open_ticket_elsewhere(turn)
    if ticket is None:
        return False
    conversation = turn.conversation
    own = await Conversation.get(id=ticket.conversation_id)
    async with in_transaction():
        conversation.status = own.status  # pending until an agent takes the ticket, then open
        conversation.step = FlowStep.WITH_AGENT
        conversation.pending_question = None  # type: ignore[assignment]  # it goes to the agent, not the bot
        await conversation.save(update_fields=["status", "step", "pending_question", "updated_at"])
        # As when a ticket opens: what the person said here before (a question kept until they verified,
        # say) belongs to the ticket, so the agent reads it there.
        await Message.filter(conversation_id=conversation.id, ticket_id=None).exclude(id=stored.id).update(
            ticket_id=ticket.id
        )
        await add_event(ticket=ticket, kind="channel_joined", actor_kind=ActorKind.USER,
                        data={"channel": conversation.channel.value, "conversation_id": conversation.id,
                              "message_id": stored.id})
    # Outside the transaction: its live event must not reach the console before the rows are there.
    await _file_message(turn, ticket, stored)
    log.info("conversation %s (%s) joined ticket %s", conversation.id, conversation.channel.value, ticket.number)
    # On the ticket, so a later ticket opened here does not claim it as one of its own messages.
    await turn.say_text(turn.cat.t("ticket_joined", ticket=ticket.number or ""), ticket=ticket)
    return True


async def _first_contact(turn: _Turn, text: str, reading: Reading | None = None) -> None:
    """The first message of someone the bot does not know yet: the greeting (welcome, privacy notice,
    request, ``_greet``). An identity in this message is taken, not asked for again: the notice had not been
    shown, so the person agrees with one tap (``_consent_step``); with a request for a person it hands off
    with the claim. A question in it is kept and answered after the identity.

    Nothing here looks the number up: whether the directory knows it must not change the answer (issue 13),
    so the consent is asked for any well-formed number, and the claim is made at the tap, within the
    guessing limits."""
    reading = reading or read_message(text)
    if turn.settled:
        turn.conversation.step = FlowStep.AWAITING_QUESTION
        await turn.conversation.save(update_fields=["step", "updated_at"])
        await _question_step(turn, text, reading)
        return
    parsed = await _parse_identity(turn, text) if text and not text.startswith("/") else None
    rest = _rest_of(parsed.remainder) if parsed is not None and parsed.identity is not None else reading
    cat = turn.cat
    parts = [cat.t("greeting"), cat.t("privacy_notice")]
    turn.conversation.step = FlowStep.AWAITING_IDENTITY
    if rest.act in (Act.QUESTION, Act.PERSON) and rest.question:  # the question without its greeting
        turn.conversation.pending_question = rest.question[:MAX_CLASSIFIED_CHARS]
    if parsed is not None and parsed.identity is not None:
        if rest.act is Act.PERSON:
            # Asking for a person is asking the Care Center to handle it: the identity goes with it as a
            # claim, so the agent's ticket shows it instead of the person being asked for it again.
            await _greet(turn, parts)
            await _claim(turn, parsed.identity, await _limited_lookup(turn, parsed.identity))
            await _save_first_contact(turn)
            await _handoff(turn, HandoffReason.USER_REQUEST, question=turn.conversation.pending_question or "")
            return
        if turn.conversation.pending_question:
            parts.append(cat.t("question_noted"))
        parts.append(cat.t("consent_ask", value=parsed.identity.value))
        await _greet(turn, parts, buttons=(Button(cat.t("button_agree"), CONSENT_VALUE),))
        await _save_first_contact(turn)
        return
    if rest.act is Act.PERSON:
        await _save_first_contact(turn)
        await _person_request(turn, rest)
        return
    if turn.conversation.pending_question:
        parts.append(cat.t("question_noted"))
    parts.append(cat.t("ask_identity"))
    await _greet(turn, parts)
    await _save_first_contact(turn)


GREETING_SEPARATOR = "\n\n"


def greeting_text(parts: list[str]) -> str:
    """The first-contact greeting as sent: its parts as paragraphs of one message."""
    return GREETING_SEPARATOR.join(parts)


async def _greet(turn: _Turn, parts: list[str], *, buttons: tuple[Button, ...] = ()) -> None:
    """The first-contact greeting (welcome, privacy notice, what is asked of the person, and the consent
    button when an identity came first) in ONE message: each WhatsApp message is billed and each Telegram
    message in a chat is throttled (issue 14). About 600-750 characters, well under every channel's limit
    (WhatsApp 1,600, Telegram 4,096); the buttons answer its last paragraph."""
    await turn.say_text(greeting_text(parts), buttons=buttons)


async def _save_first_contact(turn: _Turn) -> None:
    await turn.conversation.save(update_fields=["step", "pending_question", "updated_at"])


# Words that only label an identity ("NIM saya 13521045", "my NIP is ..."): with the identity taken out,
# they are no question to classify.
_IDENTITY_LABELS = frozenset({"nim", "nip", "npm", "email", "e", "mail", "surel", "nomor", "no", "number", "induk",
                              "mahasiswa", "pegawai", "student", "staff", "id", "saya", "aku", "sy", "my", "is",
                              "adalah", "yaitu", "ini", "here", "it", "s", "kak", "min"})


def _rest_of(remainder: str) -> Reading:
    """What a message says besides its identity: nothing (EMPTY) when the rest only labels the identity."""
    words = _words(remainder)
    if all(word in _IDENTITY_LABELS for word in words):
        return Reading(Act.EMPTY)
    return read_message(remainder)


# What the consent button "says"; typed by hand it counts too, as does any yes (nlp.acts).
CONSENT_VALUE = "setuju"
_CONSENT_WORDS = frozenset({"setuju", "agree", "i agree", "saya setuju"})
# How far back the consent step looks for the identity it confirms: the first message, plus a few that
# came before the tap (a greeting, a correction).
_CONSENT_LOOKBACK = 5


async def _consent_step(turn: _Turn, stored: Message, text: str, reading: Reading) -> bool:
    """The tap on "Setuju"/"Agree" after an identity came before the privacy notice: verify with that identity
    (read again from the person's own earlier message, so nothing else keeps it) instead of asking for it
    again. Returns False, changing nothing, when this is not such a tap."""
    if text.strip().lower() not in _CONSENT_WORDS and reading.act is not Act.YES:
        return False
    earlier = await (Message.filter(conversation_id=turn.conversation.id, direction=Direction.INBOUND,
                                    id__lt=stored.id)
                     .order_by("-id").limit(_CONSENT_LOOKBACK).values_list("text", flat=True))
    for previous in earlier:
        parsed = await _parse_identity(turn, str(previous))
        if parsed.identity is None:
            continue
        # The identity step answers as for a typed number, found or not (issue 13).
        await _identity_step(turn, stored, parsed.identity.value)
        return True
    return False


async def _identity_step(turn: _Turn, stored: Message, text: str) -> None:
    conversation = turn.conversation
    parsed = await _parse_identity(turn, text)
    record = await _limited_lookup(turn, parsed.identity) if parsed.identity is not None else None
    refused = record is not None and not is_active(record) and turn.deps.inactive == InactivePolicy.REFUSE
    if parsed.identity is not None and not refused:
        rest = _rest_of(parsed.remainder)  # "NIM saya 13521045" holds no question
        question = " ".join(q for q in (conversation.pending_question, rest.question) if q).strip()
        await _claim(turn, parsed.identity, record)
        conversation.pending_question = None  # type: ignore[assignment]
        conversation.step = FlowStep.AWAITING_QUESTION
        await conversation.save(update_fields=["pending_question", "step", "updated_at"])
        # The same words whether the number is in the directory or not, and nothing from its record: a
        # number is a claim, and the bot must not be a number-to-name lookup (issue 13).
        await turn.say("identity_noted")
        await _offer_code(turn)
        await _answer_kept(turn, question)
        return
    if refused:
        # Said plainly, though it tells that the number is in the directory: the person must know why the
        # bot will not serve it, and the attempts limit keeps this from being a lookup (issue 13).
        log.info("identity %s refused: the directory entry is not active", turn.identity.id)
        problem = turn.cat.t("identity_refused")
    elif parsed.attempt is not None:
        problem = turn.cat.t(parsed.attempt.problem.value, value=parsed.attempt.value, digits=parsed.attempt.digits)
    else:
        problem = turn.cat.t("identity_missing")
    if (refused or parsed.attempt is None) and parsed.remainder and read_message(parsed.remainder).act is Act.QUESTION:
        # Kept for whoever answers it: the bot once there is an identity, or the agent of the hand-off.
        conversation.pending_question = " ".join(q for q in (conversation.pending_question, parsed.remainder) if q)[
            :MAX_CLASSIFIED_CHARS
        ]
    conversation.identity_attempts += 1
    await conversation.save(update_fields=["identity_attempts", "pending_question", "updated_at"])
    left = MAX_IDENTITY_ATTEMPTS - conversation.identity_attempts
    if left <= 0:
        await turn.say_text(problem)
        await turn.say("unverified_handoff")
        await _handoff(turn, HandoffReason.UNVERIFIED, question=conversation.pending_question or "", unverified=True)
        return
    await turn.say_text(f"{problem} {turn.cat.t('attempts_left', left=left)}\n{turn.cat.t('ask_identity')}")


async def _answer_kept(turn: _Turn, question: str) -> None:
    """After the identity: the question kept until now, or an invitation to ask one."""
    if question and read_message(question).act is Act.QUESTION:
        await _question_step(turn, question)
    else:
        await turn.say("ask_question")


async def _parse_identity(turn: _Turn, text: str) -> ParseResult:
    # In a thread: linear, but a stored message full of e-mail-like runs is milliseconds of CPU
    # (benchmarks/message_cost_bench.py), time the event loop owes every other user and /healthz.
    return await asyncio.to_thread(
        parse_identity, text, today=turn.now.date(), campus_domains=turn.deps.campus_domains
    )


async def _limited_lookup(turn: _Turn, identity: Identity) -> DirectoryRecord | None:
    """A number typed by the person, looked up within the guessing limits (handoff.identity_limits). Over a
    limit nothing is looked up, as if the directory did not know it: the answer is the same neutral one."""
    keys = await _attempt_keys(turn.deps, turn.identity, identity)
    if not await identity_limits.allowed(keys, now=turn.now):
        return None
    await identity_limits.record(keys, now=turn.now)
    return await _lookup(turn, identity)


async def _attempt_keys(deps: FlowDeps, address: ChannelIdentity, identity: Identity) -> identity_limits.AttemptKeys:
    return await identity_limits.attempt_keys(secret_key=deps.secret_key, channel=address.channel,
                                              address=address.external_id, number=identity.value)


async def _lookup(turn: _Turn, identity: Identity) -> DirectoryRecord | None:
    try:
        return await turn.deps.directory.lookup(identity)
    except Exception:  # a directory outage must not lose the conversation: a person verifies instead
        log.exception("directory lookup failed for %s", mask(identity.value))
        return None


async def _claim(turn: _Turn, identity: Identity, record: DirectoryRecord | None) -> None:
    """An identity sent after the privacy notice: the consent (UU PDP), and, when the directory knows the
    number, a claim on this address (``proof=claimed``). Nothing joins the person's contact: only proof
    does (``_prove``). A number the directory does not know leaves no claim, but the same consent, so the
    next conversation goes the same way either way."""
    contact = turn.contact
    contact.consent_at = contact.consent_at or turn.now  # keep the first one
    contact.language = turn.conversation.language
    await contact.save(update_fields=["consent_at", "language", "updated_at"])
    if record is not None and not turn.proven:
        turn.identity.claimed_number = record.id_number
        turn.identity.proof = ProofLevel.CLAIMED
        await turn.identity.save(update_fields=["claimed_number", "proof"])
    log.info("identity %s sent a %s (%s)", turn.identity.id, identity.kind.value,
             "claimed" if record is not None else "not in the directory")


async def _prove(turn: _Turn, record: DirectoryRecord, method: ProofMethod, *, speaking: bool = True) -> None:
    """This address is proven to be ``record``'s: join it to the person (handoff.contacts.prove, the one
    way), and the turn goes on as that person. ``speaking``: the person chose this conversation's language
    (they answered in it); a mail that proves itself on arrival has not, and keeps the person's."""
    person = Person(id_number=record.id_number, name=record.name, email=record.email, role=record.role,
                    faculty=record.faculty, program=record.program)
    turn.contact = await prove(identity=turn.identity, person=person, method=method, now=turn.now,
                               language=turn.conversation.language if speaking else None)
    turn.conversation.contact_id = turn.contact.id
    log.info("identity %s proven by %s", turn.identity.id, method.value)


def _may_ask_for_code(turn: _Turn) -> bool:
    """Proof by code is on offer: SMTP is configured, and this address sent an identity and is not proven."""
    return (turn.deps.code_mail and turn.settled and not turn.proven
            and turn.conversation.step in (FlowStep.AWAITING_QUESTION, FlowStep.AWAITING_FEEDBACK,
                                           FlowStep.AWAITING_CODE))


async def _offer_code(turn: _Turn) -> None:
    """After the neutral "noted": the offer of a code, in the same words whether the number exists or not."""
    if _may_ask_for_code(turn):
        code = turn.cat.t("button_send_code")
        await turn.say("code_offer", buttons=(Button(code, code.lower()),))


def _number_identity(number: str, deps: FlowDeps) -> Identity | None:
    """The directory identity of a claimed number (a NIM or a NIP), to look its record up again."""
    return parse_identity(number, today=deps.clock().date(), campus_domains=deps.campus_domains).identity


async def _send_code(turn: _Turn) -> None:
    """A new one-time code for the claimed number (handoff.proof_codes), mailed to the campus address the
    directory has for it; for a number it does not know, or an entry that is not active, one nobody gets.
    Either way the person hears the same words and waits for a code."""
    number = turn.identity.claimed_number or ""
    wanted = _number_identity(number, turn.deps) if number else None
    record = await _lookup(turn, wanted) if wanted is not None else None
    email = record.email if record is not None and is_active(record) and record.email else ""
    cat = catalog(turn.conversation.language)
    minutes = int(proof_codes.VALIDITY.total_seconds() // 60)

    def compose(code: str) -> tuple[str, str, str]:
        return _code_mail(code, cat.lang, minutes)

    issued = await proof_codes.issue(identity=turn.identity, number=number if email else "", email=email,
                                     secret_key=turn.deps.secret_key, now=turn.now, compose=compose)
    if issued is proof_codes.Issued.PAUSED:
        await turn.say("code_paused", minutes=int(proof_codes.PAUSE.total_seconds() // 60))
        return
    if issued is proof_codes.Issued.TOO_MANY:
        await turn.say("code_too_many")
        return
    turn.conversation.step = FlowStep.AWAITING_CODE
    await turn.conversation.save(update_fields=["step", "updated_at"])
    await turn.say("code_sent", minutes=minutes)


def _code_mail(code: str, language: str, minutes: int) -> tuple[str, str, str]:
    """(subject, plain text, HTML) of the code's mail: the person's language first, then the other."""
    order = [language, *(lang for lang in ("id", "en") if lang != language)]
    plain, rich = [], []
    for lang in order:
        body = catalog(lang).t("code_mail_body", code=code, minutes=minutes)
        plain.append(body)
        rich.append("<p>" + "<br>".join(html.escape(line) for line in body.splitlines()) + "</p>")
    return (catalog(order[0]).t("code_mail_subject"), "\n\n".join(plain),
            "<html><body>" + "<hr>".join(rich) + "</body></html>")


async def _code_step(turn: _Turn, stored: Message, text: str) -> None:
    """Waiting for the code: six digits are a try; "batal" leaves; anything else is kept, to be answered
    after the proof (as a question sent with the identity is), and the person is reminded what to do."""
    conversation = turn.conversation
    code = proof_codes.as_code(text)
    if code is None:
        if " ".join(_words(text)) in _CANCEL:
            conversation.step = FlowStep.AWAITING_QUESTION
            question = conversation.pending_question or ""
            conversation.pending_question = None  # type: ignore[assignment]
            await conversation.save(update_fields=["step", "pending_question", "updated_at"])
            await turn.say("code_cancelled")
            await _answer_kept(turn, question)
            return
        if read_message(text).act is Act.QUESTION:
            conversation.pending_question = " ".join(q for q in (conversation.pending_question, text) if q)[
                :MAX_CLASSIFIED_CHARS
            ]
            await conversation.save(update_fields=["pending_question", "updated_at"])
        await turn.say("code_reminder")
        return
    # The code is in the mailbox only: not in the transcript, where every agent reads it.
    stored.text = "•" * proof_codes.DIGITS
    await stored.save(update_fields=["text"])
    result = await proof_codes.check(identity=turn.identity, code=code, secret_key=turn.deps.secret_key, now=turn.now)
    if result.verdict is proof_codes.Verdict.WRONG:
        await turn.say("code_wrong", left=result.left)
        return
    if result.verdict is proof_codes.Verdict.PAUSED:
        await turn.say("code_paused", minutes=int(proof_codes.PAUSE.total_seconds() // 60))
        return
    wanted = _number_identity(result.number, turn.deps) if result.verdict is proof_codes.Verdict.PROVEN else None
    record = await _lookup(turn, wanted) if wanted is not None else None
    if record is None or not is_active(record):  # dead, or the directory changed since the code was made
        await turn.say("code_dead")
        return
    await _prove(turn, record, ProofMethod.CODE)
    conversation.step = FlowStep.AWAITING_QUESTION
    await conversation.save(update_fields=["step", "updated_at"])
    await turn.say("code_proven", name_suffix=turn.name_suffix())
    # Today's proven experience: the person's open ticket elsewhere takes this conversation (and what was
    # kept here); otherwise the kept question is answered now.
    if await _file_on_open_ticket(turn, stored):
        return
    question = conversation.pending_question or ""
    conversation.pending_question = None  # type: ignore[assignment]
    await conversation.save(update_fields=["pending_question", "updated_at"])
    await _answer_kept(turn, question)


# The short catalogue answer to a message that does something other than ask (nlp.acts): never a ticket and
# never the classifier. A yes or no outside "did this help?" answers nothing, so it is taken as an
# acknowledgement.
_ACT_REPLIES: dict[Act, str] = {
    Act.GREETING: "welcome_back",
    Act.THANKS: "act_thanks",
    Act.ACKNOWLEDGEMENT: "act_acknowledgement",
    Act.YES: "act_acknowledgement",
    Act.NO: "act_acknowledgement",
    Act.GOODBYE: "act_goodbye",
    Act.WANT_TO_ASK: "act_want_to_ask",
    Act.EMOJI_ONLY: "act_emoji",
    Act.RATING: "act_rating",
    Act.EMPTY: "empty_message",
}
# Keys of Conversation.last_prediction beyond the prediction itself: the dialogue's short memory, kept in the
# JSON the conversation already has (one row, no migration): the choices on offer while the step is
# AWAITING_CLARIFICATION, and two counters that decide a hand-off.
_OPTIONS = "options"
_NOT_HELPFUL = "not_helpful"  # "did this help?" answered no for this question (the second no hands off)
_OUT_OF_SCOPE_STREAK = "out_of_scope_streak"  # out-of-scope questions in a row (the second hands off)
_CHOICE = re.compile(r"\s*(\d{1,2})\s*[.)]?\s*")


async def _answer_act(turn: _Turn, reading: Reading) -> None:
    await turn.say(_ACT_REPLIES.get(reading.act, "ask_question"), name_suffix=turn.name_suffix())


async def _question_step(turn: _Turn, text: str, reading: Reading | None = None) -> None:
    """Only a question is classified, and without its greeting, apology or closing thanks (nlp.acts)."""
    reading = reading or read_message(text)
    if reading.act is Act.PERSON:
        await _person_request(turn, reading)
        return
    if reading.act is not Act.QUESTION:
        await _answer_act(turn, reading)
        return
    question = reading.question or text
    await _decide(turn, question, await _predict(turn, question))


def _memory(turn: _Turn) -> dict[str, Any]:
    return dict(turn.conversation.last_prediction or {})


async def _decide(turn: _Turn, question: str, prediction: Prediction, *, not_helpful: int = 0) -> None:
    """Act on the classifier's three-way decision (nlp.decision): answer, ask which of the top suggestions
    is meant, or hand off; a question outside Edunex gets an answer saying so, and a second one in a row goes
    to a person."""
    streak = int(_memory(turn).get(_OUT_OF_SCOPE_STREAK, 0))
    state = _prediction_json(prediction)
    state[_NOT_HELPFUL] = not_helpful
    if prediction.out_of_scope:
        state[_OUT_OF_SCOPE_STREAK] = streak + 1
    turn.conversation.last_prediction = state
    turn.conversation.pending_question = question[:MAX_CLASSIFIED_CHARS]
    await turn.conversation.save(update_fields=["last_prediction", "pending_question", "updated_at"])
    if await _incident_notice(turn, question, prediction):
        return
    if prediction.out_of_scope and streak == 0:
        turn.conversation.step = FlowStep.AWAITING_QUESTION
        await turn.conversation.save(update_fields=["step", "updated_at"])
        await turn.say("out_of_scope")
        return
    if prediction.decision is Decision.CLARIFY and prediction.candidates:
        await _offer_choices(turn, [label for label, _ in prediction.candidates], intro="clarify_ask")
        return
    if prediction.handoff:
        await _handoff(turn, HandoffReason.LOW_CONFIDENCE, question=question, prediction=prediction)
        return
    await _answer_with(turn, prediction.label)


async def _incident_notice(turn: _Turn, question: str, prediction: Prediction) -> bool:
    """A question about an open incident (handoff.incidents decides which) is answered "we know, the
    developers are on it, we will tell you here", and the conversation is linked to the incident so its fix
    notice comes here: no ticket, unless the person then asks for one (the question stays pending, so that
    ticket says what it is about). Only a confident category counts; words count at any confidence."""
    category = prediction.label if prediction.decision is Decision.ANSWER and not prediction.out_of_scope else None
    incident_id = await incident_index.match(question, category)
    if incident_id is None:
        return False
    if await follow_incident(incident_id=incident_id, conversation=turn.conversation, now=turn.now):
        log.info("conversation %s linked to incident %s", turn.conversation.id, incident_id)
    state = _memory(turn)
    state.pop(_OUT_OF_SCOPE_STREAK, None)  # answered: an outage's words are not "outside Edunex" twice in a row
    turn.conversation.last_prediction = state
    turn.conversation.step = FlowStep.AWAITING_QUESTION
    await turn.conversation.save(update_fields=["step", "last_prediction", "updated_at"])
    await turn.say("incident_notice")
    return True


async def _answer_with(turn: _Turn, label: str) -> None:
    """Send ``label``'s template and ask whether it helped (the question is the conversation's pending one)."""
    question = turn.conversation.pending_question or ""
    body = await _template_for(label, turn.conversation.language)
    if body is None:  # a category without a template (or a disabled one) is a person's job
        state = _memory(turn)
        await _handoff(turn, HandoffReason.LOW_CONFIDENCE, question=question,
                       predicted=(label, state.get("confidence")))
        return
    state = _memory(turn)
    state["label"] = label  # what was answered (a chosen option may differ from the classifier's top)
    state.pop(_OPTIONS, None)
    turn.conversation.last_prediction = state
    # The template's {name} is the given name alone: its author writes the salutation ("Kak {name}").
    await turn.say_text(render(ANSWER, body, name=turn.first_name()))
    cat = turn.cat
    await turn.say("did_it_help", buttons=(Button(cat.t("button_yes"), _BUTTON_YES),
                                           Button(cat.t("button_no"), _BUTTON_NO)))
    turn.conversation.step = FlowStep.AWAITING_FEEDBACK
    await turn.conversation.save(update_fields=["step", "last_prediction", "updated_at"])


async def _category_names(slugs: list[str], language: str) -> dict[str, str]:
    rows = await Category.filter(slug__in=slugs, active=True).values("slug", "name_id", "name_en")
    return {r["slug"]: (r["name_en"] if language == "en" else r["name_id"]) or r["slug"] for r in rows}


async def _offer_choices(turn: _Turn, labels: list[str], *, intro: str) -> None:
    """Ask which of ``labels`` the question is about, plus "something else / a person": buttons where the
    channel has them, else numbered lines; either way the person answers with the number."""
    names = await _category_names(labels, turn.conversation.language)
    options = [label for label in labels if label in names]
    question = turn.conversation.pending_question or ""
    if not options:  # nothing left to offer (categories disabled since the model was trained)
        state = _memory(turn)
        await _handoff(turn, HandoffReason.LOW_CONFIDENCE, question=question,
                       predicted=(state.get("label"), state.get("confidence")))
        return
    cat = turn.cat
    labels_shown = [names[label] for label in options] + [cat.t("clarify_other")]
    channel = turn.deps.registry.get(turn.conversation.channel)
    if channel is not None and channel.supports_buttons:
        buttons = tuple(Button(label, str(i)) for i, label in enumerate(labels_shown, 1))
        await turn.say_text(cat.t(intro), buttons=buttons)
    else:
        lines = "\n".join(cat.t("clarify_option", number=i, name=label) for i, label in enumerate(labels_shown, 1))
        await turn.say_text(f"{cat.t(intro)}\n{lines}\n{cat.t('clarify_reply_hint')}")
    state = _memory(turn)
    state[_OPTIONS] = options
    turn.conversation.last_prediction = state
    turn.conversation.step = FlowStep.AWAITING_CLARIFICATION
    await turn.conversation.save(update_fields=["step", "last_prediction", "updated_at"])


def _choice(text: str, count: int) -> int | None:
    """The option number (1-based) a reply picks among ``count``, or None when it is not one."""
    match = _CHOICE.fullmatch(text)
    if match is None:
        return None
    number = int(match.group(1))
    return number if 1 <= number <= count else None


async def _clarification_step(turn: _Turn, text: str, reading: Reading) -> None:
    """An answer to "which of these?": a number picks a category (answered with its template) or "something
    else" (a person); anything else is read as a new message."""
    state = _memory(turn)
    options = [str(o) for o in state.get(_OPTIONS) or []]
    picked = _choice(text, len(options) + 1)
    turn.conversation.step = FlowStep.AWAITING_QUESTION
    if picked is None:
        state.pop(_OPTIONS, None)
        turn.conversation.last_prediction = state
        await turn.conversation.save(update_fields=["step", "last_prediction", "updated_at"])
        await _question_step(turn, text, reading)
        return
    if picked > len(options):  # "something else / a person"
        reason = HandoffReason.NOT_HELPFUL if state.get(_NOT_HELPFUL) else HandoffReason.LOW_CONFIDENCE
        await _handoff(turn, reason, question=turn.conversation.pending_question or "",
                       predicted=(state.get("label"), state.get("confidence")))
        return
    await _answer_with(turn, options[picked - 1])


async def _feedback_step(turn: _Turn, text: str, reading: Reading | None = None) -> None:
    reading = reading or read_message(text)
    # Thanks or "oke" after "did this help?" is taken as yes: "makasih kak" means it did.
    if is_yes(text, reading) or reading.act in (Act.THANKS, Act.ACKNOWLEDGEMENT):
        await turn.say("resolved_by_bot")
        await resolve_by_bot(conversation=turn.conversation, now=turn.now)
        turn.deps.notify("conversation.resolved", {"conversation_id": turn.conversation.id})
        return
    if is_no(text, reading):
        await _not_helpful(turn)
        return
    if reading.act is Act.QUESTION:
        await _follow_up(turn, reading.question or text)
        return
    await _question_step(turn, text, reading)


async def _not_helpful(turn: _Turn) -> None:
    """The first "no" offers the next suggestions (or a person) for the same question; the second hands off."""
    state = _memory(turn)
    question = turn.conversation.pending_question or ""
    answered = state.get("label")
    if state.get(_NOT_HELPFUL) or not question or not answered:
        await _handoff(turn, HandoffReason.NOT_HELPFUL, question=question,
                       predicted=(answered, state.get("confidence")))
        return
    prediction = await _predict(turn, question, exclude=(str(answered),))
    if prediction.decision is Decision.CLARIFY:
        labels = [label for label, _ in prediction.candidates]
    elif prediction.decision is Decision.ANSWER:
        labels = [prediction.label]
    else:
        labels = []
    if not labels:
        await _handoff(turn, HandoffReason.NOT_HELPFUL, question=question,
                       predicted=(answered, state.get("confidence")))
        return
    state[_NOT_HELPFUL] = 1
    turn.conversation.last_prediction = state
    await _offer_choices(turn, labels, intro="clarify_not_helpful")


async def _follow_up(turn: _Turn, text: str) -> None:
    """More detail after an answer: read with the previous question as context, and never answered with the
    template just sent (the classifier excludes it; then the next best, a clarification or a person)."""
    state = _memory(turn)
    previous = turn.conversation.pending_question or ""
    answered = str(state.get("label") or "")
    alone = await _predict(turn, text)
    about_else = (alone.label != answered if alone.decision is Decision.ANSWER
                  else answered not in {label for label, _ in alone.candidates} if alone.decision is Decision.CLARIFY
                  else False)
    if about_else:  # a new question about something else, read on its own
        await _decide(turn, text, alone)
        return
    combined = f"{previous} {text}".strip()[:MAX_CLASSIFIED_CHARS]
    prediction = await _predict(turn, combined, exclude=(answered,) if answered else ())
    await _decide(turn, combined, prediction, not_helpful=int(state.get(_NOT_HELPFUL, 0)))


async def _template_for(slug: str, language: str) -> str | None:
    templates = await AnswerTemplate.filter(category__slug=slug, category__active=True).values("language", "body")
    by_lang = {t["language"]: t["body"] for t in templates}
    return by_lang.get(language) or by_lang.get("id") or next(iter(by_lang.values()), None)


async def _predict(turn: _Turn, text: str, *, exclude: tuple[str, ...] = ()) -> Prediction:
    # In a thread: up to MAX_CLASSIFIED_CHARS of text costs the classifier milliseconds (tens for text that
    # Unicode normalisation lengthens), time the event loop owes every other user and /healthz.
    wanted = text[:MAX_CLASSIFIED_CHARS]
    if exclude:
        return await asyncio.to_thread(lambda: turn.deps.classifier.predict(wanted, exclude=exclude))
    return await asyncio.to_thread(turn.deps.classifier.predict, wanted)


def _prediction_json(prediction: Prediction) -> dict[str, Any]:
    return {
        "label": prediction.label,
        "confidence": round(prediction.confidence, 4),
        "top": [[label, round(p, 4)] for label, p in prediction.top],
        "handoff": prediction.handoff,
        "reason": prediction.reason,
        "decision": prediction.decision.value,
        "candidates": [[label, round(p, 4)] for label, p in prediction.candidates],
    }


def _hours_text(cat: Catalog, ops: Operations) -> str:
    """The catalogue's sentence until a supervisor sets the hours; then one written from the schedule."""
    if not ops.stored:
        return cat.t("hours")
    spans = []
    for days, opens, closes in describe_spans(ops.hours):
        names = cat.weekday(days[0]) if len(days) == 1 else cat.t(
            "hours_days_range", first=cat.weekday(days[0]), last=cat.weekday(days[-1]))
        spans.append(cat.t("hours_span", days=names, opens=cat.t("hours_time", hour=opens.hour, minute=opens.minute),
                           closes=cat.t("hours_time", hour=closes.hour, minute=closes.minute)))
    if not spans:
        return cat.t("hours_none")
    return cat.t("hours_schedule", spans="; ".join(spans),
                 holidays=cat.t("hours_holidays") if ops.hours.public_holidays else "")


async def _handoff(
    turn: _Turn,
    reason: HandoffReason,
    *,
    question: str,
    prediction: Prediction | None = None,
    predicted: tuple[Any, Any] | None = None,
    unverified: bool = False,
) -> None:
    label: str | None = None
    confidence: float | None = None
    if prediction is None and predicted is None and question:
        prediction = await _predict(turn, question)
    if prediction is not None:
        label, confidence = prediction.label, prediction.confidence
    elif predicted is not None:
        label, confidence = predicted
    if label == "out_of_scope":
        label = None
    # Read at every hand-off: a supervisor's change in the console applies without a restart.
    ops = await load_operations(defaults=defaults_from(hours=turn.deps.hours, sla=turn.deps.sla))
    ticket = await open_ticket(
        conversation=turn.conversation,
        reason=reason,
        now=turn.now,
        predicted_category=label,
        predicted_confidence=confidence,
        # Claimed, not proven: the agent decides (issue 13).
        unverified=unverified or not turn.proven,
        subject=question,
        sla=ops.sla,
        # The hours in force (the supervisor's, else OPENING_TIME/CLOSING_TIME): a policy that counts
        # operating hours counts these, the ones the user is told about just below.
        hours=ops.hours,
    )
    hours = ops.hours
    cat = turn.cat
    values = {"ticket": ticket.number or "", "hours": _hours_text(cat, ops), "sla_hours": sla_text(ops.sla)}
    if hours.is_open(turn.now):
        await turn.say_text(cat.t("handoff_in_hours", **values))
    elif custom := ops.message(cat.lang):
        # The supervisor's own words, filled by name only (handoff.templating): nothing in them is evaluated.
        await turn.say_text(render(OUT_OF_HOURS, custom, **values, next_open=cat.when(hours.next_open(turn.now))))
    else:
        await turn.say_text(cat.t("handoff_out_of_hours", **values, next_open=cat.when(hours.next_open(turn.now))))
    turn.deps.notify("ticket.opened", {"ticket_id": ticket.id})
