"""The conversation contract, step by step, against a real database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.channels.base import MAX_STORED_CHARS
from bot.conversation.ingest import FULL_TEXT_FILENAME
from bot.i18n import catalog
from models import (
    Attachment,
    Category,
    ChannelIdentity,
    ChannelKind,
    Contact,
    Conversation,
    ConversationStatus,
    HandoffReason,
    Message,
    ProofLevel,
    Ticket,
    TicketEvent,
    TicketStatus,
)
from tests.conftest import IN_HOURS, FlowHarness, greeting


async def verified(flow: FlowHarness, *, user: str = "42") -> None:
    """Budi's NIM sent on this chat, and the chat proven his (a typed NIM alone is only a claim)."""
    await flow.send("halo", user=user)
    await flow.send("13521045", user=user)
    await flow.prove(user=user)


async def test_first_contact_greets_shows_privacy_notice_and_asks_identity(flow: FlowHarness) -> None:
    await flow.send("halo")
    replies = flow.replies()
    # One message (each WhatsApp message is billed): the welcome, the privacy notice, the request.
    assert replies == [greeting("id")]
    welcome, notice, request = replies[0].split("\n\n")
    assert welcome.startswith("Halo!")
    assert "UU No. 27 Tahun 2022" in notice
    assert "NIM (8 digit)" in request
    contact = await Contact.get()
    assert (contact.verified, contact.consent_at) == (False, None)


async def test_identity_records_consent_and_a_claim_but_reveals_nothing(flow: FlowHarness) -> None:
    await flow.send("halo")
    await flow.send("13521045")
    contact = await Contact.get()
    assert contact.consent_at == IN_HOURS
    # A typed NIM is a claim: the address keeps its own anonymous contact, none of the directory's data.
    assert (contact.verified, contact.id_number, contact.name) == (False, None, "")
    identity = await ChannelIdentity.get()
    assert (identity.proof, identity.claimed_number, identity.proof_method) == (ProofLevel.CLAIMED, "13521045", None)
    assert flow.replies() == [catalog("id").t("identity_noted"), catalog("id").t("ask_question")]
    assert not any("Budi" in r or "mahasiswa" in r for r in flow.replies())


async def test_proof_joins_the_directory_data_and_greets_by_name_from_then_on(flow: FlowHarness) -> None:
    await verified(flow)
    contact = await Contact.get()
    assert (contact.verified, contact.id_number, contact.name, contact.role.value, contact.program) == (
        True, "13521045", "Budi Contoh (Fiktif)", "student", "Teknik Informatika")
    await flow.send("halo")
    assert flow.replies() == ["Halo lagi, Kak Budi! 👋 Silakan tuliskan pertanyaan Anda tentang Edunex."]


async def test_identity_and_question_in_one_message(flow: FlowHarness) -> None:
    await flow.send("halo")
    await flow.send("13521045 lupa password")
    replies = flow.replies()
    assert replies[0] == catalog("id").t("identity_noted")
    assert "reset" in replies[1].lower() or "password" in replies[1].lower()
    assert replies[2] == "Apakah jawaban ini membantu? Balas 1 = Ya, 2 = Tidak"
    sent = flow.channel.sent[-1]
    assert [b.value for b in sent.buttons] == ["1", "2"]


async def test_question_before_the_notice_is_kept_and_answered_after_verification(flow: FlowHarness) -> None:
    await flow.send("13521045 saya lupa password")
    first = flow.replies()
    assert any("sudah kami catat" in r for r in first)
    assert not (await Contact.get()).verified  # the number came before the notice: not consent
    await flow.send("13521045")
    replies = flow.replies()
    assert replies[-1] == "Apakah jawaban ini membantu? Balas 1 = Ya, 2 = Tidak"


async def test_malformed_number_gets_a_friendly_correction(flow: FlowHarness) -> None:
    await flow.send("halo")
    await flow.send("1352104")
    (reply,) = flow.replies()
    assert "(7 digit)" in reply
    assert "Sisa percobaan: 2." in reply


async def test_a_number_not_in_the_directory_gets_the_same_answer_as_one_that_is(flow: FlowHarness) -> None:
    """Otherwise the bot tells a guesser which numbers exist (issue 13)."""
    await flow.send("halo", user="a")
    await flow.send("13521045 lupa password", user="a")
    known = flow.replies()
    await flow.send("halo", user="b")
    await flow.send("13521999 lupa password", user="b")
    assert flow.replies() == known
    unknown = await ChannelIdentity.get(external_id="b")
    assert (unknown.proof, unknown.claimed_number) == (ProofLevel.NONE, None)
    # And the next conversation goes the same way: neither is asked again.
    for user in ("a", "b"):
        await flow.send("1", user=user)
        await flow.send("nilai saya belum keluar", user=user)
        assert flow.replies()[-1] == "Apakah jawaban ini membantu? Balas 1 = Ya, 2 = Tidak"


async def test_three_failed_tries_hand_off_flagged_unverified(flow: FlowHarness) -> None:
    await flow.send("halo")
    await flow.send("1352104")
    await flow.send("budi@gmail.com")
    await flow.send("saya tidak tahu nim saya, nilai saya hilang")
    ticket = await Ticket.get()
    assert ticket.unverified
    assert ticket.reason == HandoffReason.UNVERIFIED
    assert ticket.status == TicketStatus.OPEN
    assert any("belum dapat kami verifikasi" in r for r in flow.replies())
    assert ticket.number in flow.replies()[-1]


async def test_confident_answer_then_yes_resolves_by_bot(flow: FlowHarness) -> None:
    await verified(flow)
    await flow.send("bagaimana cara reset password?")
    await flow.send("1")
    assert flow.replies() == ["Senang bisa membantu! 😊 Jika ada pertanyaan lain, silakan tulis kapan saja."]
    conversation = await Conversation.get()
    assert conversation.status == ConversationStatus.RESOLVED
    assert await Ticket.all().count() == 0


async def test_confident_answer_then_no_twice_hands_off_with_the_guess(flow: FlowHarness) -> None:
    await verified(flow)
    await flow.send("lupa password")
    await flow.send("2")  # the first "no" offers the next suggestion or a person
    (offered,) = (await Conversation.get()).last_prediction["options"]
    name = (await Category.get(slug=offered)).name_id
    assert flow.replies() == [catalog("id").t("clarify_not_helpful_one", name=name)]
    assert [b.value for b in flow.channel.sent[-1].buttons] == ["1", "2"]
    assert await Ticket.all().count() == 0
    await flow.send("2")  # "something else / a person"
    ticket = await Ticket.get().prefetch_related("category")
    assert ticket.reason == HandoffReason.NOT_HELPFUL
    assert ticket.category is not None
    assert ticket.category.slug == "reset-password"
    assert ticket.due_at - ticket.opened_at == timedelta(hours=24)
    assert ticket.opened_at == IN_HOURS
    assert "Petugas akan membalas di percakapan ini pada jam layanan" in flow.replies()[-1]
    events = await TicketEvent.filter(ticket=ticket).values_list("kind", flat=True)
    assert events == ["opened"]


async def test_unsure_hands_off_at_once(flow: FlowHarness) -> None:
    await verified(flow)
    await flow.send("kapan jadwal wisuda gelombang dua?")
    ticket = await Ticket.get()
    assert ticket.reason == HandoffReason.LOW_CONFIDENCE
    assert ticket.subject == "kapan jadwal wisuda gelombang dua?"
    assert (await Conversation.get()).status == ConversationStatus.PENDING


async def test_asking_for_a_person_hands_off_at_any_point(flow: FlowHarness) -> None:
    await flow.send("halo")
    await flow.send("mau bicara dengan petugas")
    ticket = await Ticket.get()
    assert ticket.reason == HandoffReason.USER_REQUEST
    assert ticket.unverified  # nobody verified yet: the agent sees that


async def test_mentioning_admin_inside_a_question_is_not_a_handoff_request(flow: FlowHarness) -> None:
    await verified(flow)
    await flow.send("admin kelas bilang password saya harus direset, caranya gimana")
    assert await Ticket.all().count() == 0


async def test_out_of_hours_handoff_says_when_agents_reply(flow: FlowHarness) -> None:
    flow.now = datetime(2026, 11, 28, 5, 0, tzinfo=UTC)  # Saturday 12:00 WIB
    await verified(flow)
    await flow.send("cs")
    assert "mulai Senin, 30 November 2026 pukul 08.00 WIB" in flow.replies()[-1]


async def test_bot_is_silent_while_a_ticket_is_open_and_files_messages(flow: FlowHarness) -> None:
    await verified(flow)
    await flow.send("agent")
    await flow.send("ini tangkapan layarnya, tolong dicek")
    assert flow.replies() == []
    ticket = await Ticket.get()
    message = await Message.get(text="ini tangkapan layarnya, tolong dicek")
    assert message.ticket_id == ticket.id
    kinds = await TicketEvent.filter(ticket=ticket).values_list("kind", flat=True)
    assert kinds == ["opened", "user_message"]


async def test_redelivered_message_is_stored_and_answered_once(flow: FlowHarness) -> None:
    first = await flow.send("halo", provider_id="update-7")
    sent = len(flow.channel.sent)
    again = await flow.send("halo", provider_id="update-7")
    assert (first.duplicate, again.duplicate) == (False, True)
    assert len(flow.channel.sent) == sent
    assert await Message.filter(provider_message_id="update-7").count() == 1


async def test_empty_and_whitespace_messages_get_an_answer(flow: FlowHarness) -> None:
    await flow.send("   \n ")
    assert flow.replies() == ["Pesan Anda kosong. Silakan tuliskan pertanyaan Anda."]


async def test_very_long_message_is_stored_cut_kept_whole_as_a_file_and_read_by_a_person(flow: FlowHarness) -> None:
    await verified(flow)
    text = "password " + "x" * 10_000
    result = await flow.send(text)
    stored = await Message.get(id=result.message_id)
    assert stored.text == text[:MAX_STORED_CHARS]
    whole = await Attachment.get(message_id=stored.id)
    assert (whole.filename, whole.content_type, whole.size, whole.refused_reason) == (
        FULL_TEXT_FILENAME, "text/plain", len(text), None
    )
    assert flow.deps.attachments is not None
    assert whole.storage_key is not None
    assert (await flow.deps.attachments.read(whole.storage_key)).decode() == text
    # Not answered by the bot from its first 2,000 characters: said once, then a person's ticket.
    ticket = await Ticket.get()
    assert ticket.reason == HandoffReason.LOW_CONFIDENCE
    replies = flow.replies()
    assert replies[0] == catalog("id").t("long_message")
    assert len(replies) == 2
    assert ticket.number is not None
    assert ticket.number in replies[1]
    await flow.send(text + " lagi")
    assert flow.replies() == []  # on the ticket, where the bot is silent
    assert await Attachment.filter(message__ticket_id=ticket.id).count() == 2


async def test_long_first_message_goes_to_a_person_in_its_language(flow: FlowHarness) -> None:
    text = "I cannot open the quiz and the page says error. " * 100
    await flow.send(text)
    assert flow.replies()[0] == catalog("en").t("long_message")
    ticket = await Ticket.get()
    assert ticket.unverified


async def test_a_text_of_exactly_the_stored_length_is_not_cut(flow: FlowHarness) -> None:
    await verified(flow)
    text = ("password " * 1000)[:MAX_STORED_CHARS]
    result = await flow.send(text)
    assert (await Message.get(id=result.message_id)).text == text
    assert not await Attachment.exists(message_id=result.message_id)
    assert flow.replies()[-1].startswith("Apakah jawaban ini membantu?")


@pytest.mark.parametrize("text", ["nilai\x00saya", "nilai \ud800 saya"])
async def test_nul_and_lone_surrogates_are_stored_not_a_failure_on_every_try(flow: FlowHarness, text: str) -> None:
    """PostgreSQL refuses NUL in text; no database takes a lone surrogate (the web chat's JSON can carry one)."""
    result = await flow.send(text, provider_id="odd-1")
    stored = await Message.get(id=result.message_id)
    assert stored.text == text.replace("\x00", "").replace("\ud800", "\ufffd")
    assert stored.processed_at is not None
    assert flow.replies()[0].startswith(catalog("id").t("greeting") + "\n\n")  # greeted like any first message


async def test_emoji_only_message_gets_a_short_answer_not_a_ticket(flow: FlowHarness) -> None:
    await verified(flow)
    await flow.send("🙏🙏🙏")
    assert flow.replies() == [catalog("id").t("act_emoji")]
    assert await Ticket.all().count() == 0


async def test_unknown_command_is_explained(flow: FlowHarness) -> None:
    await flow.send("/foo")
    assert flow.replies() == [
        "Perintah /foo tidak dikenal. Perintah yang tersedia: /start, /bantuan, /bahasa en|id, /agen."
    ]


async def test_english_writer_gets_english(flow: FlowHarness) -> None:
    await flow.send("hello, I can't log in to my account")
    replies = flow.replies()
    assert replies[0].startswith("Hello!")
    assert "Please send your NIM" in replies[-1]


async def test_language_command_switches(flow: FlowHarness) -> None:
    await flow.send("/bahasa en")
    assert flow.replies() == ["Sure, I'll use English."]


async def test_one_contact_across_channels_once_each_is_proven(flow: FlowHarness) -> None:
    await verified(flow, user="42")
    await flow.send("halo", user="other-chat")
    await flow.send("13521045", user="other-chat")
    assert await Contact.all().count() == 2  # claimed: not joined
    await flow.prove(user="other-chat")
    assert await Contact.all().count() == 1
    contact = await Contact.get()
    assert await ChannelIdentity.filter(contact=contact).count() == 2


async def test_returning_verified_user_goes_straight_to_the_question(flow: FlowHarness) -> None:
    await verified(flow)
    await flow.send("lupa password")
    await flow.send("ya")
    await flow.send("nilai saya belum keluar")
    assert flow.replies()[-1].startswith("Apakah jawaban ini membantu?")
    assert await Conversation.filter(identity__channel=ChannelKind.TELEGRAM).count() == 2
