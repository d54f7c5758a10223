"""A question and what follows it: classified (only questions, without their greeting), answered with a
category's template and "did this help?", a clarification among the top suggestions, a follow-up read with
the previous question, the notice of an open incident instead of a ticket, or a hand-off.
"""

from __future__ import annotations

import logging
from typing import Any

from bot.channels.base import MAX_CLASSIFIED_CHARS
from bot.conversation.lexicon import BUTTON_NO, BUTTON_YES, choice, is_no, is_yes, read_message
from bot.conversation.replies import hand_off, person_request
from bot.conversation.turn import Turn, predict
from handoff.delivery import Button
from handoff.incidents import follow_incident, incident_index
from handoff.templating import ANSWER, render
from handoff.tickets import resolve_by_bot
from models import AnswerTemplate, Category, FlowStep, HandoffReason
from nlp import Prediction
from nlp.acts import Act, Reading
from nlp.decision import Decision

log = logging.getLogger(__name__)


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


async def _answer_act(turn: Turn, reading: Reading) -> None:
    await turn.say(_ACT_REPLIES.get(reading.act, "ask_question"), name_suffix=turn.name_suffix())


async def question_step(turn: Turn, text: str, reading: Reading | None = None) -> None:
    """Only a question is classified, and without its greeting, apology or closing thanks (nlp.acts)."""
    reading = reading or read_message(text)
    if reading.act is Act.PERSON:
        await person_request(turn, reading)
        return
    if reading.act is not Act.QUESTION:
        await _answer_act(turn, reading)
        return
    question = reading.question or text
    await _decide(turn, question, await predict(turn, question))


def _memory(turn: Turn) -> dict[str, Any]:
    return dict(turn.conversation.last_prediction or {})


async def _decide(turn: Turn, question: str, prediction: Prediction, *, not_helpful: int = 0) -> None:
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
        await hand_off(turn, HandoffReason.LOW_CONFIDENCE, question=question, prediction=prediction)
        return
    await _answer_with(turn, prediction.label)


async def _incident_notice(turn: Turn, question: str, prediction: Prediction) -> bool:
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


async def _answer_with(turn: Turn, label: str) -> None:
    """Send ``label``'s template and ask whether it helped (the question is the conversation's pending one)."""
    question = turn.conversation.pending_question or ""
    body = await _template_for(label, turn.conversation.language)
    if body is None:  # a category without a template (or a disabled one) is a person's job
        state = _memory(turn)
        await hand_off(turn, HandoffReason.LOW_CONFIDENCE, question=question,
                       predicted=(label, state.get("confidence")))
        return
    state = _memory(turn)
    state["label"] = label  # what was answered (a chosen option may differ from the classifier's top)
    state.pop(_OPTIONS, None)
    turn.conversation.last_prediction = state
    # The template's {name} is the given name alone: its author writes the salutation ("Kak {name}").
    await turn.say_text(render(ANSWER, body, name=turn.first_name()))
    cat = turn.cat
    await turn.say("did_it_help", buttons=(Button(cat.t("button_yes"), BUTTON_YES),
                                           Button(cat.t("button_no"), BUTTON_NO)))
    turn.conversation.step = FlowStep.AWAITING_FEEDBACK
    await turn.conversation.save(update_fields=["step", "last_prediction", "updated_at"])


async def _category_names(slugs: list[str], language: str) -> dict[str, str]:
    rows = await Category.filter(slug__in=slugs, active=True).values("slug", "name_id", "name_en")
    return {r["slug"]: (r["name_en"] if language == "en" else r["name_id"]) or r["slug"] for r in rows}


async def _offer_choices(turn: Turn, labels: list[str], *, intro: str) -> None:
    """Ask which of ``labels`` the question is about, plus "something else / a person": buttons where the
    channel has them, else numbered lines; either way the person answers with the number."""
    names = await _category_names(labels, turn.conversation.language)
    options = [label for label in labels if label in names]
    question = turn.conversation.pending_question or ""
    if not options:  # nothing left to offer (categories disabled since the model was trained)
        state = _memory(turn)
        await hand_off(turn, HandoffReason.LOW_CONFIDENCE, question=question,
                       predicted=(state.get("label"), state.get("confidence")))
        return
    cat = turn.cat
    labels_shown = [names[label] for label in options] + [cat.t("clarify_other")]
    channel = turn.deps.registry.get(turn.conversation.channel)
    buttons_here = channel is not None and channel.capabilities.buttons
    if len(options) == 1:
        # One topic left: "which of these?" over a list of one read oddly; ask yes or no about it. Option 1
        # is still the topic and 2 a person, so the answer is read as for a list (and a yes or no in words).
        asked = cat.t(f"{intro}_one", name=labels_shown[0])
        if buttons_here:
            await turn.say_text(asked, buttons=(Button(cat.t("clarify_one_yes"), "1"),
                                                Button(cat.t("clarify_one_no"), "2")))
        else:
            await turn.say_text(f"{asked}\n{cat.t('clarify_one_reply_hint')}")
    elif buttons_here:
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


async def clarification_step(turn: Turn, text: str, reading: Reading) -> None:
    """An answer to "which of these?": a number picks a category (answered with its template) or "something
    else" (a person); anything else is read as a new message."""
    state = _memory(turn)
    options = [str(o) for o in state.get(_OPTIONS) or []]
    picked = choice(text, len(options) + 1)
    if picked is None and len(options) == 1:  # the yes-or-no form (_offer_choices)
        picked = 1 if is_yes(text, reading) else 2 if is_no(text, reading) else None
    turn.conversation.step = FlowStep.AWAITING_QUESTION
    if picked is None:
        state.pop(_OPTIONS, None)
        turn.conversation.last_prediction = state
        await turn.conversation.save(update_fields=["step", "last_prediction", "updated_at"])
        await question_step(turn, text, reading)
        return
    if picked > len(options):  # "something else / a person"
        reason = HandoffReason.NOT_HELPFUL if state.get(_NOT_HELPFUL) else HandoffReason.LOW_CONFIDENCE
        await hand_off(turn, reason, question=turn.conversation.pending_question or "",
                       predicted=(state.get("label"), state.get("confidence")))
        return
    await _answer_with(turn, options[picked - 1])


async def feedback_step(turn: Turn, text: str, reading: Reading | None = None) -> None:
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
    await question_step(turn, text, reading)


async def _not_helpful(turn: Turn) -> None:
    """The first "no" offers the next suggestions (or a person) for the same question; the second hands off."""
    state = _memory(turn)
    question = turn.conversation.pending_question or ""
    answered = state.get("label")
    if state.get(_NOT_HELPFUL) or not question or not answered:
        await hand_off(turn, HandoffReason.NOT_HELPFUL, question=question,
                       predicted=(answered, state.get("confidence")))
        return
    prediction = await predict(turn, question, exclude=(str(answered),))
    if prediction.decision is Decision.CLARIFY:
        labels = [label for label, _ in prediction.candidates]
    elif prediction.decision is Decision.ANSWER:
        labels = [prediction.label]
    else:
        labels = []
    if not labels:
        await hand_off(turn, HandoffReason.NOT_HELPFUL, question=question,
                       predicted=(answered, state.get("confidence")))
        return
    state[_NOT_HELPFUL] = 1
    turn.conversation.last_prediction = state
    await _offer_choices(turn, labels, intro="clarify_not_helpful")


async def _follow_up(turn: Turn, text: str) -> None:
    """More detail after an answer: read with the previous question as context, and never answered with the
    template just sent (the classifier excludes it; then the next best, a clarification or a person)."""
    state = _memory(turn)
    previous = turn.conversation.pending_question or ""
    answered = str(state.get("label") or "")
    alone = await predict(turn, text)
    about_else = (alone.label != answered if alone.decision is Decision.ANSWER
                  else answered not in {label for label, _ in alone.candidates} if alone.decision is Decision.CLARIFY
                  else False)
    if about_else:  # a new question about something else, read on its own
        await _decide(turn, text, alone)
        return
    combined = f"{previous} {text}".strip()[:MAX_CLASSIFIED_CHARS]
    prediction = await predict(turn, combined, exclude=(answered,) if answered else ())
    await _decide(turn, combined, prediction, not_helpful=int(state.get(_NOT_HELPFUL, 0)))


async def _template_for(slug: str, language: str) -> str | None:
    templates = await AnswerTemplate.filter(category__slug=slug, category__active=True).values("language", "body")
    by_lang = {t["language"]: t["body"] for t in templates}
    return by_lang.get(language) or by_lang.get("id") or next(iter(by_lang.values()), None)


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
