"""Automatic assignment: least loaded available agent within capacity, round robin, re-offer when silent."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from handoff.assignment import Assigner
from handoff.auth import create_user
from models import Ticket, TicketEvent, User, UserRole
from tests.conftest import IN_HOURS, FlowHarness
from tests.handoff.console.conftest import Served


async def agent(email: str, *, available: bool = True, capacity: int = 10) -> User:
    user = await create_user(email=email, role=UserRole.AGENT, password="a-long-password", name=email)
    user.available, user.capacity = available, capacity
    await user.save(update_fields=["available", "capacity"])
    return user


async def tickets(flow: FlowHarness, count: int) -> list[Ticket]:
    for n in range(count):
        await flow.send("halo", user=f"u{n}")
        await flow.send("agen", user=f"u{n}")
    return await Ticket.all().order_by("id")


async def test_least_loaded_available_agent_round_robin_and_capacity(flow: FlowHarness) -> None:
    ana, bayu = await agent("ana@cc.test", capacity=2), await agent("bayu@cc.test", capacity=1)
    await agent("away@cc.test", available=False)
    await tickets(flow, 4)
    assigner = Assigner()
    assert await assigner.assign_backlog(now=IN_HOURS) == 3  # capacities 2 + 1; the away agent gets none
    owners = [t.assignee_id for t in await Ticket.all().order_by("id")]  # type: ignore[attr-defined]
    assert owners == [ana.id, bayu.id, ana.id, None]
    assert await TicketEvent.filter(kind="auto_assigned").count() == 3


async def test_a_ticket_taken_by_hand_is_not_reassigned(flow: FlowHarness) -> None:
    ana = await agent("ana@cc.test")
    [ticket] = await tickets(flow, 1)
    await Ticket.filter(id=ticket.id).update(assignee_id=ana.id)
    assert await Assigner().assign(ticket_id=ticket.id, now=IN_HOURS) is None


async def test_silent_agent_loses_the_ticket_to_the_next(flow: FlowHarness) -> None:
    ana = await agent("ana@cc.test")
    [ticket] = await tickets(flow, 1)
    assigner = Assigner(answer_within=timedelta(minutes=10))
    first = await assigner.assign(ticket_id=ticket.id, now=IN_HOURS)
    assert first is not None
    assert first.id == ana.id
    bayu = await agent("bayu@cc.test")
    assert await assigner.reoffer_unanswered(now=IN_HOURS + timedelta(minutes=5)) == 0
    assert await assigner.reoffer_unanswered(now=IN_HOURS + timedelta(minutes=11)) == 1
    assert (await Ticket.get(id=ticket.id)).assignee_id == bayu.id  # type: ignore[attr-defined]
    # Once answered, it stays.
    await Ticket.filter(id=ticket.id).update(first_response_at=IN_HOURS + timedelta(minutes=12))
    assert await assigner.reoffer_unanswered(now=IN_HOURS + timedelta(hours=1)) == 0


async def test_the_running_app_assigns_a_handoff_to_an_available_agent(served: Served) -> None:
    served.agent.available = True
    await served.agent.save(update_fields=["available"])
    ticket = await served.hand_off()
    for _ in range(50):  # the broker wakes the assignment loop; give it a moment
        if (await Ticket.get(id=ticket.id)).assignee_id is not None:  # type: ignore[attr-defined]
            break
        await asyncio.sleep(0.1)
    assert (await Ticket.get(id=ticket.id)).assignee_id == served.agent.id  # type: ignore[attr-defined]
