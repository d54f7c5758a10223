"""The user's answer ends "waiting on the user": a ticket an agent set waiting (TicketStatus.PENDING) is open
again as soon as the user writes on it, with a ticket event, and a clock the policy paused resumes, its due
times moved by exactly the paused span (frozen clock; SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

from handoff import sla
from handoff.actions import set_waiting, take_ticket
from handoff.auth import create_user
from models import ActorKind, Ticket, TicketEvent, TicketStatus, User, UserRole
from tests.conftest import FlowHarness


async def handed_off(flow: FlowHarness) -> tuple[Ticket, User]:
    """Budi, proven, asks for a person; Ana takes the ticket and sets it waiting on him."""
    await flow.send("halo")
    await flow.send("13521045")
    await flow.prove()
    await flow.send("agen")
    if not await Ticket.exists():
        await flow.send("2")  # the bot answered; "did it help?" no: hand off
    agent = await create_user(email="ana@cc.test", role=UserRole.AGENT, password="x" * 12)
    ticket = await Ticket.get()
    await take_ticket(ticket_id=ticket.id, agent=agent, now=flow.now)
    return await Ticket.get(id=ticket.id), agent


async def test_the_users_answer_reopens_and_resumes_a_paused_clock(flow: FlowHarness) -> None:
    await sla.save_policy(sla.SlaPolicy(pause_when_waiting=True))
    ticket, agent = await handed_off(flow)
    promised = (ticket.due_at, ticket.first_response_due_at)
    flow.now += timedelta(minutes=10)
    await set_waiting(ticket=ticket, agent=agent, waiting=True, now=flow.now)
    paused = await Ticket.get(id=ticket.id)
    assert (paused.status, paused.sla_paused_at) == (TicketStatus.PENDING, flow.now)

    flow.now += timedelta(hours=3)  # the user takes three hours to answer
    await flow.send("ini tangkapan layarnya")
    resumed = await Ticket.get(id=ticket.id)
    assert resumed.status == TicketStatus.OPEN
    assert (resumed.sla_paused_at, resumed.sla_paused_s) == (None, 3 * 3600)
    assert resumed.due_at == promised[0] + timedelta(hours=3)
    assert resumed.first_response_due_at == promised[1] + timedelta(hours=3)  # type: ignore[operator]
    event = await TicketEvent.get(ticket_id=ticket.id, kind="status", actor_kind=ActorKind.USER)
    assert event.data == {"status": "open", "because": "user_message"}
    report = sla.evaluate_targets(resumed, await sla.load_policy(), flow.now)
    assert not report.paused
    resolution = report.target(sla.SlaTarget.RESOLUTION)
    assert resolution is not None
    assert resolution.elapsed == timedelta(minutes=10)  # the pause is not counted

    flow.now += timedelta(minutes=1)  # more words while open change nothing more
    await flow.send("sudah saya kirim")
    assert await TicketEvent.filter(ticket_id=ticket.id, kind="status", actor_kind=ActorKind.USER).count() == 1
    assert (await Ticket.get(id=ticket.id)).due_at == resumed.due_at


async def test_without_a_pause_the_answer_reopens_and_the_due_time_stays(flow: FlowHarness) -> None:
    ticket, agent = await handed_off(flow)  # the default policy does not pause
    await set_waiting(ticket=ticket, agent=agent, waiting=True, now=flow.now)
    flow.now += timedelta(hours=3)
    await flow.send("ini jawabannya")
    after = await Ticket.get(id=ticket.id)
    assert (after.status, after.due_at, after.sla_paused_s) == (TicketStatus.OPEN, ticket.due_at, 0)
    assert await TicketEvent.filter(ticket_id=ticket.id, kind="status", actor_kind=ActorKind.USER).exists()


async def test_a_message_on_an_open_ticket_is_no_status_change(flow: FlowHarness) -> None:
    await sla.save_policy(sla.SlaPolicy(pause_when_waiting=True))
    ticket, _agent = await handed_off(flow)
    flow.now += timedelta(hours=1)
    await flow.send("masih menunggu")
    after = await Ticket.get(id=ticket.id)
    assert (after.status, after.due_at) == (TicketStatus.OPEN, ticket.due_at)
    assert not await TicketEvent.filter(ticket_id=ticket.id, kind="status").exists()
