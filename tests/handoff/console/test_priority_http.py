"""The ticket's priority from the console's ticket page and from /api/v1 (SQLite and PostgreSQL): the owner or
a supervisor changes it, the change is audited and on the ticket's story, and the SLA targets follow the
policy's rule for the new priority (handoff.actions.set_priority, the one service both call)."""

from __future__ import annotations

from datetime import timedelta

import aiohttp

from handoff import sla
from handoff.auth import create_api_token
from models import AuditLog, Priority, Ticket, TicketEvent, UserRole
from tests.handoff.console.conftest import Console, Served
from tests.handoff.console.test_admin_http import site, web

__all__ = ["site", "web"]

URGENT = sla.Rule(category=None, priority=Priority.URGENT, first_response=timedelta(minutes=5),
                  resolution=timedelta(minutes=120))


async def test_the_owner_sets_the_priority_and_the_sla_follows(site: Served, web: Console) -> None:
    await sla.save_policy(sla.SlaPolicy(rules=(URGENT,)))
    ticket = await site.hand_off()
    assert ticket.priority == Priority.NORMAL
    await web.login("ana@cc.test")
    assert (await web.post(f"/console/t/{ticket.id}/take", {})).status == 303
    page = await (await web.get(f"/console/t/{ticket.id}")).text()
    assert f'action="/console/t/{ticket.id}/priority"' in page
    assert '<option value="normal" selected>Normal</option>' in page
    assert '<option value="urgent" >Mendesak</option>' in page

    response = await web.post(f"/console/t/{ticket.id}/priority", {"priority": "urgent"})
    assert (response.status, response.headers["Location"]) == (
        303, f"/console/t/{ticket.id}?notice=notice_priority")
    changed = await Ticket.get(id=ticket.id)
    assert changed.priority == Priority.URGENT
    assert (changed.sla_first_response_s, changed.sla_resolution_s) == (300, 7200)
    assert changed.due_at == changed.opened_at + timedelta(minutes=120)  # re-targeted, calendar counting
    assert changed.first_response_due_at == changed.opened_at + timedelta(minutes=5)
    event = await TicketEvent.get(ticket_id=ticket.id, kind="priority")
    assert (event.actor_id, event.data) == (site.agent.id, {"from": "normal", "to": "urgent"})
    entry = await AuditLog.get(action="ticket.priority")
    assert (entry.actor_id, entry.data) == (site.agent.id, {"from": "normal", "to": "urgent"})
    shown = await (await web.get(f"/console/t/{ticket.id}?notice=notice_priority")).text()
    assert "Prioritas diubah" in shown
    assert '<option value="urgent" selected>Mendesak</option>' in shown


async def test_bad_priority_forged_csrf_and_strangers_change_nothing(site: Served, web: Console) -> None:
    ticket = await site.hand_off()
    await web.login("ana@cc.test")
    await web.post(f"/console/t/{ticket.id}/take", {})
    for bad in ("", "panic", "URGENT", "x" * 5000):
        response = await web.post(f"/console/t/{ticket.id}/priority", {"priority": bad})
        assert (response.status, response.headers["Location"]) == (
            303, f"/console/t/{ticket.id}?notice=error_sla_priority")
    assert (await web.post(f"/console/t/{ticket.id}/priority", {"priority": "high"}, csrf="forged")).status == 403
    other = Console(site.url)
    try:
        await other.login("bayu@cc.test")  # not the owner, not a supervisor
        assert (await other.post(f"/console/t/{ticket.id}/priority", {"priority": "high"})).status == 403
    finally:
        await other.close()
    assert (await Ticket.get(id=ticket.id)).priority == Priority.NORMAL
    assert not await TicketEvent.filter(kind="priority").exists()
    assert not await AuditLog.filter(action="ticket.priority").exists()

    supervisor = Console(site.url)
    try:
        await supervisor.login("sari@cc.test")  # a supervisor acts on any ticket
        assert (await supervisor.post(f"/console/t/{ticket.id}/priority", {"priority": "high"})).status == 303
    finally:
        await supervisor.close()
    assert (await Ticket.get(id=ticket.id)).priority == Priority.HIGH


async def call(site: Served, token: str, path: str, body: object) -> tuple[int, dict[str, object]]:
    async with aiohttp.ClientSession() as http, http.post(
        f"{site.url}/api/v1{path}", json=body, headers={"Authorization": f"Bearer {token}"}
    ) as response:
        return response.status, await response.json()


async def test_the_api_sets_the_priority_with_clear_errors(site: Served) -> None:
    await sla.save_policy(sla.SlaPolicy(rules=(URGENT,)))
    ticket = await site.hand_off()
    _, ana = await create_api_token(name="crm", role=UserRole.AGENT, user=site.agent)
    _, bayu = await create_api_token(name="other", role=UserRole.AGENT, user=site.other)
    path = f"/tickets/{ticket.id}/priority"
    assert (await call(site, ana, f"/tickets/{ticket.id}/take", {}))[0] == 200
    for bad in ({}, {"priority": "panic"}, {"priority": 3}, {"priority": ["urgent"]}, {"priority": None}):
        status, body = await call(site, ana, path, bad)
        assert (status, body) == (400, {"error": "sla_priority", "detail": "Unknown priority."}), bad
    assert (await call(site, ana, path, ["urgent"]))[0] == 400  # not a JSON object
    status, body = await call(site, bayu, path, {"priority": "urgent"})
    assert (status, body["error"]) == (403, "forbidden")
    assert (await call(site, ana, "/tickets/999999/priority", {"priority": "urgent"}))[0] == 404

    status, body = await call(site, ana, path, {"priority": "urgent"})
    assert (status, body["priority"]) == (200, "urgent")
    targets = body["sla"]["targets"]  # type: ignore[index]
    assert (targets["first_response"]["target_seconds"], targets["resolution"]["target_seconds"]) == (300, 7200)
    changed = await Ticket.get(id=ticket.id)
    assert changed.due_at == changed.opened_at + timedelta(minutes=120)
    assert await AuditLog.filter(action="ticket.priority", actor_id=site.agent.id).count() == 1

    async with aiohttp.ClientSession() as http, http.get(f"{site.url}/api/v1/openapi.json") as response:
        document = await response.json()
    operation = document["paths"]["/tickets/{id}/priority"]["post"]
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    assert schema["properties"]["priority"]["enum"] == ["low", "normal", "high", "urgent"]
    assert schema["required"] == ["priority"]
