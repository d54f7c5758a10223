"""API tokens in the console: create (shown once), list, revoke; who may see which; and what deactivating or
demoting a user does to their tokens, checked through the real /api/v1."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp

from handoff.auth import create_api_token, create_user
from models import ApiToken, AuditLog, UserRole
from tests.handoff.console.conftest import PASSWORD, Console, Served

SECRET = re.compile(r'<code id="token-secret">(cc_[^<]+)</code>')


async def api(served: Served, raw: str, path: str = "/api/v1/tickets", *,
              json: dict[str, Any] | None = None) -> tuple[int, dict[str, Any]]:
    async with aiohttp.ClientSession() as http:
        method = http.post if json is not None else http.get
        async with method(f"{served.url}{path}", json=json, headers={"Authorization": f"Bearer {raw}"}) as response:
            return response.status, await response.json()


async def test_a_token_made_in_the_console_is_shown_once_works_and_is_revoked_there(
    served: Served, console: Console,
) -> None:
    await console.login("ana@cc.test")
    created = await console.post("/console/tokens", {"name": "crm export", "expires": "30d"})
    assert created.status == 200
    found = SECRET.search(await created.text())
    assert found is not None
    raw = found.group(1)
    assert raw not in await (await console.get("/console/tokens")).text()
    assert (await api(served, raw))[0] == 200
    token = await ApiToken.get(name="crm export")
    assert token.user_id == served.agent.id  # type: ignore[attr-defined]
    assert token.expires_at is not None

    revoked = await console.post(f"/console/tokens/{token.id}/revoke", {})
    assert (revoked.status, revoked.headers["Location"]) == (303, "/console/tokens?notice=notice_token_revoked")
    status, body = await api(served, raw)
    assert (status, body["reason"]) == (401, "revoked")
    audit = await AuditLog.filter(action__startswith="token.").order_by("id").values_list("action", "actor_id")
    assert audit == [("token.create", served.agent.id), ("token.revoke", served.agent.id)]


async def test_revoking_needs_the_csrf_token(served: Served, console: Console) -> None:
    token, raw = await create_api_token(name="crm", role=UserRole.AGENT, user=served.agent)
    await console.login("ana@cc.test")
    forged = await console.post(f"/console/tokens/{token.id}/revoke", {}, csrf="forged")
    assert forged.status == 403
    assert (await api(served, raw))[0] == 200


async def test_agents_see_and_revoke_only_their_own_tokens_and_a_supervisor_any(
    served: Served, console: Console,
) -> None:
    bayus, bayus_raw = await create_api_token(name="bayu-script", role=UserRole.AGENT, user=served.other)
    await create_api_token(name="read-only-report", role=UserRole.AGENT)
    await console.login("ana@cc.test")
    page = await (await console.get("/console/tokens")).text()
    assert "bayu-script" not in page
    assert "read-only-report" not in page
    # Someone else's token answers like a missing one.
    assert (await console.post(f"/console/tokens/{bayus.id}/revoke", {})).status == 404
    assert (await console.post("/console/tokens/999999/revoke", {})).status == 404
    assert (await api(served, bayus_raw))[0] == 200

    supervisor = Console(served.url)
    try:
        await supervisor.login("sari@cc.test")
        page = await (await supervisor.get("/console/tokens")).text()
        assert "bayu-script" in page
        assert "read-only-report" in page
        assert (await supervisor.post(f"/console/tokens/{bayus.id}/revoke", {})).status == 303
    finally:
        await supervisor.close()
    assert (await api(served, bayus_raw))[1]["reason"] == "revoked"


async def test_deactivating_a_user_in_the_console_stops_their_tokens_at_once(served: Served, console: Console) -> None:
    _, raw = await create_api_token(name="bayu-script", role=UserRole.AGENT, user=served.other)
    assert (await api(served, raw))[0] == 200
    await console.login("sari@cc.test")
    saved = await console.post(f"/console/admin/users/{served.other.id}", {"role": "agent", "capacity": "10"})
    assert saved.status == 303
    status, body = await api(served, raw)
    assert status == 401
    assert body["reason"] == "user_inactive"
    page = await (await console.get("/console/tokens")).text()
    assert "pemilik dinonaktifkan" in page  # "owner deactivated"


async def test_a_demoted_supervisors_token_loses_supervisor_powers(served: Served, console: Console) -> None:
    ticket = await served.hand_off()
    await console.login("ana@cc.test")
    await console.post(f"/console/t/{ticket.id}/take", {})
    _, raw = await create_api_token(name="sari-tool", role=UserRole.SUPERVISOR, user=served.supervisor)
    # A supervisor assigns anyone's ticket.
    assert (await api(served, raw, f"/api/v1/tickets/{ticket.id}/assign", json={"user_id": served.other.id}))[0] == 200
    await create_user(email="boss@cc.test", role=UserRole.SUPERVISOR, password=PASSWORD)
    boss = Console(served.url)
    try:
        await boss.login("boss@cc.test")
        demoted = await boss.post(f"/console/admin/users/{served.supervisor.id}",
                                  {"role": "agent", "active": "1", "capacity": "10"})
        assert demoted.status == 303
    finally:
        await boss.close()
    # Now an agent who does not own the ticket: the same token may no longer move it.
    status, body = await api(served, raw, f"/api/v1/tickets/{ticket.id}/assign", json={"user_id": served.agent.id})
    assert (status, body["error"]) == (403, "forbidden")


async def test_an_expiry_in_the_past_is_refused_and_nothing_is_made(served: Served, console: Console) -> None:
    await console.login("ana@cc.test")
    refused = await console.post("/console/tokens", {"name": "late", "expires": "30d", "expires_on": "2020-01-31"})
    assert refused.status == 400
    assert "harus di masa depan" in await refused.text()
    assert not await ApiToken.exists(name="late")
    next_year = (datetime.now(UTC) + timedelta(days=365)).date()
    dated = await console.post("/console/tokens", {"name": "dated", "expires": "never",
                                                   "expires_on": next_year.isoformat()})
    assert dated.status == 200
    expires_at = (await ApiToken.get(name="dated")).expires_at
    assert expires_at is not None
    assert expires_at.astimezone(ZoneInfo("Asia/Jakarta")).date() == next_year + timedelta(days=1)
