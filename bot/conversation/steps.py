"""The dispatcher: which step a stored message goes to. First what every step shares (a ticket being handled,
a survey's answer, a ticket open elsewhere, an empty or cut message, a command, the language), then the
step for the conversation's ``FlowStep``, from the table ``STEPS``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot.conversation.commands import maybe_switch_language, run_command
from bot.conversation.identity import code_step, consent_step, first_contact, identity_step
from bot.conversation.ingest import kept_in_full
from bot.conversation.joining import file_message, file_on_open_ticket
from bot.conversation.lexicon import asks_for_code, read_message
from bot.conversation.proof import may_ask_for_code, send_code
from bot.conversation.questions import clarification_step, feedback_step, question_step
from bot.conversation.replies import hand_off, person_request
from bot.conversation.survey import comment_step, survey_step
from bot.conversation.turn import Turn
from handoff.tickets import open_ticket_of
from models import ConversationStatus, FlowStep, HandoffReason, Message
from nlp.acts import Act, Reading

log = logging.getLogger(__name__)

Handle = Callable[[Turn, Message, str, Reading], Awaitable[None]]
AnswersFirst = Callable[[Turn, str], Awaitable[bool]]


@dataclass(frozen=True, slots=True)
class Step:
    """What a message does at one ``FlowStep`` (``STEPS``)."""

    # The step's own reading of a message that passed the checks every step shares (``take_step``).
    handle: Handle
    # Asked before anything else, even before a ticket open on another channel takes the message: is this
    # message the step's answer (a survey's rating or comment)? True: it was, and the turn is done. False:
    # the step has moved on (to a question, or a first contact) and the message goes on as any other.
    answers_first: AnswersFirst | None = None
    # Whether ``handle`` reads a request for a person or for a code itself (the first contact: an identity
    # may come with it). At every other step a request for a person hands off, and a request for a code
    # sends one, before the step's own reading.
    own_requests: bool = False


async def _first_contact(turn: Turn, _stored: Message, text: str, reading: Reading) -> None:
    await first_contact(turn, text, reading)


async def _identity(turn: Turn, stored: Message, text: str, reading: Reading) -> None:
    if not await consent_step(turn, stored, text, reading):
        await identity_step(turn, stored, text)


async def _code(turn: Turn, stored: Message, text: str, _reading: Reading) -> None:
    await code_step(turn, stored, text)


async def _question(turn: Turn, _stored: Message, text: str, reading: Reading) -> None:
    await question_step(turn, text, reading)


async def _feedback(turn: Turn, _stored: Message, text: str, reading: Reading) -> None:
    await feedback_step(turn, text, reading)


async def _clarification(turn: Turn, _stored: Message, text: str, reading: Reading) -> None:
    await clarification_step(turn, text, reading)


# Every FlowStep has its row (tests/bot/test_steps.py checks it), so a new step is a decision here, not a
# silent fall into the question step. A message at a step that waits for nothing is read as a question.
STEPS: dict[FlowStep, Step] = {
    FlowStep.NEW: Step(_first_contact, own_requests=True),
    FlowStep.AWAITING_IDENTITY: Step(_identity),
    FlowStep.AWAITING_CODE: Step(_code),
    FlowStep.AWAITING_QUESTION: Step(_question),
    FlowStep.AWAITING_FEEDBACK: Step(_feedback),
    FlowStep.AWAITING_CLARIFICATION: Step(_clarification),
    FlowStep.AWAITING_SURVEY: Step(_question, answers_first=survey_step),
    FlowStep.AWAITING_SURVEY_COMMENT: Step(_question, answers_first=comment_step),
    # With a person, or done: the conversation's status normally takes the message elsewhere (to the ticket,
    # ``_file_on_ticket``; to a new conversation, ``run.run_turn``). One that arrives anyway is a question.
    FlowStep.WITH_AGENT: Step(_question),
    FlowStep.DONE: Step(_question),
}


async def take_step(turn: Turn, stored: Message, raw_text: str) -> None:
    conversation = turn.conversation
    text = raw_text.strip()

    if conversation.status in (ConversationStatus.PENDING, ConversationStatus.OPEN):
        await _file_on_ticket(turn, stored)
        return
    # A rating (or its comment) answers the survey of a ticket already closed here, even when another is
    # open elsewhere; anything else is checked against that open ticket below.
    answers_first = STEPS[conversation.step].answers_first
    if text and answers_first is not None and await answers_first(turn, text):
        return
    # Ahead of commands, a request for a person and an empty text (a file sent alone): on the ticket's own
    # channel those are filed too.
    if await file_on_open_ticket(turn, stored):
        return
    if not text:
        await turn.say("empty_message")
        return
    if await kept_in_full(stored):
        await _long_message(turn, text)
        return
    if text.startswith("/"):
        await run_command(turn, text)
        return
    # What the message does comes before what it is about (nlp.acts): read once here, for every step.
    reading = read_message(text)
    await maybe_switch_language(turn, text, reading)

    # Looked up again: a survey's step that was not answered has moved on by now.
    step = STEPS[conversation.step]
    if not step.own_requests:
        if reading.act is Act.PERSON:
            await person_request(turn, reading, text)
            return
        # Proof by code (issue 13): asked for at any step after the identity, and six digits while one is
        # awaited (the code step).
        if may_ask_for_code(turn) and asks_for_code(text):
            await send_code(turn)
            return
    await step.handle(turn, stored, text, reading)


async def _long_message(turn: Turn, text: str) -> None:
    """A message cut at MAX_STORED_CHARS goes to a person, who reads it whole (the file on it): the bot
    would answer from its beginning only. Like a request for a person, this needs no verified identity;
    the ticket says whether there is one. Said once: later messages are filed on the ticket."""
    await maybe_switch_language(turn, text)
    await turn.say("long_message")
    await hand_off(turn, HandoffReason.LOW_CONFIDENCE, question=text)


async def _file_on_ticket(turn: Turn, stored: Message) -> None:
    """A person owns the conversation: the bot keeps quiet and files the message on the ticket."""
    ticket = await open_ticket_of(turn.conversation)
    if ticket is None:  # a status without a ticket should not happen; give the conversation back to the bot
        turn.conversation.status = ConversationStatus.BOT
        turn.conversation.step = FlowStep.AWAITING_QUESTION if turn.settled else FlowStep.NEW
        await turn.conversation.save(update_fields=["status", "step", "updated_at"])
        log.error("conversation %s was with an agent but had no open ticket", turn.conversation.id)
        await take_step(turn, stored, stored.text)
        return
    await file_message(turn, ticket, stored)
