"""SLA policies (handoff.sla): targets by category and priority, calendar or operating hours, the pause
while waiting on the user, and each warning and breach exactly once, with a frozen, advancing clock."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from handoff import actions, sla
from handoff.auth import create_user
from handoff.hours import OperatingHours
from handoff.live import Broker
from handoff.sla import PolicyError, Rule, SlaPolicy, SlaState, evaluate_targets, policy_from_json, save_policy
from models import Category, Priority, SlaCounting, SlaNotice, SlaTarget, Ticket, TicketEvent, TicketStatus, UserRole
from tests.conftest import IN_HOURS, FlowHarness

JKT = ZoneInfo("Asia/Jakarta")
HOUR = timedelta(hours=1)
PRAYER = OperatingHours(schedule=(*((d, time(8), time(16)) for d in range(4)),
                                  (4, time(8), time(11, 30)), (4, time(13), time(16))))


@dataclass
class Facts:
    """A ticket as far as evaluate_targets reads it."""

    opened_at: datetime
    due_at: datetime
    resolved_at: datetime | None = None
    first_response_at: datetime | None = None
    first_response_due_at: datetime | None = None
    sla_first_response_s: int | None = 3600
    sla_resolution_s: int | None = 24 * 3600
    sla_counting: SlaCounting = SlaCounting.CALENDAR
    sla_paused_at: datetime | None = None
    sla_paused_s: int = 0


def test_the_most_specific_rule_wins_for_each_target() -> None:
    policy = SlaPolicy(rules=(
        Rule("akun-login", Priority.URGENT, first_response=timedelta(minutes=10)),
        Rule("akun-login", None, first_response=timedelta(minutes=30), resolution=8 * HOUR),
        Rule(None, Priority.URGENT, resolution=4 * HOUR),
    ))
    assert policy.choose(category="akun-login", priority=Priority.URGENT) == (timedelta(minutes=10), 8 * HOUR)
    assert policy.choose(category="akun-login", priority=Priority.NORMAL) == (timedelta(minutes=30), 8 * HOUR)
    assert policy.choose(category="lainnya", priority=Priority.URGENT) == (HOUR, 4 * HOUR)
    assert policy.choose(category=None, priority=Priority.LOW) == (HOUR, 24 * HOUR)


def test_a_bad_policy_names_every_bad_field() -> None:
    with pytest.raises(PolicyError) as caught:
        policy_from_json({"first_response_minutes": "soon", "resolution_minutes": -5, "counting": "lunar",
                          "warnings": [50, 150], "rules": [{"category": None, "priority": None},
                                                           {"priority": "whenever"}]},
                         hours=OperatingHours())
    assert caught.value.errors == {
        "first_response_minutes": "error_sla_number", "resolution_minutes": "error_sla_range",
        "counting": "error_sla_counting", "warnings": "error_sla_warnings", "rule_0": "error_sla_rule_empty",
        "rule_1_priority": "error_sla_priority"}
    with pytest.raises(PolicyError) as closed:
        policy_from_json({"first_response_minutes": 60, "resolution_minutes": 1440, "counting": "operating"},
                         hours=OperatingHours(schedule=()))
    assert closed.value.errors == {"counting": "error_sla_no_hours"}
    nan = {"first_response_minutes": "nan", "resolution_minutes": "inf"}
    with pytest.raises(PolicyError):
        policy_from_json(nan, hours=OperatingHours())


def test_calendar_warnings_and_breach_at_their_moments() -> None:
    opened = IN_HOURS
    ticket = Facts(opened, opened + 24 * HOUR)
    policy = SlaPolicy()

    def due_at(minutes: float) -> list[tuple[SlaTarget, int]]:
        return list(evaluate_targets(ticket, policy, opened + timedelta(minutes=minutes)).due_notices)

    assert due_at(29) == []
    assert due_at(30) == [(SlaTarget.FIRST_RESPONSE, 50)]
    assert due_at(54) == [(SlaTarget.FIRST_RESPONSE, t) for t in (50, 75, 90)]
    report = evaluate_targets(ticket, policy, opened + timedelta(minutes=31))
    assert report.next_check_at == opened + timedelta(minutes=45)
    breached = evaluate_targets(ticket, policy, opened + HOUR)
    assert breached.target(SlaTarget.FIRST_RESPONSE).state == SlaState.BREACHED  # type: ignore[union-attr]
    assert (SlaTarget.RESOLUTION, 50) in due_at(12 * 60)
    answered = Facts(opened, opened + 24 * HOUR, first_response_at=opened + timedelta(minutes=20))
    after = evaluate_targets(answered, policy, opened + 2 * HOUR)
    assert after.target(SlaTarget.FIRST_RESPONSE).state == SlaState.MET  # type: ignore[union-attr]
    assert after.due_notices == ()


def test_operating_hours_friday_afternoon_before_a_holiday_weekend() -> None:
    # Friday 14 August 2026 15:30; Monday 17 August is Independence Day. The first hour of work is half
    # an hour on Friday and half an hour on Tuesday: warnings and breach fall on Tuesday morning.
    opened = datetime(2026, 8, 14, 15, 30, tzinfo=JKT)
    ticket = Facts(opened, opened, sla_counting=SlaCounting.OPERATING, sla_resolution_s=8 * 3600)
    policy = SlaPolicy(counting=SlaCounting.OPERATING, hours=PRAYER)
    friday_close = datetime(2026, 8, 14, 16, 0, tzinfo=JKT)
    assert evaluate_targets(ticket, policy, friday_close).due_notices == ((SlaTarget.FIRST_RESPONSE, 50),)
    report = evaluate_targets(ticket, policy, datetime(2026, 8, 17, 12, 0, tzinfo=JKT))  # the holiday
    assert report.due_notices == ((SlaTarget.FIRST_RESPONSE, 50),)
    assert report.next_check_at == datetime(2026, 8, 18, 8, 15, tzinfo=JKT)
    first = report.target(SlaTarget.FIRST_RESPONSE)
    assert first is not None
    assert first.due_at == datetime(2026, 8, 18, 8, 30, tzinfo=JKT)
    assert first.state == SlaState.ON_TRACK  # half the hour used
    tuesday = evaluate_targets(ticket, policy, datetime(2026, 8, 18, 8, 30, tzinfo=JKT))
    assert (SlaTarget.FIRST_RESPONSE, 100) in tuesday.due_notices
    # Eight working hours: Friday's half hour, Tuesday 08:00-15:30.
    assert tuesday.target(SlaTarget.RESOLUTION).due_at == datetime(2026, 8, 18, 15, 30, tzinfo=JKT)  # type: ignore[union-attr]


def test_a_paused_clock_announces_nothing_and_its_due_time_moves() -> None:
    opened = IN_HOURS
    paused = Facts(opened, opened, sla_paused_at=opened + timedelta(minutes=10))
    report = evaluate_targets(paused, SlaPolicy(), opened + 5 * HOUR)
    assert report.paused
    assert report.due_notices == ()
    assert report.next_check_at is None
    assert report.target(SlaTarget.FIRST_RESPONSE).elapsed == timedelta(minutes=10)  # type: ignore[union-attr]
    resumed = Facts(opened, opened, sla_paused_s=2 * 3600)  # paused two hours, now running again
    after = evaluate_targets(resumed, SlaPolicy(), opened + 2 * HOUR + timedelta(minutes=29))
    assert after.due_notices == ()
    assert after.target(SlaTarget.FIRST_RESPONSE).due_at == opened + 3 * HOUR  # type: ignore[union-attr]


# --- Against the database ---------------------------------------------------------------------------


async def handed_off(flow: FlowHarness) -> Ticket:
    await flow.send("halo")
    await flow.send("13521045")
    await flow.send("agen")
    return await Ticket.get()


async def kinds(ticket: Ticket) -> list[tuple[str, str, int]]:
    events = await TicketEvent.filter(ticket_id=ticket.id, kind__in=("sla_warning", "sla_breached")).order_by("id")
    return [(e.kind, e.data["target"], e.data["threshold"]) for e in events]


async def test_a_ticket_opens_with_its_targets_and_due_times(flow: FlowHarness) -> None:
    ticket = await handed_off(flow)
    assert ticket.sla_first_response_s == 3600
    assert ticket.sla_resolution_s == 24 * 3600
    assert ticket.first_response_due_at == flow.now + HOUR
    assert ticket.due_at == flow.now + 24 * HOUR
    assert ticket.sla_next_check_at == flow.now + timedelta(minutes=30)


async def test_notices_come_at_their_moments_each_once_and_live(flow: FlowHarness) -> None:
    ticket = await handed_off(flow)
    broker = Broker()
    heard = broker.subscribe()
    opened = ticket.opened_at
    for minutes in (29, 30, 30, 44, 46, 61, 61, 24 * 60 + 1, 24 * 60 + 2):
        await sla.sweep(now=opened + timedelta(minutes=minutes), publish=broker.publish)
    assert await kinds(ticket) == [
        ("sla_warning", "first_response", 50), ("sla_warning", "first_response", 75),
        ("sla_breached", "first_response", 100),  # 90 % passed while the sweep was not looking: silent
        ("sla_breached", "resolution", 100)]
    names = [heard.get_nowait().name for _ in range(heard.qsize())]
    assert names == ["sla.warning", "sla.warning", "sla.breach", "sla.breach"]
    assert await SlaNotice.filter(ticket_id=ticket.id).count() == 8  # every threshold claimed once
    assert (await Ticket.get(id=ticket.id)).sla_next_check_at is None


async def test_a_restart_across_the_deadline_announces_the_breach_only(flow: FlowHarness) -> None:
    ticket = await handed_off(flow)
    # Down from opening until two hours later: one breach notice for the first response, no stale warnings.
    assert await sla.sweep(now=ticket.opened_at + 2 * HOUR) == 1
    assert await kinds(ticket) == [("sla_breached", "first_response", 100)]


async def test_two_schedulers_racing_announce_each_notice_once(flow: FlowHarness) -> None:
    await handed_off(flow)
    for user in ("7", "8"):
        await flow.send("halo", user=user)
        await flow.send("agen", user=user)
    tickets = await Ticket.all()
    later = tickets[0].opened_at + timedelta(minutes=31)
    results = await asyncio.gather(*(sla.sweep(now=later) for _ in range(4)))
    assert sum(results) == len(tickets)
    for ticket in tickets:
        assert await kinds(ticket) == [("sla_warning", "first_response", 50)]


async def test_waiting_on_the_user_pauses_the_clock_when_the_policy_says_so(flow: FlowHarness) -> None:
    await save_policy(SlaPolicy(pause_when_waiting=True))
    ticket = await handed_off(flow)
    assert ticket.sla_pauses
    ana = await create_user(email="ana@cc.test", role=UserRole.AGENT, password="a-long-password", name="ana")
    await actions.take_ticket(ticket_id=ticket.id, agent=ana, now=flow.now)
    ticket = await Ticket.get(id=ticket.id)
    start = ticket.opened_at
    await actions.set_waiting(ticket=ticket, agent=ana, waiting=True, now=start + timedelta(minutes=10))
    ticket = await Ticket.get(id=ticket.id)
    assert ticket.status == TicketStatus.PENDING
    assert ticket.sla_next_check_at is None
    assert await sla.sweep(now=start + 5 * HOUR) == 0
    await actions.set_waiting(ticket=ticket, agent=ana, waiting=False, now=start + 3 * HOUR)
    ticket = await Ticket.get(id=ticket.id)
    assert ticket.sla_paused_s == 3 * 3600 - 600
    assert ticket.first_response_due_at == start + 4 * HOUR - timedelta(minutes=10)
    assert ticket.due_at == start + 27 * HOUR - timedelta(minutes=10)
    assert await sla.sweep(now=start + 3 * HOUR + timedelta(minutes=19)) == 0
    assert await sla.sweep(now=start + 3 * HOUR + timedelta(minutes=21)) == 1


async def test_a_category_with_its_own_target_retargets_the_ticket(flow: FlowHarness) -> None:
    await save_policy(SlaPolicy(rules=(Rule("akun-login", None, resolution=4 * HOUR),)))
    ticket = await handed_off(flow)
    ana = await create_user(email="ana@cc.test", role=UserRole.AGENT, password="a-long-password", name="ana")
    await actions.take_ticket(ticket_id=ticket.id, agent=ana, now=flow.now)
    ticket = await Ticket.get(id=ticket.id)
    other = await Category.filter(active=True).exclude(slug="akun-login").order_by("id").first()
    assert other is not None
    await actions.categorize(ticket=ticket, category=other, agent=ana, now=flow.now)
    await actions.categorize(ticket=ticket, category=await Category.get(slug="akun-login"), agent=ana,
                             now=flow.now + HOUR)
    ticket = await Ticket.get(id=ticket.id)
    assert ticket.sla_resolution_s == 4 * 3600
    assert ticket.due_at == ticket.opened_at + 4 * HOUR


async def test_a_policy_naming_an_unknown_category_is_refused(flow: FlowHarness) -> None:
    with pytest.raises(PolicyError) as caught:
        await save_policy(SlaPolicy(rules=(Rule("no-such-thing", None, resolution=HOUR),)))
    assert caught.value.errors == {"rule_0_category": "error_sla_category"}
