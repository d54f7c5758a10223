"""The satisfaction survey in the chat after an agent closed the ticket: the rating, then its optional
comment, each asked once (handoff.survey keeps the rules).
"""

from __future__ import annotations

from bot.conversation.lexicon import read_message
from bot.conversation.turn import Turn
from handoff.survey import (
    CommentKind,
    comment_kind,
    parse_rating,
    record_comment,
    record_survey,
    ticket_awaiting_comment,
)
from models import FlowStep
from nlp.acts import Act


async def survey_step(turn: Turn, text: str) -> bool:
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


async def comment_step(turn: Turn, text: str) -> bool:
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
