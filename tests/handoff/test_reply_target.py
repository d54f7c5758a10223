"""Replies go where proof is (issue 13): an agent's reply, the survey and an incident notice go to the ticket's
own channel or a PROVEN channel of the person, never to an address that merely claimed the number. Real
database (SQLite, and PostgreSQL where one answers), the real flow, memory channels."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.channels.memory import MemoryChannel
from handoff import actions
from handoff.actions import ConsoleError
from handoff.auth import create_user
from handoff.contacts import prove
from handoff.incidents import report_incident_fix
from handoff.tickets import reply_conversation, reply_targets
from models import (
    Category,
    ChannelIdentity,
    ChannelKind,
    Message,
    ProofMethod,
    SenderKind,
    Ticket,
    User,
    UserRole,
)
from tests.conftest import FlowHarness
from tests.handoff.people import BUDI
from tests.handoff.test_actions import translate


async def student_ticket(flow: FlowHarness) -> tuple[Ticket, ChannelIdentity]:
    """Budi hands off on Telegram and proves that chat (as a code to his campus e-mail would)."""
    await flow.send("halo")
    await flow.send("13521045")
    await flow.send("agen")
    ticket = await Ticket.filter(conversation__identity__external_id="42").order_by("-id").first().get()
    telegram = await ChannelIdentity.get(channel=ChannelKind.TELEGRAM, external_id="42")
    await prove(identity=telegram, person=BUDI, method=ProofMethod.CODE, now=flow.now)
    return await Ticket.get(id=ticket.id), telegram


async def visitor_claims_budi(flow: FlowHarness) -> ChannelIdentity:
    """A stranger types Budi's NIM in a web chat and writes last. Whatever the bot does with the claim (its
    own contact, or, before the upgrade, joined to Budi's), the address is not proven."""
    flow.now += timedelta(minutes=5)
    await flow.on(ChannelKind.WEBCHAT, "visitor-1", "halo")
    await flow.on(ChannelKind.WEBCHAT, "visitor-1", "13521045")
    flow.now += timedelta(minutes=1)
    await flow.on(ChannelKind.WEBCHAT, "visitor-1", "berapa nilai saya?")
    return await ChannelIdentity.get(channel=ChannelKind.WEBCHAT, external_id="visitor-1")


async def owned(ticket: Ticket) -> tuple[Ticket, User]:
    ana = await create_user(email="ana@cc.test", role=UserRole.AGENT, password="a-long-password", name="Ana")
    await actions.take_ticket(ticket_id=ticket.id, agent=ana, now=ticket.opened_at)
    return await Ticket.get(id=ticket.id), ana


def webchat(flow: FlowHarness) -> MemoryChannel:
    channel = flow.deps.registry.get(ChannelKind.WEBCHAT)
    assert isinstance(channel, MemoryChannel)
    return channel


async def test_the_takeover_reply_goes_to_the_students_proven_telegram(flow: FlowHarness) -> None:
    ticket, telegram = await student_ticket(flow)
    visitor = await visitor_claims_budi(flow)
    ticket, ana = await owned(ticket)
    assert [t.identity.id for t in await reply_targets(ticket)] == [telegram.id]
    await actions.reply(registry=flow.deps.registry, ticket=ticket, agent=ana, text="Nilai Anda A.", now=flow.now)
    assert "Nilai Anda A." in flow.channel.texts("42")
    assert all("Nilai Anda A." not in text for text in webchat(flow).texts())
    assert visitor.id not in [t.identity.id for t in await reply_targets(ticket)]


async def test_a_forged_choice_of_the_claimed_session_is_refused_and_nothing_is_sent(flow: FlowHarness) -> None:
    ticket, _ = await student_ticket(flow)
    visitor = await visitor_claims_budi(flow)
    ticket, ana = await owned(ticket)
    messages = await Message.filter(sender_kind=SenderKind.AGENT).count()
    with pytest.raises(ConsoleError) as refused:
        await actions.reply(registry=flow.deps.registry, ticket=ticket, agent=ana, text="Nilai Anda A.",
                            now=flow.now, to=visitor.id)
    assert (refused.value.code, refused.value.status) == ("error_reply_target", 400)
    assert await Message.filter(sender_kind=SenderKind.AGENT).count() == messages
    assert all("Nilai Anda A." not in text for text in webchat(flow).texts())


async def test_a_proven_second_channel_can_be_chosen_and_is_the_default_when_written_on_last(
    flow: FlowHarness,
) -> None:
    ticket, telegram = await student_ticket(flow)
    session = await visitor_claims_budi(flow)  # this time it is Budi, and the LMS signs him in there
    await prove(identity=session, person=BUDI, method=ProofMethod.LMS, now=flow.now)
    ticket, ana = await owned(ticket)
    assert {t.identity.id for t in await reply_targets(ticket)} == {telegram.id, session.id}
    assert (await reply_conversation(ticket)).identity_id == session.id  # type: ignore[attr-defined]
    await actions.reply(registry=flow.deps.registry, ticket=ticket, agent=ana, text="Lewat web.", now=flow.now)
    await actions.reply(registry=flow.deps.registry, ticket=ticket, agent=ana, text="Lewat Telegram.",
                        now=flow.now, to=telegram.id)
    assert "Lewat web." in webchat(flow).texts("visitor-1")
    assert "Lewat Telegram." in flow.channel.texts("42")


async def test_the_survey_and_an_incident_notice_skip_the_claimed_session(flow: FlowHarness) -> None:
    ticket, _ = await student_ticket(flow)
    await visitor_claims_budi(flow)
    ticket, ana = await owned(ticket)
    await actions.escalate(ticket=ticket, agent=ana, now=flow.now, summary="nilai hilang", incident_title="Nilai")
    ticket = await Ticket.get(id=ticket.id).prefetch_related("incident")
    assert ticket.incident is not None
    await report_incident_fix(incident=ticket.incident, actor=ana, text="Sudah diperbaiki.", notify_users=True,
                              registry=flow.deps.registry, translate=translate, now=flow.now)
    await actions.categorize(ticket=ticket, category=await Category.get(slug="akun-login"), agent=ana)
    await actions.close_ticket(registry=flow.deps.registry, ticket=await Ticket.get(id=ticket.id), agent=ana,
                               now=flow.now, translate=translate)
    assert (await Ticket.get(id=ticket.id)).survey_sent_at is not None
    sent = await Message.filter(ticket_id=ticket.id, sender_kind__in=[SenderKind.AGENT, SenderKind.SYSTEM])
    assert len(sent) == 2  # the fix notice and the survey
    assert {m.channel for m in sent} == {ChannelKind.TELEGRAM}
    assert any("Sudah diperbaiki." in text for text in flow.channel.texts("42"))
