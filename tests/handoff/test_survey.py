"""The satisfaction survey: the comment rule, signed links, and the chat flow after a rating (SQLite + PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.channels.base import InboundMessage
from bot.channels.memory import MemoryChannel
from bot.conversation.inline import handle_inbound
from bot.i18n import catalog
from handoff.survey import (
    COMMENT_WINDOW,
    CommentKind,
    SurveyLinkError,
    comment_kind,
    link_secret,
    make_link_token,
    read_link_token,
)
from models import ChannelKind, StoredSecret, Ticket, TicketEvent
from tests.conftest import IN_HOURS, FlowHarness
from tests.handoff.test_actions import closed_by_ana, handed_off


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("Petugasnya ramah dan cepat", CommentKind.COMMENT),
        ("agak lama menunggu balasan", CommentKind.COMMENT),
        ("lewati", CommentKind.DECLINE),
        ("Skip!", CommentKind.DECLINE),
        ("tidak ada", CommentKind.DECLINE),
        ("/start", CommentKind.COMMAND),
        ("4", CommentKind.RATING),
        ("bagaimana cara mengunduh sertifikat", CommentKind.NEW_QUESTION),
        ("nilai saya belum muncul?", CommentKind.NEW_QUESTION),
        ("How do I reset my password", CommentKind.NEW_QUESTION),
    ],
)
def test_what_the_message_after_a_rating_is(text: str, kind: CommentKind) -> None:
    assert comment_kind(text) == kind


def test_a_link_token_names_its_ticket_until_it_expires() -> None:
    made = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)
    token = make_link_token(ticket_id=42, secret="s" * 32, clock=lambda: made)
    assert read_link_token(token, secret="s" * 32, clock=lambda: made + timedelta(days=6, hours=23)) == 42
    with pytest.raises(SurveyLinkError) as expired:
        read_link_token(token, secret="s" * 32, clock=lambda: made + timedelta(days=7, seconds=1))
    assert expired.value.reason == "expired"
    with pytest.raises(SurveyLinkError) as forged:  # another installation's secret
        read_link_token(token, secret="t" * 32, clock=lambda: made)
    assert forged.value.reason == "invalid"
    other = make_link_token(ticket_id=43, secret="s" * 32, clock=lambda: made)
    spliced = other.split(".")[0] + "." + ".".join(token.split(".")[1:])  # another ticket's id, this signature
    with pytest.raises(SurveyLinkError) as edited:
        read_link_token(spliced, secret="s" * 32, clock=lambda: made)
    assert edited.value.reason == "invalid"


def test_a_link_token_is_accepted_only_as_it_was_written() -> None:
    made = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)
    token = make_link_token(ticket_id=42, secret="s" * 32, clock=lambda: made)
    payload, stamp, signature = token.split(".")
    # Base64 spellings of the same bytes: padding, and the unused low bits of a last character (a
    # 20-byte signature is 27 characters, the last one carrying 2 bits that decode to nothing).
    assert len(signature) % 4 == 3
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    index = alphabet.index(signature[-1])
    same_bytes = alphabet[(index & ~3) | ((index + 1) & 3)]
    variants = [token + "=", f"{payload}=.{stamp}.{signature}", f"{payload}.{stamp}=.{signature}",
                f"{payload}.{stamp}.{signature[:-1]}{same_bytes}"]
    for variant in variants:
        with pytest.raises(SurveyLinkError) as refused:
            read_link_token(variant, secret="s" * 32, clock=lambda: made)
        assert refused.value.reason == "invalid", variant


async def test_without_secret_key_one_random_secret_is_kept_in_the_database(db: str) -> None:
    first = await link_secret("")
    assert len(first) >= 48
    assert await link_secret("") == first
    assert await StoredSecret.all().count() == 1
    assert await link_secret("configured") == "configured"


async def closed_and_rated(flow: FlowHarness, rating: str = "2") -> Ticket:
    ticket = await closed_by_ana(flow, await handed_off(flow))
    await flow.send(rating)
    assert flow.replies()[-1] == catalog("id").t("survey_comment_ask")
    return ticket


async def test_the_message_after_a_rating_is_stored_as_the_comment_once(flow: FlowHarness) -> None:
    ticket = await closed_and_rated(flow)
    await flow.send("Balasannya lama sekali, hampir dua hari")
    assert flow.replies() == [catalog("id").t("survey_comment_thanks")]
    stored = await Ticket.get(id=ticket.id)
    assert (stored.survey_rating, stored.flagged) == (2, True)
    assert stored.survey_comment == "Balasannya lama sekali, hampir dua hari"
    assert await TicketEvent.filter(ticket=ticket, kind="survey_comment").count() == 1
    # Asked once: the next message is the bot's again, not a second comment.
    await flow.send("terima kasih")
    assert (await Ticket.get(id=ticket.id)).survey_comment == "Balasannya lama sekali, hampir dua hari"
    assert flow.replies() == [catalog("id").t("act_thanks", name_suffix=", Kak Budi")]


async def test_declining_the_comment_stores_nothing(flow: FlowHarness) -> None:
    ticket = await closed_and_rated(flow, "4")
    await flow.send("lewati")
    assert flow.replies() == [catalog("id").t("survey_comment_skipped")]
    assert (await Ticket.get(id=ticket.id)).survey_comment is None


async def test_a_new_question_after_a_rating_is_answered_not_swallowed(flow: FlowHarness) -> None:
    ticket = await closed_and_rated(flow, "5")
    await flow.send("bagaimana cara reset password saya?")
    assert (await Ticket.get(id=ticket.id)).survey_comment is None
    assert flow.replies()[-1] == catalog("id").t("did_it_help")  # the bot answered it from a template


async def test_a_message_after_the_comment_window_is_a_new_message(flow: FlowHarness) -> None:
    ticket = await closed_and_rated(flow, "3")
    flow.now = IN_HOURS + COMMENT_WINDOW + timedelta(minutes=1)
    await flow.send("halo")
    assert (await Ticket.get(id=ticket.id)).survey_comment is None
    assert flow.replies() == [catalog("id").t("welcome_back", name_suffix=", Kak Budi")]


async def closed_on(flow: FlowHarness, channel: MemoryChannel, **close: str) -> tuple[Ticket, str]:
    """Budi hands off on ``channel`` and Ana closes the ticket; returns it and the survey's text."""
    mail = "budi@students.itb.ac.id" if channel.kind == ChannelKind.EMAIL else None
    for n, text in enumerate(("halo", "13521045", "agen"), start=1):
        await handle_inbound(InboundMessage(channel=channel.kind, external_id=mail or "5550001",
                                            provider_message_id=f"m{n}", text=text, received_at=IN_HOURS,
                                            email=mail), flow.deps)
    ticket = await closed_by_ana(flow, await Ticket.get(channel=channel.kind), **close)
    return ticket, channel.sent[-1].text


async def test_email_survey_carries_five_signed_links(flow: FlowHarness) -> None:
    mail = MemoryChannel(kind=ChannelKind.EMAIL, supports_buttons=False)
    flow.deps.registry.add(mail)
    ticket, text = await closed_on(flow, mail, public_url="https://cc.example.ac.id", link_secret_key="k" * 32)
    assert text.startswith(catalog("id").t("survey_ask_email", ticket=ticket.number))
    links = [line.rsplit(": ", 1)[1] for line in text.splitlines() if "/survey/" in line]
    assert [link.rsplit("?r=", 1)[1] for link in links] == ["1", "2", "3", "4", "5"]
    token = links[0].removeprefix("https://cc.example.ac.id/survey/").split("?")[0]
    assert read_link_token(token, secret="k" * 32, clock=lambda: IN_HOURS) == ticket.id


async def test_the_survey_follows_what_the_channel_declares_not_its_name(flow: FlowHarness) -> None:
    # A channel that declares no buttons (here a Telegram stand-in without them) gets a link per rating, as
    # e-mail does; one that has them gets the question alone. The helpdesk never asks which channel it is.
    bare = MemoryChannel(kind=ChannelKind.TELEGRAM, supports_buttons=False)
    flow.deps.registry.add(bare)
    ticket, text = await closed_on(flow, bare, public_url="https://cc.example.ac.id", link_secret_key="k" * 32)
    assert text.startswith(catalog("id").t("survey_ask_email", ticket=ticket.number))
    assert text.count("https://cc.example.ac.id/survey/") == 5


async def test_without_a_public_address_a_channel_without_buttons_is_asked_for_a_number(flow: FlowHarness) -> None:
    mail = MemoryChannel(kind=ChannelKind.EMAIL, supports_buttons=False)
    flow.deps.registry.add(mail)
    ticket, text = await closed_on(flow, mail, link_secret_key="k" * 32)
    assert text == catalog("id").t("survey_ask", ticket=ticket.number)
