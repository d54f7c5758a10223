"""What the bot says outside the steps' own lines: the first-contact greeting (one message), the
operating hours as a sentence (``hours_text``, also the web chat's and the app's), and the hand-off to a
person with its ticket, asked for or decided.
"""

from __future__ import annotations

from typing import Any

from bot.channels.base import MAX_CLASSIFIED_CHARS
from bot.conversation.lexicon import rest_of
from bot.conversation.proof import claim, limited_lookup, parse_identity_in
from bot.conversation.turn import Turn, predict
from bot.i18n import Catalog
from handoff.delivery import Button
from handoff.operations import Operations, defaults_from, describe_spans, load_operations, sla_text
from handoff.templating import OUT_OF_HOURS, render
from handoff.tickets import open_ticket
from models import FlowStep, HandoffReason
from nlp import Prediction
from nlp.acts import Reading


async def person_request(turn: Turn, reading: Reading, text: str = "") -> None:
    """A request for a person hands off at any step; its topic, if it names one ("mau bicara dengan petugas
    soal nilai"), joins what the bot was holding, so the agent's ticket says what it is about. An identity
    in the request ("13521045 saya mau bicara dengan admin") is taken first, so the ticket opens verified:
    the privacy notice was shown when the bot asked for it."""
    if text and turn.conversation.step == FlowStep.AWAITING_IDENTITY and not turn.settled:
        parsed = await parse_identity_in(turn, text)
        if parsed.identity is not None:
            # A claim, as at the identity step (issue 13): the agent sees the number claimed, not proven.
            await claim(turn, parsed.identity, await limited_lookup(turn, parsed.identity))
            reading = rest_of(parsed.remainder)
    held = turn.conversation.pending_question or ""
    question = " ".join(q for q in (held, reading.question) if q)[:MAX_CLASSIFIED_CHARS]
    await hand_off(turn, HandoffReason.USER_REQUEST, question=question)


GREETING_SEPARATOR = "\n\n"


def greeting_text(parts: list[str]) -> str:
    """The first-contact greeting as sent: its parts as paragraphs of one message."""
    return GREETING_SEPARATOR.join(parts)


async def greet(turn: Turn, parts: list[str], *, buttons: tuple[Button, ...] = ()) -> None:
    """The first-contact greeting (welcome, privacy notice, what is asked of the person, and the consent
    button when an identity came first) in ONE message: each WhatsApp message is billed and each Telegram
    message in a chat is throttled (issue 14). About 600-750 characters, well under every channel's limit
    (WhatsApp 1,600, Telegram 4,096); the buttons answer its last paragraph."""
    await turn.say_text(greeting_text(parts), buttons=buttons)


def hours_text(cat: Catalog, ops: Operations) -> str:
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


async def hand_off(
    turn: Turn,
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
        prediction = await predict(turn, question)
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
    values = {"ticket": ticket.number or "", "hours": hours_text(cat, ops), "sla_hours": sla_text(ops.sla)}
    if hours.is_open(turn.now):
        await turn.say_text(cat.t("handoff_in_hours", **values))
    elif custom := ops.message(cat.lang):
        # The supervisor's own words, filled by name only (handoff.templating): nothing in them is evaluated.
        await turn.say_text(render(OUT_OF_HOURS, custom, **values, next_open=cat.when(hours.next_open(turn.now))))
    else:
        await turn.say_text(cat.t("handoff_out_of_hours", **values, next_open=cat.when(hours.next_open(turn.now))))
    turn.deps.notify("ticket.opened", {"ticket_id": ticket.id})
