"""The helpdesk actions (handoff.actions) against the real database (SQLite, and PostgreSQL where one answers)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from aiohttp import web

from bot.i18n import catalog
from handoff import actions
from handoff.actions import ConsoleError, ForbiddenError
from handoff.auth import create_user
from handoff.categorization import is_confirmed
from handoff.tickets import resolve_ticket
from models import (
    AuditLog,
    Category,
    Conversation,
    ConversationStatus,
    FlowStep,
    Message,
    ResolvedBy,
    SenderKind,
    Ticket,
    TicketEvent,
    TicketStatus,
    User,
    UserRole,
)
from tests.conftest import IN_HOURS, FlowHarness


def translate(lang: str, key: str, /, **values: object) -> str:
    return catalog(lang).t(key, **values)


async def handed_off(flow: FlowHarness, *, user: str = "42") -> Ticket:
    await flow.send("halo", user=user)
    await flow.send("13521045", user=user)
    await flow.prove(user=user)
    await flow.send("agen", user=user)
    return await Ticket.filter(conversation__identity__external_id=user).order_by("-id").first().get()


async def agent(email: str, role: UserRole = UserRole.AGENT) -> User:
    return await create_user(email=email, role=role, password="a-long-password", name=email.split("@", maxsplit=1)[0])

async def closed_by_ana(flow: FlowHarness, ticket: Ticket, *, category: str = "akun-login", **close: Any) -> Ticket:
    """Ana takes, categorizes and closes ``ticket``, which sends the satisfaction survey."""
    ana = await agent("ana@cc.test")
    await actions.take_ticket(ticket_id=ticket.id, agent=ana, now=IN_HOURS)
    ticket = await Ticket.get(id=ticket.id)
    await actions.categorize(ticket=ticket, category=await Category.get(slug=category), agent=ana)
    return await actions.close_ticket(registry=flow.deps.registry, ticket=ticket, agent=ana, now=IN_HOURS,
                                       translate=translate, **close)



async def test_two_concurrent_takes_give_exactly_one_owner(flow: FlowHarness) -> None:
    ticket = await handed_off(flow)
    ana, bayu = await agent("ana@cc.test"), await agent("bayu@cc.test")
    results = await asyncio.gather(
        actions.take_ticket(ticket_id=ticket.id, agent=ana, now=IN_HOURS),
        actions.take_ticket(ticket_id=ticket.id, agent=bayu, now=IN_HOURS),
    )
    assert sorted(r.taken for r in results) == [False, True]
    winner = next(r for r in results if r.taken)
    loser = next(r for r in results if not r.taken)
    assert loser.owner is not None
    assert loser.owner.id == winner.owner.id if winner.owner else False
    stored = await Ticket.get(id=ticket.id)
    assert stored.assignee_id == loser.owner.id  # type: ignore[attr-defined]
    assert await TicketEvent.filter(ticket=ticket, kind="taken").count() == 1
    conversation = await Conversation.get(id=ticket.conversation_id)  # type: ignore[attr-defined]
    assert conversation.status == ConversationStatus.OPEN


async def test_many_agents_racing_leave_one_owner(flow: FlowHarness) -> None:
    ticket = await handed_off(flow)
    agents = [await agent(f"a{i}@cc.test") for i in range(6)]
    results = await asyncio.gather(
        *(actions.take_ticket(ticket_id=ticket.id, agent=a, now=IN_HOURS) for a in agents)
    )
    assert sum(r.taken for r in results) == 1
    owners = {r.owner.id for r in results if r.owner}
    assert len(owners) == 1


async def test_reply_reaches_the_user_through_the_channel(flow: FlowHarness) -> None:
    ticket = await handed_off(flow)
    ana = await agent("ana@cc.test")
    await actions.take_ticket(ticket_id=ticket.id, agent=ana, now=IN_HOURS)
    ticket = await Ticket.get(id=ticket.id)
    before = len(flow.channel.sent)
    message = await actions.reply(registry=flow.deps.registry, ticket=ticket, agent=ana,
                                   text="Silakan coba reset lewat tautan ini.", now=IN_HOURS)
    sent = flow.channel.sent[before:]
    assert [(m.text, m.recipient, m.sender_kind) for m in sent] == [
        ("Silakan coba reset lewat tautan ini.", "42", SenderKind.AGENT)
    ]
    stored = await Ticket.get(id=ticket.id)
    assert stored.first_response_at == IN_HOURS
    assert message.agent_id == ana.id  # type: ignore[attr-defined]
    # A later reply does not move the first response time.
    later = IN_HOURS.replace(hour=5)
    await actions.reply(registry=flow.deps.registry, ticket=stored, agent=ana, text="Lagi", now=later)
    assert (await Ticket.get(id=ticket.id)).first_response_at == IN_HOURS


async def test_the_user_answer_is_filed_on_the_ticket_silently(flow: FlowHarness) -> None:
    ticket = await handed_off(flow)
    ana = await agent("ana@cc.test")
    await actions.take_ticket(ticket_id=ticket.id, agent=ana, now=IN_HOURS)
    await flow.send("masih belum bisa")
    assert flow.replies() == []
    assert await Message.filter(ticket_id=ticket.id, text="masih belum bisa").exists()


async def test_only_the_owner_or_a_supervisor_acts(flow: FlowHarness) -> None:
    ticket = await handed_off(flow)
    ana, bayu = await agent("ana@cc.test"), await agent("bayu@cc.test")
    boss = await agent("boss@cc.test", UserRole.SUPERVISOR)
    with pytest.raises(ForbiddenError):  # nobody owns it yet: take it first
        await actions.reply(registry=flow.deps.registry, ticket=ticket, agent=ana, text="x", now=IN_HOURS)
    await actions.take_ticket(ticket_id=ticket.id, agent=ana, now=IN_HOURS)
    ticket = await Ticket.get(id=ticket.id)
    with pytest.raises(ForbiddenError):
        await actions.add_note(ticket=ticket, agent=bayu, text="not mine")
    with pytest.raises(ForbiddenError):
        await actions.assign_ticket(ticket=ticket, assignee=bayu, actor=bayu, now=IN_HOURS)
    await actions.add_note(ticket=ticket, agent=boss, text="supervisor note")
    await actions.assign_ticket(ticket=ticket, assignee=bayu, actor=ana, now=IN_HOURS)
    assert (await Ticket.get(id=ticket.id)).assignee_id == bayu.id  # type: ignore[attr-defined]


async def test_a_note_never_reaches_the_user(flow: FlowHarness) -> None:
    ticket = await handed_off(flow)
    ana = await agent("ana@cc.test")
    await actions.take_ticket(ticket_id=ticket.id, agent=ana, now=IN_HOURS)
    before = len(flow.channel.sent)
    event = await actions.add_note(ticket=await Ticket.get(id=ticket.id), agent=ana, text="user seems to use old app")
    assert flow.channel.sent[before:] == []
    assert not await Message.filter(text="user seems to use old app").exists()
    assert event.kind == "note"
    assert event.data == {"text": "user seems to use old app"}


async def test_close_requires_a_category_then_sends_one_survey(flow: FlowHarness) -> None:
    ticket = await handed_off(flow)
    ana = await agent("ana@cc.test")
    await actions.take_ticket(ticket_id=ticket.id, agent=ana, now=IN_HOURS)
    ticket = await Ticket.get(id=ticket.id)
    ticket.category = None
    await ticket.save(update_fields=["category_id"])
    with pytest.raises(ConsoleError) as problem:
        await actions.close_ticket(registry=flow.deps.registry, ticket=ticket, agent=ana, now=IN_HOURS,
                                    translate=translate)
    assert (problem.value.code, problem.value.status) == ("error_category_unconfirmed", 409)
    assert (await Ticket.get(id=ticket.id)).status != TicketStatus.RESOLVED

    await actions.categorize(ticket=ticket, category=await Category.get(slug="akun-login"), agent=ana)
    before = len(flow.channel.sent)
    closed = await actions.close_ticket(registry=flow.deps.registry, ticket=ticket, agent=ana, now=IN_HOURS,
                                         translate=translate)
    assert (closed.status, closed.resolved_by.value if closed.resolved_by else None) == (TicketStatus.RESOLVED, "agent")
    survey = flow.channel.sent[before:]
    assert len(survey) == 1
    assert survey[0].text.startswith(f"Tiket {ticket.number} telah ditutup")
    assert [b.value for b in survey[0].buttons] == ["1", "2", "3", "4", "5"]
    conversation = await Conversation.get(id=ticket.conversation_id)  # type: ignore[attr-defined]
    assert (conversation.status, conversation.step) == (ConversationStatus.BOT, FlowStep.AWAITING_SURVEY)
    with pytest.raises(ConsoleError):  # closing twice sends nothing more
        await actions.close_ticket(registry=flow.deps.registry, ticket=closed, agent=ana, now=IN_HOURS,
                                    translate=translate)
    assert len(flow.channel.sent) == before + 1


async def test_the_bots_guess_must_be_confirmed_before_an_agent_closes(flow: FlowHarness) -> None:
    await flow.send("halo")
    await flow.send("13521045")
    await flow.send("lupa password")  # the bot answers with its guess, reset-password...
    await flow.send("2")  # ...which did not help: the next suggestion or a person is offered,
    await flow.send("2")  # and a person it is: hand-off, the guess pre-filled as the category
    ticket = await Ticket.filter(conversation__identity__external_id="42").get()
    ana, sari = await agent("ana@cc.test"), await agent("sari@cc.test", UserRole.SUPERVISOR)
    await actions.take_ticket(ticket_id=ticket.id, agent=ana, now=IN_HOURS)
    ticket = await Ticket.get(id=ticket.id)
    assert (ticket.predicted_category, is_confirmed(ticket)) == ("reset-password", False)
    assert (await Category.get(id=ticket.category_id)).slug == "reset-password"  # type: ignore[arg-type]
    with pytest.raises(ConsoleError) as problem:
        await actions.close_ticket(registry=flow.deps.registry, ticket=ticket, agent=ana, now=IN_HOURS,
                                    translate=translate)
    assert (problem.value.code, problem.value.status) == ("error_category_unconfirmed", 409)
    assert (await Ticket.get(id=ticket.id)).status == TicketStatus.OPEN

    # A supervisor changes it (which confirms), then the owner keeps it: the last confirmation counts.
    later = IN_HOURS + timedelta(minutes=5)
    await actions.categorize(ticket=ticket, category=await Category.get(slug="akun-login"), agent=sari, now=IN_HOURS)
    stored = await Ticket.get(id=ticket.id)
    assert (stored.category_confirmed_by_id, stored.category_confirmed_at, stored.category_agreed) == (
        sari.id, IN_HOURS, False)
    await actions.categorize(ticket=stored, category=await Category.get(slug="reset-password"), agent=ana, now=later)
    stored = await Ticket.get(id=ticket.id)
    assert (stored.category_confirmed_by_id, stored.category_confirmed_at, stored.category_agreed) == (
        ana.id, later, True)
    events = await TicketEvent.filter(ticket_id=ticket.id, kind="categorized").order_by("id")
    assert [(e.actor_id, e.data["to"], e.data["agreed"]) for e in events] == [  # type: ignore[attr-defined]
        (sari.id, "akun-login", False), (ana.id, "reset-password", True)]
    closed = await actions.close_ticket(registry=flow.deps.registry, ticket=stored, agent=ana, now=later,
                                         translate=translate)
    assert closed.status == TicketStatus.RESOLVED


async def test_the_system_closes_without_a_confirmation_and_leaves_it_unconfirmed(flow: FlowHarness) -> None:
    """Required fields bind people, not sweeps (handoff.categorization): a ticket the system resolves
    closes with its guess unconfirmed, and a supervisor confirms it afterwards."""
    ticket = await handed_off(flow)
    await Ticket.filter(id=ticket.id).update(category_id=(await Category.get(slug="nilai")).id)
    ticket = await Ticket.get(id=ticket.id)
    closed = await resolve_ticket(ticket=ticket, now=IN_HOURS, by=ResolvedBy.BOT)
    assert (closed.status, is_confirmed(closed)) == (TicketStatus.RESOLVED, False)
    sari = await agent("sari@cc.test", UserRole.SUPERVISOR)
    await actions.categorize(ticket=closed, category=await Category.get(slug="nilai"), agent=sari, now=IN_HOURS)
    assert is_confirmed(await Ticket.get(id=ticket.id))


async def test_survey_rating_is_recorded_once_and_low_ratings_flag(flow: FlowHarness) -> None:
    ticket = await closed_by_ana(flow, await handed_off(flow))
    await flow.send("2")
    assert flow.replies() == [catalog("id").t("survey_thanks_low"), catalog("id").t("survey_comment_ask")]
    stored = await Ticket.get(id=ticket.id)
    assert (stored.survey_rating, stored.flagged) == (2, True)
    # The survey is over: a second "5" is an ordinary message for the bot, not a second rating nor a comment.
    await flow.send("5")
    assert (await Ticket.get(id=ticket.id)).survey_rating == 2
    assert (await Ticket.get(id=ticket.id)).survey_comment is None
    assert await TicketEvent.filter(ticket=ticket, kind="survey_answered").count() == 1


async def test_a_good_rating_thanks_without_flagging(flow: FlowHarness) -> None:
    ticket = await closed_by_ana(flow, await handed_off(flow), category="nilai")
    await flow.send("5")
    assert flow.replies() == [catalog("id").t("survey_thanks"), catalog("id").t("survey_comment_ask")]
    stored = await Ticket.get(id=ticket.id)
    assert (stored.survey_rating, stored.flagged) == (5, False)


async def test_skipping_the_survey_hands_the_message_to_the_bot(flow: FlowHarness) -> None:
    ticket = await closed_by_ana(flow, await handed_off(flow), category="nilai")
    await flow.send("nilai saya belum keluar")
    assert (await Ticket.get(id=ticket.id)).survey_rating is None
    assert flow.replies()  # the bot answered the new question


@pytest.fixture
async def webhook() -> AsyncIterator[tuple[str, list[dict[str, object]]]]:
    received: list[dict[str, object]] = []

    async def hook(request: web.Request) -> web.Response:
        received.append({"body": json.loads(await request.read()),
                         "signature": request.headers.get("X-Carecenter-Signature", "")})
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}/hook", received
    finally:
        await runner.cleanup()


async def test_escalate_sets_status_and_calls_the_webhook_without_personal_data(
    flow: FlowHarness, webhook: tuple[str, list[dict[str, object]]]
) -> None:
    url, received = webhook
    ticket = await handed_off(flow)
    ana = await agent("ana@cc.test")
    await actions.take_ticket(ticket_id=ticket.id, agent=ana, now=IN_HOURS)
    escalated = await actions.escalate(ticket=await Ticket.get(id=ticket.id), agent=ana, now=IN_HOURS,
                                        summary="Upload tugas gagal untuk semua", webhook_url=url,
                                        webhook_secret="s3cret")
    assert escalated.status == TicketStatus.ESCALATED
    assert len(received) == 1
    body = received[0]["body"]
    assert isinstance(body, dict)
    assert (body["ticket"], body["summary"]) == (ticket.number, "Upload tugas gagal untuk semua")
    assert "13521045" not in json.dumps(body)
    assert str(received[0]["signature"]).startswith("sha256=")
    event = await TicketEvent.get(ticket=ticket, kind="escalation_webhook")
    assert event.data == {"delivered": True}


async def test_every_action_is_audited(flow: FlowHarness) -> None:
    ticket = await handed_off(flow)
    ana = await agent("ana@cc.test")
    await actions.take_ticket(ticket_id=ticket.id, agent=ana, now=IN_HOURS)
    ticket = await Ticket.get(id=ticket.id)
    await actions.add_note(ticket=ticket, agent=ana, text="n")
    await actions.categorize(ticket=ticket, category=await Category.get(slug="nilai"), agent=ana)
    audited = await AuditLog.filter(actor=ana).order_by("id").values_list("action", flat=True)
    assert audited == ["ticket.take", "ticket.note", "ticket.categorize"]


async def test_the_developers_fix_is_reported_back_on_the_ticket(flow: FlowHarness) -> None:
    ticket = await handed_off(flow)
    ana = await agent("ana@cc.test")
    await actions.take_ticket(ticket_id=ticket.id, agent=ana, now=IN_HOURS)
    ticket = await Ticket.get(id=ticket.id)
    with pytest.raises(ConsoleError):  # only an escalated ticket gets a fix report
        await actions.report_fix(ticket=ticket, agent=ana, text="fixed")
    await actions.escalate(ticket=ticket, agent=ana, now=IN_HOURS, summary="upload broken")
    fixed = await actions.report_fix(ticket=ticket, agent=ana, text="Patched in release 4.2")
    assert fixed.status == TicketStatus.OPEN
    event = await TicketEvent.get(ticket=ticket, kind="fix_reported")
    assert event.data == {"text": "Patched in release 4.2"}
