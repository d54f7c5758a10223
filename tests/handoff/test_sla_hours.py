from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from handoff.hours import OperatingHours
from handoff.scheduler import take_lease
from handoff.sla import SlaState, SlaStatus, evaluate, moments, sweep, targets_for
from handoff.tickets import open_ticket
from models import Ticket, TicketEvent
from tests.conftest import FlowHarness

JKT = ZoneInfo("Asia/Jakarta")
OPENED = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)
DUE = OPENED + timedelta(hours=24)


@dataclass(frozen=True)
class Times:
    """A ticket's three moments: all ``evaluate`` reads, the ticket's target included (due - opened)."""

    opened_at: datetime
    due_at: datetime
    resolved_at: datetime | None = None


def test_sla_states() -> None:
    def at(hours: int) -> SlaStatus:
        return evaluate(Times(OPENED, DUE), OPENED + timedelta(hours=hours))

    assert at(1).state == SlaState.ON_TRACK
    assert at(19).state == SlaState.AT_RISK
    assert at(24).state == SlaState.BREACHED
    assert at(30).remaining == timedelta(hours=-6)
    met = evaluate(Times(OPENED, DUE, resolved_at=OPENED + timedelta(hours=2)), DUE)
    missed = evaluate(Times(OPENED, DUE, resolved_at=DUE + timedelta(minutes=1)), DUE)
    assert (met.state, missed.state) == (SlaState.MET, SlaState.MISSED)


def test_operating_hours_and_holidays() -> None:
    hours = OperatingHours()
    assert hours.is_open(datetime(2026, 11, 24, 10, 0, tzinfo=JKT))
    assert not hours.is_open(datetime(2026, 11, 24, 16, 0, tzinfo=JKT))
    assert not hours.is_open(datetime(2026, 11, 28, 10, 0, tzinfo=JKT))  # Saturday
    assert hours.next_open(datetime(2026, 11, 24, 17, 0, tzinfo=JKT)) == datetime(2026, 11, 25, 8, 0, tzinfo=JKT)
    assert hours.next_open(datetime(2026, 11, 24, 6, 0, tzinfo=JKT)) == datetime(2026, 11, 24, 8, 0, tzinfo=JKT)
    # 17 August (Independence Day) 2026 is a Monday: the next shift is Tuesday.
    assert not hours.is_open(datetime(2026, 8, 17, 10, 0, tzinfo=JKT))
    assert hours.next_open(datetime(2026, 8, 15, 10, 0, tzinfo=JKT)) == datetime(2026, 8, 18, 8, 0, tzinfo=JKT)


async def test_sweep_records_each_breach_once(flow: FlowHarness) -> None:
    # The ticket now has a first-response target too (1 h), whose notices come first: this counts the
    # resolution breach only, as before per-target SLAs.
    await flow.send("halo")
    await flow.send("agent")
    ticket = await Ticket.get()

    async def breaches() -> int:
        events = await TicketEvent.filter(ticket=ticket, kind="sla_breached")
        return sum(1 for e in events if e.data["target"] == "resolution")

    await sweep(now=ticket.due_at - timedelta(minutes=1))
    assert await breaches() == 0
    assert await sweep(now=ticket.due_at + timedelta(minutes=1)) == 1
    assert await sweep(now=ticket.due_at + timedelta(minutes=2)) == 0
    assert await breaches() == 1
    assert (await Ticket.get(id=ticket.id)).breached_at is not None


async def test_open_ticket_numbers_are_readable_and_unique(flow: FlowHarness) -> None:
    await flow.send("halo", user="a")
    await flow.send("agent", user="a")
    await flow.send("halo", user="b")
    await flow.send("agent", user="b")
    numbers = await Ticket.all().order_by("id").values_list("number", flat=True)
    assert numbers == ["CC-2611-000001", "CC-2611-000002"]
    assert open_ticket is not None


async def test_only_one_process_holds_the_scheduler_lease(db: str) -> None:
    now = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)
    assert await take_lease(holder="a", now=now)
    assert not await take_lease(holder="b", now=now)
    assert await take_lease(holder="a", now=now + timedelta(minutes=1))  # renewal
    assert await take_lease(holder="b", now=now + timedelta(minutes=10))  # a died: b takes over
    assert not await take_lease(holder="a", now=now + timedelta(minutes=10))


def test_a_ticket_is_judged_against_its_own_target_and_pages_get_the_moments() -> None:
    four_hours = targets_for(opened_at=OPENED, setting=timedelta(hours=4))
    ticket = Times(OPENED, four_hours.due_at)
    assert (four_hours.target, targets_for(opened_at=OPENED).due_at) == (timedelta(hours=4), DUE)
    clock = moments(ticket)
    assert (clock.due_at, clock.at_risk_from, clock.warning_from) == (
        OPENED + timedelta(hours=4), OPENED + timedelta(hours=3), OPENED + timedelta(hours=2))
    # The page's colours change at those moments, as the server's states do.
    assert [evaluate(ticket, OPENED + timedelta(hours=h)).state for h in (1, 3, 4)] == [
        SlaState.ON_TRACK, SlaState.AT_RISK, SlaState.BREACHED]
    assert not evaluate(ticket, OPENED + timedelta(hours=1)).warning
    assert evaluate(ticket, OPENED + timedelta(hours=2, minutes=1)).warning
