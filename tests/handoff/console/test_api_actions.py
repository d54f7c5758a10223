"""Ticket actions over /api/v1: the console's rules, for integrations holding a bearer token."""

from __future__ import annotations

import aiohttp

from handoff.auth import create_api_token
from models import SenderKind, Ticket, TicketStatus, UserRole
from tests.handoff.console.conftest import Served


async def call(served: Served, token: str, path: str, body: dict[str, object] | None = None) -> tuple[int, dict]:
    async with aiohttp.ClientSession() as http, http.post(
        f"{served.url}/api/v1{path}", json=body or {}, headers={"Authorization": f"Bearer {token}"}
    ) as response:
        return response.status, await response.json()


async def test_take_reply_note_categorize_close_over_the_api(served: Served) -> None:
    ticket = await served.hand_off()
    _, token = await create_api_token(name="crm", role=UserRole.AGENT, user=served.agent)
    status, body = await call(served, token, f"/tickets/{ticket.id}/take")
    assert (status, body["assignee"]["email"]) == (200, "ana@cc.test")

    before = len(served.channel.sent)
    status, body = await call(served, token, f"/tickets/{ticket.id}/reply", {"text": "Dari integrasi"})
    assert status == 201
    assert [(m.text, m.sender_kind) for m in served.channel.sent[before:]] == [("Dari integrasi", SenderKind.AGENT)]

    status, _ = await call(served, token, f"/tickets/{ticket.id}/note", {"text": "rahasia"})
    assert status == 201
    assert "rahasia" not in [m.text for m in served.channel.sent]

    status, body = await call(served, token, f"/tickets/{ticket.id}/close")
    assert (status, body["error"]) == (409, "category_unconfirmed")
    status, body = await call(served, token, f"/tickets/{ticket.id}/categorize", {"category": "akun-login"})
    assert (status, body["category"]) == (200, "akun-login")
    assert body["category_confirmation"]["agreed_with_prediction"] is None  # the bot made no guess
    status, body = await call(served, token, f"/tickets/{ticket.id}/close")
    assert (status, body["status"]) == (200, "resolved")


async def test_the_api_refuses_to_close_on_the_bots_unconfirmed_guess(served: Served) -> None:
    ticket = await served.hand_off(question="lupa password")  # the bot guesses reset-password, not helpful
    _, token = await create_api_token(name="crm", role=UserRole.AGENT, user=served.agent)
    status, body = await call(served, token, f"/tickets/{ticket.id}/take")
    assert (status, body["category"], body["category_confirmation"]) == (200, "reset-password", None)

    status, body = await call(served, token, f"/tickets/{ticket.id}/close")
    assert (status, body) == (409, {"error": "category_unconfirmed", "detail": (
        "Confirm or change the ticket's category before closing it: the bot's guess counts only once an agent "
        "confirms it.")})
    assert (await Ticket.get(id=ticket.id)).status == TicketStatus.OPEN

    # Confirming is giving the guess back; the ticket records who, when and that it was the guess.
    status, body = await call(served, token, f"/tickets/{ticket.id}/categorize", {"category": "reset-password"})
    assert status == 200
    confirmation = body["category_confirmation"]
    assert (confirmation["confirmed_by"], confirmation["agreed_with_prediction"]) == (served.agent.id, True)
    status, body = await call(served, token, f"/tickets/{ticket.id}/close")
    assert (status, body["status"]) == (200, "resolved")


async def test_the_api_enforces_ownership_and_tells_who_took_it(served: Served) -> None:
    ticket = await served.hand_off()
    _, ana = await create_api_token(name="ana", role=UserRole.AGENT, user=served.agent)
    _, bayu = await create_api_token(name="bayu", role=UserRole.AGENT, user=served.other)
    _, reader = await create_api_token(name="reports", role=UserRole.SUPERVISOR)
    assert (await call(served, ana, f"/tickets/{ticket.id}/take"))[0] == 200
    status, body = await call(served, bayu, f"/tickets/{ticket.id}/take")
    assert (status, body["error"], body["owner"]["email"]) == (409, "already_taken", "ana@cc.test")
    status, body = await call(served, bayu, f"/tickets/{ticket.id}/reply", {"text": "x"})
    assert (status, body["error"]) == (403, "forbidden")
    status, body = await call(served, reader, f"/tickets/{ticket.id}/escalate", {"summary": "x"})
    assert status == 403  # a token without a user only reads
    assert (await Ticket.get(id=ticket.id)).status == TicketStatus.OPEN


async def test_actions_are_in_the_openapi_document(served: Served) -> None:
    async with aiohttp.ClientSession() as http, http.get(f"{served.url}/api/v1/openapi.json") as response:
        document = await response.json()
    for name in ("take", "assign", "reply", "note", "categorize", "escalate", "close"):
        assert "post" in document["paths"][f"/tickets/{{id}}/{name}"]
    assert "category_unconfirmed" in document["paths"]["/tickets/{id}/close"]["post"]["responses"]["409"]["description"]
    assert "category_confirmation" in document["components"]["schemas"]["Ticket"]["properties"]
