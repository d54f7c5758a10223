"""Issue 13 over /api/v1 (SQLite, and PostgreSQL where one answers): each address's proof level on the ticket
and conversation resources, a reply's target checked, the directory look-up and the agent's identity decisions
with their refusals in the API's problem shape."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.config import Settings
from handoff import actions
from handoff.auth import create_api_token
from handoff.contacts import prove
from models import AuditLog, ChannelIdentity, ChannelKind, ProofMethod, Ticket, TicketEvent, UserRole
from tests.handoff.console.conftest import Served, serve_console
from tests.handoff.people import BUDI

NOW = datetime(2026, 12, 5, 3, 0, tzinfo=UTC)


@pytest.fixture
async def site(db_url: str, tmp_path: Path) -> AsyncIterator[Served]:
    async with serve_console(tmp_path, Settings(data_dir=tmp_path, database_url=db_url)) as served:
        yield served


async def call(site: Served, token: str, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as http, http.request(
        method, f"{site.url}/api/v1{path}", json=body, headers={"Authorization": f"Bearer {token}"}
    ) as response:
        return response.status, await response.json()


async def address(external_id: str) -> ChannelIdentity:
    return await ChannelIdentity.get(channel=ChannelKind.TELEGRAM, external_id=external_id)


async def test_the_resources_show_each_addresses_level_and_a_reply_target_is_checked(site: Served) -> None:
    ticket = await site.hand_off(user="777")
    budi = await address("777")
    await prove(identity=budi, person=BUDI, method=ProofMethod.CODE, now=NOW)
    await site.say("halo", user="888")  # a stranger types Budi's number in another chat
    await site.say("13521045", user="888")
    stranger = await address("888")
    await actions.take_ticket(ticket_id=ticket.id, agent=site.agent, now=NOW)
    _, token = await create_api_token(name="crm", role=UserRole.AGENT, user=site.agent)

    status, body = await call(site, token, "GET", f"/tickets/{ticket.id}")
    assert status == 200
    mine = next(a for a in body["addresses"] if a["id"] == budi.id)
    assert (mine["channel"], mine["proof"], mine["proof_method"], mine["claimed_number"]) == (
        "telegram", "proven", "code", "13521045")
    assert all(a["proof"] != "proven" for a in body["addresses"] if a["id"] == stranger.id)
    status, body = await call(site, token, "GET", f"/conversations/{ticket.conversation_id}/messages")  # type: ignore[attr-defined]
    assert (status, body["address"]["id"], body["address"]["proof"]) == (200, budi.id, "proven")

    before = len(site.channel.sent)
    for to in (stranger.id, "abc", 10**6):
        status, body = await call(site, token, "POST", f"/tickets/{ticket.id}/reply", {"text": "Nilai A", "to": to})
        assert (status, body["error"]) == (400, "reply_target")
    assert len(site.channel.sent) == before
    status, _ = await call(site, token, "POST", f"/tickets/{ticket.id}/reply", {"text": "Nilai A", "to": budi.id})
    assert status == 201
    assert [m.recipient for m in site.channel.sent[before:]] == ["777"]


async def test_directory_lookup_and_identity_decisions_over_the_api(site: Served) -> None:
    ticket = await site.hand_off(user="999", verify=False)
    own = await address("999")
    await site.say("halo", user="555")
    other = await address("555")
    await actions.take_ticket(ticket_id=ticket.id, agent=site.agent, now=NOW)
    _, token = await create_api_token(name="crm", role=UserRole.AGENT, user=site.agent)
    _, bayu = await create_api_token(name="bayu", role=UserRole.AGENT, user=site.other)
    _, reader = await create_api_token(name="reader", role=UserRole.AGENT)

    status, body = await call(site, token, "GET", "/directory?q=Siti")
    assert (status, [(e["id_number"], e["status"]) for e in body["items"]], body["more"]) == (
        200, [("16522101", "active")], False)
    assert (await call(site, token, "GET", "/directory?q=ab"))[1]["error"] == "query_too_short"
    assert (await call(site, reader, "GET", "/directory?q=Siti"))[0] == 403

    path = f"/tickets/{ticket.id}/identity/prove"
    refusals = [
        ({"id_number": "16522101"}, "reason_required"),
        ({"id_number": "16522101", "reason": 5}, "reason_required"),
        ({"id_number": 16522101, "reason": "checked"}, "unknown_number"),
        ({"id_number": "99999999", "reason": "checked"}, "unknown_number"),
        ({"id_number": "16522101", "reason": "checked", "identity_id": other.id}, "not_this_contact"),
        ({"id_number": "16522101", "reason": "checked", "identity_id": "x"}, "not_this_contact"),
        ({"reason": "checked"}, "no_claim"),  # the address claims nothing: the agent must name the person
        ({"reason": "checked", "identity_id": own.id}, "no_claim"),
    ]
    for body_sent, error in refusals:
        status, body = await call(site, token, "POST", path, body_sent)
        assert (status, body["error"]) == (400, error), body_sent
        assert body["detail"]
    status, _ = await call(site, bayu, "POST", path, {"id_number": "16522101", "reason": "checked"})
    assert status == 403
    assert not await AuditLog.filter(action="identity.prove").exists()

    status, body = await call(site, token, "POST", path, {"id_number": "16522101", "reason": "video call, KTM"})
    assert status == 200
    mine = next(a for a in body["addresses"] if a["id"] == own.id)
    assert (mine["proof"], mine["proof_method"]) == ("proven", "agent")
    assert (body["contact"]["id_number"], body["unverified"]) == ("16522101", False)
    assert (await AuditLog.get(action="identity.prove")).data["reason"] == "video call, KTM"

    status, body = await call(site, token, "POST", f"/tickets/{ticket.id}/identity/revoke", {"reason": "mistake"})
    assert status == 200
    assert next(a for a in body["addresses"] if a["id"] == own.id)["proof"] == "claimed"
    assert [e.kind for e in await TicketEvent.filter(ticket_id=ticket.id, kind__startswith="identity_")
            .order_by("id")] == ["identity_proven", "identity_revoked"]
    status, body = await call(site, token, "POST", f"/tickets/{ticket.id}/identity/revoke", {"reason": "again"})
    assert (status, body["error"]) == (400, "not_proven")
    assert (await Ticket.get(id=ticket.id)).unverified
