"""The dispatcher: which step a stored message goes to, by the conversation's status and step.
"""

from __future__ import annotations

import logging

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
from nlp.acts import Act

log = logging.getLogger(__name__)


async def take_step(turn: Turn, stored: Message, raw_text: str) -> None:
    conversation = turn.conversation
    text = raw_text.strip()

    if conversation.status in (ConversationStatus.PENDING, ConversationStatus.OPEN):
        await _file_on_ticket(turn, stored)
        return
    # A rating (or its comment) answers the survey of a ticket already closed here, even when another is
    # open elsewhere; anything else is checked against that open ticket below.
    if text and conversation.step == FlowStep.AWAITING_SURVEY and await survey_step(turn, text):
        return
    if text and conversation.step == FlowStep.AWAITING_SURVEY_COMMENT and await comment_step(turn, text):
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

    if conversation.step == FlowStep.NEW:
        await first_contact(turn, text, reading)
        return
    if reading.act is Act.PERSON:
        await person_request(turn, reading, text)
        return
    # Proof by code (issue 13): asked for at any step after the identity, and six digits while one is awaited.
    if may_ask_for_code(turn) and asks_for_code(text):
        await send_code(turn)
        return
    if conversation.step == FlowStep.AWAITING_CODE:
        await code_step(turn, stored, text)
    elif conversation.step == FlowStep.AWAITING_IDENTITY:
        if not await consent_step(turn, stored, text, reading):
            await identity_step(turn, stored, text)
    elif conversation.step == FlowStep.AWAITING_FEEDBACK:
        await feedback_step(turn, text, reading)
    elif conversation.step == FlowStep.AWAITING_CLARIFICATION:
        await clarification_step(turn, text, reading)
    else:
        await question_step(turn, text, reading)


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
