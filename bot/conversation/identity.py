"""The steps that learn who someone is: the first contact (greeting, privacy notice, the identity asked
for or taken from the first message), the consent tap, the identity step with its attempts, and the wait
for a one-time code.
"""

from __future__ import annotations

import logging

from bot.channels.base import MAX_CLASSIFIED_CHARS
from bot.conversation.joining import file_on_open_ticket
from bot.conversation.lexicon import CANCEL_WORDS, CONSENT_VALUE, CONSENT_WORDS, read_message, rest_of, words_of
from bot.conversation.proof import (
    claim,
    limited_lookup,
    look_up,
    number_identity,
    offer_code,
    parse_identity_in,
    prove_address,
)
from bot.conversation.questions import question_step
from bot.conversation.replies import greet, hand_off, person_request
from bot.conversation.turn import Turn
from bot.directory import InactivePolicy, is_active
from handoff import proof_codes
from handoff.delivery import Button
from models import Direction, FlowStep, HandoffReason, Message, ProofMethod
from nlp.acts import Act, Reading

log = logging.getLogger(__name__)


MAX_IDENTITY_ATTEMPTS = 3


async def first_contact(turn: Turn, text: str, reading: Reading | None = None) -> None:
    """The first message of someone the bot does not know yet: the greeting (welcome, privacy notice,
    request, ``replies.greet``). An identity in this message is taken, not asked for again: the notice had not been
    shown, so the person agrees with one tap (``consent_step``); with a request for a person it hands off
    with the claim. A question in it is kept and answered after the identity.

    Nothing here looks the number up: whether the directory knows it must not change the answer (issue 13),
    so the consent is asked for any well-formed number, and the claim is made at the tap, within the
    guessing limits."""
    reading = reading or read_message(text)
    if turn.settled:
        turn.conversation.step = FlowStep.AWAITING_QUESTION
        await turn.conversation.save(update_fields=["step", "updated_at"])
        await question_step(turn, text, reading)
        return
    parsed = await parse_identity_in(turn, text) if text and not text.startswith("/") else None
    rest = rest_of(parsed.remainder) if parsed is not None and parsed.identity is not None else reading
    cat = turn.cat
    parts = [cat.t("greeting"), cat.t("privacy_notice")]
    turn.conversation.step = FlowStep.AWAITING_IDENTITY
    if rest.act in (Act.QUESTION, Act.PERSON) and rest.question:  # the question without its greeting
        turn.conversation.pending_question = rest.question[:MAX_CLASSIFIED_CHARS]
    if parsed is not None and parsed.identity is not None:
        if rest.act is Act.PERSON:
            # Asking for a person is asking the Care Center to handle it: the identity goes with it as a
            # claim, so the agent's ticket shows it instead of the person being asked for it again.
            await greet(turn, parts)
            await claim(turn, parsed.identity, await limited_lookup(turn, parsed.identity))
            await _save_first_contact(turn)
            await hand_off(turn, HandoffReason.USER_REQUEST, question=turn.conversation.pending_question or "")
            return
        if turn.conversation.pending_question:
            parts.append(cat.t("question_noted"))
        parts.append(cat.t("consent_ask", value=parsed.identity.value))
        await greet(turn, parts, buttons=(Button(cat.t("button_agree"), CONSENT_VALUE),))
        await _save_first_contact(turn)
        return
    if rest.act is Act.PERSON:
        await _save_first_contact(turn)
        await person_request(turn, rest)
        return
    if turn.conversation.pending_question:
        parts.append(cat.t("question_noted"))
    parts.append(cat.t("ask_identity"))
    await greet(turn, parts)
    await _save_first_contact(turn)


async def _save_first_contact(turn: Turn) -> None:
    await turn.conversation.save(update_fields=["step", "pending_question", "updated_at"])


# How far back the consent step looks for the identity it confirms: the first message, plus a few that
# came before the tap (a greeting, a correction).
_CONSENT_LOOKBACK = 5


async def consent_step(turn: Turn, stored: Message, text: str, reading: Reading) -> bool:
    """The tap on "Setuju"/"Agree" after an identity came before the privacy notice: verify with that identity
    (read again from the person's own earlier message, so nothing else keeps it) instead of asking for it
    again. Returns False, changing nothing, when this is not such a tap."""
    if text.strip().lower() not in CONSENT_WORDS and reading.act is not Act.YES:
        return False
    earlier = await (Message.filter(conversation_id=turn.conversation.id, direction=Direction.INBOUND,
                                    id__lt=stored.id)
                     .order_by("-id").limit(_CONSENT_LOOKBACK).values_list("text", flat=True))
    for previous in earlier:
        parsed = await parse_identity_in(turn, str(previous))
        if parsed.identity is None:
            continue
        # The identity step answers as for a typed number, found or not (issue 13).
        await identity_step(turn, stored, parsed.identity.value)
        return True
    return False


async def identity_step(turn: Turn, stored: Message, text: str) -> None:
    conversation = turn.conversation
    parsed = await parse_identity_in(turn, text)
    record = await limited_lookup(turn, parsed.identity) if parsed.identity is not None else None
    refused = record is not None and not is_active(record) and turn.deps.inactive == InactivePolicy.REFUSE
    if parsed.identity is not None and not refused:
        rest = rest_of(parsed.remainder)  # "NIM saya 13521045" holds no question
        question = " ".join(q for q in (conversation.pending_question, rest.question) if q).strip()
        await claim(turn, parsed.identity, record)
        conversation.pending_question = None  # type: ignore[assignment]
        conversation.step = FlowStep.AWAITING_QUESTION
        await conversation.save(update_fields=["pending_question", "step", "updated_at"])
        # The same words whether the number is in the directory or not, and nothing from its record: a
        # number is a claim, and the bot must not be a number-to-name lookup (issue 13).
        await turn.say("identity_noted")
        await offer_code(turn)
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
        await hand_off(turn, HandoffReason.UNVERIFIED, question=conversation.pending_question or "", unverified=True)
        return
    await turn.say_text(f"{problem} {turn.cat.t('attempts_left', left=left)}\n{turn.cat.t('ask_identity')}")


async def _answer_kept(turn: Turn, question: str) -> None:
    """After the identity: the question kept until now, or an invitation to ask one."""
    if question and read_message(question).act is Act.QUESTION:
        await question_step(turn, question)
    else:
        await turn.say("ask_question")


async def code_step(turn: Turn, stored: Message, text: str) -> None:
    """Waiting for the code: six digits are a try; "batal" leaves; anything else is kept, to be answered
    after the proof (as a question sent with the identity is), and the person is reminded what to do."""
    conversation = turn.conversation
    code = proof_codes.as_code(text)
    if code is None:
        if " ".join(words_of(text)) in CANCEL_WORDS:
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
    wanted = number_identity(result.number, turn.deps) if result.verdict is proof_codes.Verdict.PROVEN else None
    record = await look_up(turn, wanted) if wanted is not None else None
    if record is None or not is_active(record):  # dead, or the directory changed since the code was made
        await turn.say("code_dead")
        return
    await prove_address(turn, record, ProofMethod.CODE)
    conversation.step = FlowStep.AWAITING_QUESTION
    await conversation.save(update_fields=["step", "updated_at"])
    await turn.say("code_proven", name_suffix=turn.name_suffix())
    # Today's proven experience: the person's open ticket elsewhere takes this conversation (and what was
    # kept here); otherwise the kept question is answered now.
    if await file_on_open_ticket(turn, stored):
        return
    question = conversation.pending_question or ""
    conversation.pending_question = None  # type: ignore[assignment]
    await conversation.save(update_fields=["pending_question", "updated_at"])
    await _answer_kept(turn, question)
