"""/api/v1 judges a ticket's SLA against the ticket's own target: the one a supervisor set when it opened."""

from __future__ import annotations

from datetime import UTC, timedelta

from handoff.api import ticket_json
from handoff.operations import defaults_from, save_operations
from handoff.sla import SlaPolicy, save_policy
from models import SlaCounting, Ticket
from tests.conftest import FlowHarness
from tests.handoff.test_actions import handed_off


async def test_at_risk_is_the_last_quarter_of_the_target_the_supervisor_set(flow: FlowHarness) -> None:
    # The supervisor's setting in the console: four hours, not the 24-hour default.
    await save_operations(operations=defaults_from(hours=flow.deps.hours, sla=timedelta(hours=4)))
    ticket = await handed_off(flow)
    assert ticket.due_at - ticket.opened_at == timedelta(hours=4)

    early = await ticket_json(ticket, now=ticket.opened_at + timedelta(hours=1))
    late = await ticket_json(ticket, now=ticket.opened_at + timedelta(hours=3, minutes=1))
    past = await ticket_json(ticket, now=ticket.due_at + timedelta(minutes=1))

    # Three hours left of four is on track (against a 24-hour target it would already be "at risk").
    resolution_clock = {k: early["sla"][k] for k in ("state", "remaining_seconds", "target_seconds")}
    assert resolution_clock == {"state": "on_track", "remaining_seconds": 3 * 3600, "target_seconds": 4 * 3600}
    assert (late["sla"]["state"], past["sla"]["state"]) == ("at_risk", "breached")
    assert early["due_at"] == past["due_at"] == ticket.due_at.astimezone(UTC).isoformat()


async def test_the_ticket_shows_each_target_its_counting_and_the_pause(flow: FlowHarness) -> None:
    await save_policy(SlaPolicy(counting=SlaCounting.OPERATING, pause_when_waiting=True))
    ticket = await handed_off(flow)  # Tuesday 10:00 WIB, in hours
    shown = await ticket_json(ticket, now=ticket.opened_at + timedelta(minutes=45))
    assert shown["first_response_due_at"] == (ticket.opened_at + timedelta(hours=1)).astimezone(UTC).isoformat()
    sla = shown["sla"]
    assert (sla["counting"], sla["paused"], sla["pauses_while_waiting"]) == ("operating", False, True)
    assert sla["targets"]["first_response"] == {
        "target_seconds": 3600, "due_at": shown["first_response_due_at"], "state": "at_risk", "elapsed_seconds": 2700}
    # 24 operating hours from Tuesday 10:00 (08:00-16:00 weekdays): Friday 10:00 WIB, 03:00 UTC.
    assert sla["targets"]["resolution"]["due_at"] == "2026-11-27T03:00:00+00:00"
    assert shown["due_at"] == sla["targets"]["resolution"]["due_at"]


async def test_the_tickets_own_address_is_reachable_even_when_only_claimed(flow: FlowHarness) -> None:
    # The person typed a NIM (a claim, never proven) and asked for a person: a reply on the ticket goes back
    # where they wrote, so the API lists that channel even though the address is not proven.
    await flow.send("halo", user="77")
    await flow.send("13521045", user="77")
    await flow.send("agen", user="77")
    ticket = await Ticket.filter(conversation__identity__external_id="77").get()
    shown = await ticket_json(ticket, now=ticket.opened_at)
    assert (shown["reachable_on"], shown["unreachable_on"]) == ([ticket.channel.value], [])
