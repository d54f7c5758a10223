"""Running one stored message's turn (``run_turn``), what it will ask of the directory and the classifier
fetched before its transaction (``prefetch``), and the hand-over of a message that kept failing
(``hand_over_failed``). bot.turns calls these inside its transaction.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection
from dataclasses import dataclass, replace

from bot.channels.base import MAX_CLASSIFIED_CHARS
from bot.conversation.deps import FlowDeps, Predictor
from bot.conversation.ingest import new_conversation, open_conversation
from bot.conversation.joining import file_message
from bot.conversation.lexicon import asks_for_code, read_message
from bot.conversation.proof import address_on_record, attempt_keys, number_identity, prove_by_address
from bot.conversation.replies import hand_off
from bot.conversation.steps import take_step
from bot.conversation.turn import Turn
from bot.directory import Directory, DirectoryRecord
from bot.identity import Identity, mask, parse_identity
from handoff import identity_limits, proof_codes
from handoff.contacts import is_proven
from handoff.tickets import open_ticket_of
from models import ChannelIdentity, Contact, Conversation, ConversationStatus, FlowStep, HandoffReason, Message
from nlp import Prediction
from nlp.acts import Act

log = logging.getLogger(__name__)


async def run_turn(stored: Message, deps: FlowDeps) -> None:
    """The state machine's entry: one stored inbound message's turn. bot.turns runs it inside the turn's
    transaction, with the replies held until the commit."""
    conversation: Conversation = stored.conversation
    identity: ChannelIdentity = conversation.identity
    contact: Contact = identity.contact
    if conversation.status == ConversationStatus.RESOLVED:
        # An earlier message of the same user closed this conversation after this one was stored:
        # the message belongs to the next conversation, as it would have had the turns run in-line.
        conversation = await open_conversation(identity) or await new_conversation(identity, contact, None)
        stored.conversation = conversation
        await stored.save(update_fields=["conversation_id"])
    log.info("inbound message %s processing on conversation %s", stored.id, conversation.id)
    turn = Turn(deps, conversation, identity, contact, deps.clock())
    await prove_by_address(turn)
    await take_step(turn, stored, stored.text)


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
    own address when it may prove them (``proof.address_on_record``) and, in the identity step, for the
    identity it parses from the same text the same way."""
    wanted: list[Identity] = []
    conversation: Conversation = stored.conversation
    address = address_on_record(conversation.identity, conversation.step, deps.campus_domains)
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
    keys = await attempt_keys(deps, conversation.identity, parsed.identity)
    return parsed.identity if await identity_limits.allowed(keys, now=deps.clock()) else None


def _claimed_to_look_up(stored: Message, deps: FlowDeps) -> Identity | None:
    """The claimed number's record, when this message asks for a code or gives one (``proof.send_code``,
    ``identity.code_step``): only then, so other messages of a claimed address never wait on the directory."""
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
    return number_identity(identity.claimed_number, deps)


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
        conversation = await open_conversation(identity) or await new_conversation(identity, contact, None)
        stored.conversation = conversation
        await stored.save(update_fields=["conversation_id"])
    turn = Turn(deps, conversation, identity, contact, deps.clock())
    if conversation.status in (ConversationStatus.PENDING, ConversationStatus.OPEN):
        ticket = await open_ticket_of(conversation)
        if ticket is not None:
            await file_message(turn, ticket, stored)
            return
    await turn.say("turn_failed")
    await hand_off(turn, HandoffReason.LOW_CONFIDENCE, question=stored.text[:MAX_CLASSIFIED_CHARS],
                   predicted=(None, None))
