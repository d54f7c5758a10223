"""/api/v1 judges a ticket's SLA against the ticket's own target: the one a supervisor set when it opened."""

from __future__ import annotations

from datetime import UTC, timedelta

from handoff.api import ticket_json
from handoff.operations import defaults_from, save_operations
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
    assert early["sla"] == {"state": "on_track", "remaining_seconds": 3 * 3600, "target_seconds": 4 * 3600}
    assert (late["sla"]["state"], past["sla"]["state"]) == ("at_risk", "breached")
    assert early["due_at"] == past["due_at"] == ticket.due_at.astimezone(UTC).isoformat()
