"""Issue 14: the bot understands what a message does before classifying it (nlp.acts), asks before
guessing (clarification), answers out-of-scope questions, handles follow-ups and "not helpful", and takes
an identity first. Indonesian and English, on SQLite and PostgreSQL (the ``flow`` fixture)."""

from __future__ import annotations

import pytest

from bot.channels.memory import MemoryChannel
from bot.conversation.replies import greeting_text
from bot.directory import DirectoryRecord, import_records
from bot.i18n import catalog
from models import (
    AnswerTemplate,
    Category,
    ChannelIdentity,
    ChannelKind,
    Contact,
    ContactRole,
    Conversation,
    FlowStep,
    HandoffReason,
    Incident,
    IncidentFollower,
    ProofLevel,
    Ticket,
)
from tests.conftest import FlowHarness


async def verified(flow: FlowHarness, *, lang: str = "id") -> None:
    """Budi gives his NIM (a claim) and the address is proven his (as a code or an agent would, issue 13),
    so the bot may call him by name."""
    await flow.send("halo" if lang == "id" else "hello there")
    await flow.send("13521045")
    await flow.prove()


# How the bot addresses Budi, a student: the catalogue's salutation (bot.names drops titles).
BUDI = {"id": ", Kak Budi", "en": ", Budi"}


async def claimed() -> bool:
    """The address claims Budi's NIM and nothing more: no join, no directory data (issue 13)."""
    identity = await ChannelIdentity.get()
    contact = await Contact.get(id=identity.contact_id)
    return (identity.proof, identity.claimed_number, contact.verified) == (ProofLevel.CLAIMED, "13521045", False)


async def template(slug: str, lang: str) -> str:
    return (await AnswerTemplate.get(category__slug=slug, language=lang)).body


@pytest.mark.parametrize(
    ("text", "key", "lang"),
    [
        ("halo kak mau tanya", "act_want_to_ask", "id"),
        ("permisi kak, mau nanya", "act_want_to_ask", "id"),
        ("makasih ya", "act_thanks", "id"),
        ("oke kak", "act_acknowledgement", "id"),
        ("😭😭😭", "act_emoji", "id"),
        ("dadah kak", "act_goodbye", "id"),
        ("⭐⭐⭐⭐⭐", "act_rating", "id"),
        ("I want to ask", "act_want_to_ask", "en"),
        ("thanks!", "act_thanks", "en"),
        ("got it", "act_acknowledgement", "en"),
        ("bye", "act_goodbye", "en"),
        ("hi", "welcome_back", "en"),
    ],
)
async def test_a_message_that_is_not_a_question_gets_a_short_answer_never_a_ticket(
    flow: FlowHarness, text: str, key: str, lang: str
) -> None:
    await verified(flow)
    await flow.send(text)
    assert flow.replies() == [catalog(lang).t(key, name_suffix=BUDI[lang])]
    assert await Ticket.all().count() == 0
    conversation = await Conversation.get()
    assert conversation.last_prediction is None  # the classifier was not asked
    assert conversation.step == FlowStep.AWAITING_QUESTION


@pytest.mark.parametrize(
    ("text", "question", "lang"),
    [
        ("permisi kak, mohon maaf mengganggu, mau nanya, saya lupa password edunex", "saya lupa password edunex", "id"),
        ("hello, sorry to bother you, I forgot my password for edunex", "I forgot my password for edunex", "en"),
    ],
)
async def test_only_the_question_is_classified_without_its_greeting(
    flow: FlowHarness, text: str, question: str, lang: str
) -> None:
    await verified(flow)
    await flow.send(text)
    replies = flow.replies()
    assert replies[0] == await template("reset-password", lang)
    assert replies[1] == catalog(lang).t("did_it_help")
    assert (await Conversation.get()).pending_question == question


async def test_a_long_question_is_read_on_its_head_and_classified_whole(flow: FlowHarness) -> None:
    await verified(flow)
    detail = "saya lupa password edunex, " + "sudah saya coba berkali-kali dari laptop dan HP, " * 8
    await flow.send(f"selamat malam kak, mohon maaf mengganggu waktunya, {detail}")
    assert flow.replies()[0] == await template("reset-password", "id")
    assert (await Conversation.get()).pending_question == detail.strip()[:2000]


async def test_a_request_for_a_person_hands_off_with_its_topic(flow: FlowHarness) -> None:
    await verified(flow)
    await flow.send("saya mau bicara dengan petugas soal nilai UTS saya")
    ticket = await Ticket.get()
    assert ticket.reason == HandoffReason.USER_REQUEST
    assert ticket.subject == "soal nilai UTS saya"
    assert not ticket.unverified


@pytest.mark.parametrize(("text", "lang"), [("tugas saya tidak bisa dikumpulkan", "id"),
                                             ("my assignment will not upload", "en")])
async def test_clarification_offers_buttons_and_a_chosen_option_is_answered(
    flow: FlowHarness, text: str, lang: str
) -> None:
    await verified(flow, lang=lang)
    await flow.send(text)
    cat = catalog(lang)
    assert flow.replies() == [cat.t("clarify_ask")]
    buttons = flow.channel.sent[-1].buttons
    names = ["Tugas & pengumpulan", "Kuis & ujian"] if lang == "id" else None
    assert [b.value for b in buttons] == ["1", "2", "3"]
    assert buttons[-1].label == cat.t("clarify_other")
    if names:
        assert [b.label for b in buttons[:2]] == names
    assert (await Conversation.get()).step == FlowStep.AWAITING_CLARIFICATION
    await flow.send("1")
    assert flow.replies() == [await template("tugas-pengumpulan", lang), cat.t("did_it_help")]
    conversation = await Conversation.get()
    assert conversation.step == FlowStep.AWAITING_FEEDBACK
    assert conversation.last_prediction is not None
    assert conversation.last_prediction["label"] == "tugas-pengumpulan"
    assert await Ticket.all().count() == 0


@pytest.mark.parametrize(("text", "lang"), [("tugas saya tidak bisa dikumpulkan", "id"),
                                             ("my assignment will not upload", "en")])
async def test_clarification_declined_hands_off(flow: FlowHarness, text: str, lang: str) -> None:
    await verified(flow, lang=lang)
    await flow.send(text)
    await flow.send("3")
    ticket = await Ticket.get().prefetch_related("category")
    assert ticket.reason == HandoffReason.LOW_CONFIDENCE
    assert ticket.subject == text
    assert ticket.number is not None
    assert ticket.number in flow.replies()[-1]


async def test_a_reply_to_a_clarification_that_is_no_option_is_a_new_message(flow: FlowHarness) -> None:
    await verified(flow)
    await flow.send("tugas saya tidak bisa dikumpulkan")
    await flow.send("eh bukan, saya lupa password")
    assert flow.replies()[0] == await template("reset-password", "id")
    await flow.send("tugas saya tidak bisa dikumpulkan")
    await flow.send("4")  # a number that is no option (of three): read as a message, here a rating
    assert flow.replies() == [catalog("id").t("act_rating")]
    assert await Ticket.all().count() == 0
    assert (await Conversation.get()).step == FlowStep.AWAITING_QUESTION


async def test_channels_without_buttons_get_numbered_options(flow: FlowHarness) -> None:
    flow.deps.registry.add(MemoryChannel(kind=ChannelKind.EMAIL, supports_buttons=False))
    await flow.on(ChannelKind.EMAIL, "budi@example.org", "halo")
    await flow.on(ChannelKind.EMAIL, "budi@example.org", "13521045")
    (reply,) = await flow.on(ChannelKind.EMAIL, "budi@example.org", "tugas saya tidak bisa dikumpulkan")
    cat = catalog("id")
    assert reply.splitlines() == [cat.t("clarify_ask"), "1. Tugas & pengumpulan", "2. Kuis & ujian",
                                  f"3. {cat.t('clarify_other')}", cat.t("clarify_reply_hint")]
    replies = await flow.on(ChannelKind.EMAIL, "budi@example.org", "2")
    assert replies[0] == await template("kuis-ujian", "id")


@pytest.mark.parametrize(("first", "second", "lang"), [("mau beli sepeda di mana ya", "kalau pizza enak di mana", "id"),
                                                        ("where can I buy a bike", "where can I order pizza", "en")])
async def test_out_of_scope_is_answered_and_a_second_in_a_row_hands_off(
    flow: FlowHarness, first: str, second: str, lang: str
) -> None:
    await verified(flow, lang=lang)
    await flow.send(first)
    assert flow.replies() == [catalog(lang).t("out_of_scope")]
    assert await Ticket.all().count() == 0
    await flow.send(second)
    ticket = await Ticket.get()
    assert ticket.reason == HandoffReason.LOW_CONFIDENCE
    assert ticket.predicted_category is None


async def test_an_answered_question_between_resets_the_out_of_scope_count(flow: FlowHarness) -> None:
    await verified(flow)
    await flow.send("mau beli sepeda di mana ya")
    await flow.send("lupa password")
    await flow.send("mau beli sepeda di mana ya")
    assert flow.replies() == [catalog("id").t("out_of_scope")]
    assert await Ticket.all().count() == 0


@pytest.mark.parametrize(("question", "more", "lang"),
                         [("lupa password", "link resetnya tidak pernah masuk", "id"),
                          ("I forgot my password", "the reset link never arrives", "en")])
async def test_a_follow_up_is_read_with_its_context_and_never_gets_the_same_template(
    flow: FlowHarness, question: str, more: str, lang: str
) -> None:
    await verified(flow, lang=lang)
    await flow.send(question)
    first = flow.replies()[0]
    assert first == await template("reset-password", lang)
    await flow.send(more)  # more detail, not an answer to "did this help?"
    replies = flow.replies()
    assert replies[0] != first
    assert replies[0] == await template("akun-login", lang)
    conversation = await Conversation.get()
    assert conversation.pending_question == f"{question} {more}"


async def category_name(slug: str, lang: str) -> str:
    category = await Category.get(slug=slug)
    return category.name_en if lang == "en" else category.name_id


@pytest.mark.parametrize("lang", ["id", "en"])
async def test_a_second_not_helpful_hands_off(flow: FlowHarness, lang: str) -> None:
    await verified(flow, lang=lang)
    await flow.send("lupa password" if lang == "id" else "I forgot my password")
    await flow.send("2")
    cat = catalog(lang)
    # One suggestion is left: asked as yes or no about it, not as a list of one.
    assert flow.replies() == [cat.t("clarify_not_helpful_one", name=await category_name("akun-login", lang))]
    assert [(b.label, b.value) for b in flow.channel.sent[-1].buttons] == [
        (cat.t("clarify_one_yes"), "1"), (cat.t("clarify_one_no"), "2")]
    await flow.send("1")  # the next suggestion
    assert flow.replies()[0] == await template("akun-login", lang)
    await flow.send("tidak membantu" if lang == "id" else "not helpful")
    ticket = await Ticket.get().prefetch_related("category")
    assert ticket.reason == HandoffReason.NOT_HELPFUL
    assert ticket.category is not None
    assert ticket.category.slug == "akun-login"


@pytest.mark.parametrize(("answer", "lang", "handed_off"),
                         [("iya", "id", False), ("yes", "en", False), ("bukan", "id", True), ("no", "en", True)])
async def test_one_suggestion_is_answered_with_a_yes_or_no_in_words(
        flow: FlowHarness, answer: str, lang: str, handed_off: bool) -> None:
    await verified(flow, lang=lang)
    await flow.send("lupa password" if lang == "id" else "I forgot my password")
    await flow.send("tidak" if lang == "id" else "no")
    assert (await Conversation.get()).step == FlowStep.AWAITING_CLARIFICATION
    await flow.send(answer)
    if handed_off:
        ticket = await Ticket.get()
        assert ticket.reason == HandoffReason.NOT_HELPFUL
    else:
        assert flow.replies()[0] == await template("akun-login", lang)
        assert await Ticket.all().count() == 0


async def test_one_suggestion_on_a_channel_without_buttons_says_how_to_answer(flow: FlowHarness) -> None:
    flow.channel.supports_buttons = False
    await verified(flow)
    await flow.send("lupa password")
    await flow.send("tidak")
    cat = catalog("id")
    asked = cat.t("clarify_not_helpful_one", name=await category_name("akun-login", "id"))
    assert flow.replies() == [f"{asked}\n{cat.t('clarify_one_reply_hint')}"]


@pytest.mark.parametrize(("text", "lang"), [("NIM saya 13521045", "id"), ("my NIM is 13521045", "en")])
async def test_an_identity_alone_is_taken_and_not_classified(flow: FlowHarness, text: str, lang: str) -> None:
    await flow.send("halo" if lang == "id" else "hello there")
    await flow.send(text)
    cat = catalog(lang)
    assert flow.replies() == [cat.t("identity_noted"), cat.t("ask_question")]
    assert await claimed()
    assert (await Conversation.get()).last_prediction is None
    assert await Ticket.all().count() == 0


@pytest.mark.parametrize(("text", "agree", "lang"),
                         [("13521045 saya lupa password", "Setuju", "id"),
                          ("hello, my NIM is 13521045 and I forgot my password", "agree", "en")])
async def test_an_identity_in_the_first_message_is_confirmed_with_one_tap(
    flow: FlowHarness, text: str, agree: str, lang: str
) -> None:
    await flow.send(text)
    cat = catalog(lang)
    # One message: the greeting, the privacy notice, the question kept, and the consent with its button.
    assert flow.replies() == [greeting_text([cat.t("greeting"), cat.t("privacy_notice"), cat.t("question_noted"),
                                             cat.t("consent_ask", value="13521045")])]
    assert [b.label for b in flow.channel.sent[-1].buttons] == [cat.t("button_agree")]
    contact = await Contact.get()
    assert (contact.verified, contact.consent_at) == (False, None)  # the notice came after the number
    await flow.send(agree)
    replies = flow.replies()
    assert replies[0] == cat.t("identity_noted")  # a claim, found or not (issue 13)
    assert replies[1] == await template("reset-password", lang)
    assert await claimed()
    assert (await Contact.get()).consent_at is not None
    assert (await Conversation.get()).identity_attempts == 0


@pytest.mark.parametrize(("first", "text"), [("halo", "13521045 saya mau bicara dengan admin"),
                                             ("hello there", "13521045 I want to talk to a person please")])
async def test_an_identity_with_a_request_for_a_person_hands_off_with_the_claim(
    flow: FlowHarness, first: str, text: str
) -> None:
    await flow.send(first)
    await flow.send(text)
    ticket = await Ticket.get()
    assert ticket.reason == HandoffReason.USER_REQUEST
    # The agent sees the number claimed and decides (issue 13): the ticket is not the student's until proof.
    assert ticket.unverified
    assert await claimed()


async def test_an_identity_with_a_request_for_a_person_in_the_first_message_hands_off_with_the_claim(
    flow: FlowHarness,
) -> None:
    await flow.send("13521045 saya mau bicara dengan admin")
    ticket = await Ticket.get()
    assert (ticket.reason, ticket.unverified) == (HandoffReason.USER_REQUEST, True)
    assert await claimed()
    assert flow.replies()[0].startswith(catalog("id").t("greeting") + "\n\n")  # the notice was shown first


async def test_a_lecturer_is_called_bapak_ibu_without_titles(flow: FlowHarness) -> None:
    await import_records([DirectoryRecord("198503122010121001", "Prof. Dr. Ir. Siti Rahma, M.Sc., Ph.D.",
                                          "siti.rahma@itb.ac.id", ContactRole.LECTURER, "STEI", "", "active")])
    await flow.send("halo")
    await flow.send("198503122010121001")
    await flow.prove("198503122010121001")
    await flow.send("halo")
    assert flow.replies()[0].startswith("Halo lagi, Bapak/Ibu Siti!")
    await flow.send("makasih")
    assert flow.replies() == [catalog("id").t("act_thanks", name_suffix=", Bapak/Ibu Siti")]


async def test_a_student_is_called_kak_in_indonesian_and_by_name_in_english(flow: FlowHarness) -> None:
    await verified(flow)
    await flow.send("halo")
    assert flow.replies()[0].startswith("Halo lagi, Kak Budi!")
    await flow.send("/bahasa en")
    await flow.send("hi")
    assert flow.replies() == ["Hello again, Budi! 👋 Please write your question about Edunex."]


async def test_indonesian_small_talk_does_not_undo_a_chosen_english(flow: FlowHarness) -> None:
    await verified(flow)
    await flow.send("/bahasa en")
    await flow.send("makasih kak")
    assert flow.replies() == [catalog("en").t("act_thanks", name_suffix=", Budi")]


@pytest.mark.parametrize(
    ("lang", "question", "unrelated"),
    [
        ("id", "kak halaman login edunex error 502 terus", "saya lupa password edunex"),
        ("en", "the edunex login page shows error 502", "I forgot my password for edunex"),
    ],
)
async def test_a_question_matching_an_open_incident_gets_its_notice_and_no_ticket_until_a_person_is_asked(
    flow: FlowHarness, lang: str, question: str, unrelated: str
) -> None:
    incident = await Incident.create(title="Halaman login Edunex error 502")
    await verified(flow, lang=lang)
    await flow.send(question)
    assert flow.replies() == [catalog(lang).t("incident_notice")]
    assert await Ticket.all().count() == 0
    conversation = await Conversation.get()
    assert conversation.step == FlowStep.AWAITING_QUESTION
    assert await IncidentFollower.filter(incident_id=incident.id, conversation_id=conversation.id).count() == 1
    # Another problem during the outage is answered as usual (the match is no blanket reply).
    await flow.send(unrelated)
    assert flow.replies()[0] == await template("reset-password", lang)
    await flow.send("2")  # not helpful: offered the next suggestion, nothing about the incident
    await flow.send("petugas" if lang == "id" else "I want to talk to a person")
    ticket = await Ticket.get()
    assert ticket.reason == HandoffReason.USER_REQUEST


async def test_asking_for_a_person_after_the_incident_notice_opens_a_ticket_about_that_question(
    flow: FlowHarness,
) -> None:
    await Incident.create(title="Edunex down")
    await verified(flow)
    await flow.send("edunex down ya kak?")
    assert flow.replies() == [catalog("id").t("incident_notice")]
    await flow.send("saya tetap mau bicara dengan petugas")
    ticket = await Ticket.get()
    assert ticket.reason == HandoffReason.USER_REQUEST
    assert ticket.subject.startswith("edunex down")  # the question held since the notice, read without "ya kak?"
