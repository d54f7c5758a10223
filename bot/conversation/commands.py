"""Slash commands (/start, /help, /bahasa, /agen) and the conversation's language: switched on request or
by what the person writes.
"""

from __future__ import annotations

from bot.conversation.identity import first_contact
from bot.conversation.lexicon import ENGLISH_REQUEST, INDONESIAN_REQUEST, words_of
from bot.conversation.replies import hand_off
from bot.conversation.turn import Turn
from bot.i18n import detect_language
from models import FlowStep, HandoffReason
from nlp.acts import Act, Reading


async def run_command(turn: Turn, text: str) -> None:
    command, _, argument = text.partition(" ")
    command = command.lower().split("@", 1)[0]  # Telegram appends @botname in groups
    if command == "/start":
        if turn.conversation.step == FlowStep.NEW:
            await first_contact(turn, "")
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
        await hand_off(turn, HandoffReason.USER_REQUEST, question=turn.conversation.pending_question or "")
        return
    await turn.say("unknown_command", command=command[:32])


async def _set_language(turn: Turn, lang: str) -> None:
    if turn.conversation.language != lang:
        turn.conversation.language = lang
        await turn.conversation.save(update_fields=["language", "updated_at"])
    if turn.contact.language != lang:
        turn.contact.language = lang
        await turn.contact.save(update_fields=["language", "updated_at"])


async def maybe_switch_language(turn: Turn, text: str, reading: Reading | None = None) -> None:
    lowered = text.lower()
    if len(lowered) <= 40 and ENGLISH_REQUEST.search(lowered) and "bahasa indonesia" not in lowered:
        await _set_language(turn, "en")
        return
    if len(lowered) <= 40 and INDONESIAN_REQUEST.search(lowered):
        await _set_language(turn, "id")
        return
    # One or two words say little to the detector; but a message made only of English fixed phrases ("hi",
    # "thanks") says English (nlp.acts knows which phrases are whose). Only towards English: Indonesian is
    # the default anyway, and English speakers on campus write "halo" and "makasih" too, so those must not
    # undo an English page or /language en. Else keep what the user chose.
    detected = detect_language(text) if len(words_of(text)) >= 3 else None
    if detected is None and reading is not None and reading.act is not Act.QUESTION and reading.lang == "en":
        detected = reading.lang
    if detected is not None:
        await _set_language(turn, detected)
