"""Assignment inside operating hours only (handoff.assignment): nothing offered or re-offered at night."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from handoff.assignment import Assigner
from handoff.hours import OperatingHours
from models import Ticket, TicketEvent
from tests.conftest import FlowHarness
from tests.handoff.console.test_assignment import agent, tickets

JKT = ZoneInfo("Asia/Jakarta")
HOURS = OperatingHours()  # 08:00-16:00 Monday to Friday, holidays closed


async def office_hours() -> OperatingHours:
    return HOURS


async def test_out_of_hours_a_ticket_waits_for_the_next_opening(flow: FlowHarness) -> None:
    flow.now = datetime(2026, 11, 27, 20, 0, tzinfo=JKT)  # Friday evening
    ana = await agent("ana@cc.test")
    [ticket] = await tickets(flow, 1)
    assigner = Assigner(hours=office_hours)
    for at in (flow.now, datetime(2026, 11, 28, 10, 0, tzinfo=JKT), datetime(2026, 11, 30, 7, 59, tzinfo=JKT)):
        assert await assigner.run_round(now=at) == 0  # the night, Saturday, Monday before opening
    assert (await Ticket.get(id=ticket.id)).assignee_id is None
    assert await assigner.run_round(now=datetime(2026, 11, 30, 8, 0, tzinfo=JKT)) == 1
    assert (await Ticket.get(id=ticket.id)).assignee_id == ana.id


async def test_no_reoffers_at_night_the_answer_clock_counts_operating_time(flow: FlowHarness) -> None:
    flow.now = datetime(2026, 11, 24, 15, 55, tzinfo=JKT)  # Tuesday, five minutes before closing
    ana = await agent("ana@cc.test")
    [ticket] = await tickets(flow, 1)
    assigner = Assigner(answer_within=timedelta(minutes=10), hours=office_hours)
    assert await assigner.run_round(now=flow.now) == 1
    bayu = await agent("bayu@cc.test")
    for minutes in range(15, 16 * 60, 30):  # every half hour through the night: nobody is disturbed
        assert await assigner.run_round(now=flow.now + timedelta(minutes=minutes)) == 0
    assert (await Ticket.get(id=ticket.id)).assignee_id == ana.id
    # Wednesday 08:04: nine minutes of working time since the offer; 08:05: ten, so it moves on.
    assert await assigner.run_round(now=datetime(2026, 11, 25, 8, 4, tzinfo=JKT)) == 0
    assert await assigner.run_round(now=datetime(2026, 11, 25, 8, 5, tzinfo=JKT)) == 1
    assert (await Ticket.get(id=ticket.id)).assignee_id == bayu.id
    assert await TicketEvent.filter(ticket_id=ticket.id, kind="reoffered").count() == 1


async def test_the_out_of_hours_handoff_message_names_the_next_opening(flow: FlowHarness) -> None:
    flow.now = datetime(2026, 11, 27, 20, 0, tzinfo=JKT)  # Friday evening: Monday 08:00 is next
    await flow.send("halo")
    await flow.send("13521045")
    await flow.send("agen")
    assert any("Senin, 30 November 2026" in reply and "08.00" in reply for reply in flow.replies())
