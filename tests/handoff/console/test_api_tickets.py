"""GET /api/v1/tickets is the supervisor ticket page's search over HTTP, on SQLite and PostgreSQL: the same
filters and search read by the same parser, cursor pages, teams narrowing what a token sees, bad filters
as the API's 400 problem, and every parameter in the OpenAPI document."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from handoff.auth import create_api_token
from handoff.ticket_search import PARAMETERS
from models import Team, Ticket, UserRole
from tests.handoff.console.admin_support import serve
from tests.handoff.console.conftest import Served
from tests.handoff.reports_data import build_supervisor_month

NOVEMBER = "since=2026-11-01&until=2026-12-01"


@pytest.fixture
async def site(db_url: str, tmp_path: Path) -> AsyncIterator[Served]:
    async with serve(tmp_path, database_url=db_url) as served:
        yield served


async def get(site: Served, token: str, query: str) -> tuple[int, dict[str, Any]]:
    async with aiohttp.ClientSession() as http, http.get(
        f"{site.url}/api/v1/tickets?{query}", headers={"Authorization": f"Bearer {token}"}
    ) as response:
        return response.status, await response.json()


async def numbers(site: Served, token: str, query: str) -> list[str]:
    status, body = await get(site, token, query)
    assert status == 200, body
    return [item["number"] for item in body["items"]]


async def test_the_pages_filters_and_search_over_the_api(site: Served) -> None:
    t = await build_supervisor_month()
    n = {k: str(v.number) for k, v in t.items()}
    _, token = await create_api_token(name="bi", role=UserRole.SUPERVISOR)
    # Newest opened first, November only, as on the page (tests/handoff/test_ticket_search.py).
    assert await numbers(site, token, NOVEMBER) == [n[k] for k in ("T5", "U", "E", "T4", "R3", "T6", "T3", "R2",
                                                                    "R1", "T2", "T1")]
    assert await numbers(site, token, f"{NOVEMBER}&q=13521099") == [n["R3"], n["R2"], n["R1"]]
    assert await numbers(site, token, f"{NOVEMBER}&q=13521099&exception=reopened") == [n["R1"]]
    assert await numbers(site, token, f"{NOVEMBER}&q=tugas_AKHIR") == [n["R2"]]
    assert await numbers(site, token, f"{NOVEMBER}&status=resolved&confirmed=no") == [n["T6"], n["T1"]]
    assert await numbers(site, token, f"{NOVEMBER}&agent=none") == [n["U"], n["T6"]]
    assert await numbers(site, token, f"{NOVEMBER}&sla=missed") == [n["T2"]]
    assert await numbers(site, token, f"{NOVEMBER}&channel=whatsapp&rating=5") == [n["T1"]]
    status, body = await get(site, token, f"{NOVEMBER}&category=none")
    assert (status, [i["number"] for i in body["items"]], body["total"], body["total_capped"]) == (
        200, [n["T5"], n["U"], n["T6"]], 3, False)
    # since= as a moment (what the API always took): the tickets opened from it on.
    moment = "2026-11-30T19:00:00%2B07:00"
    assert await numbers(site, token, f"since={moment}&until=2026-12-01") == [n["T5"], n["U"]]


async def test_cursor_pages_walk_every_ticket_once(site: Served) -> None:
    await build_supervisor_month()
    _, token = await create_api_token(name="bi", role=UserRole.SUPERVISOR)
    everything = await numbers(site, token, NOVEMBER)
    seen: list[str] = []
    query = f"{NOVEMBER}&limit=4"
    while True:
        status, body = await get(site, token, query)
        assert (status, body["total"], body["limit"]) == (200, len(everything), 4)
        seen += [item["number"] for item in body["items"]]
        if body["next_before"] is None:
            break
        query = f"{NOVEMBER}&limit=4&before={body['next_before']}"
    assert seen == everything


async def test_a_token_sees_what_its_user_sees(site: Served) -> None:
    t = await build_supervisor_month()
    team = await Team.create(name="Akademik")
    await Ticket.filter(id=t["T2"].id).update(team_id=team.id)
    _, agent = await create_api_token(name="ana", role=UserRole.AGENT, user=site.agent)
    _, supervisor = await create_api_token(name="bi", role=UserRole.SUPERVISOR)
    assert t["T2"].number not in await numbers(site, agent, NOVEMBER)  # another team's ticket
    assert len(await numbers(site, agent, NOVEMBER)) == 10
    assert t["T2"].number in await numbers(site, supervisor, NOVEMBER)


@pytest.mark.parametrize(("query", "detail"), [
    ("rating=9", "The rating must be a number from 1 to 5."),
    ("status=closed", "status must be one of: open, pending, escalated, resolved."),
    ("since=yesterday", "since must be a date YYYY-MM-DD or a moment such as 2026-11-01T08:00:00+07:00."),
    ("since=2024-01-01", "A period is at most 366 days."),
    ("limit=201", "The page size must be 1 to 200."),
    ("agent=%27%20OR%201%3D1", 'agent must be a valid number or "none".'),
    ("offset=50", "unknown query parameter(s): offset"),
    ("status=", "empty query parameter(s): status"),
])
async def test_bad_filters_are_a_400_problem(site: Served, query: str, detail: str) -> None:
    _, token = await create_api_token(name="bi", role=UserRole.SUPERVISOR)
    assert await get(site, token, query) == (400, {"error": "bad_request", "detail": detail})


async def test_every_parameter_is_in_the_document(site: Served) -> None:
    async with aiohttp.ClientSession() as http, http.get(f"{site.url}/api/v1/openapi.json") as response:
        document = await response.json()
    operation = document["paths"]["/tickets"]["get"]
    assert {p["name"] for p in operation["parameters"]} == PARAMETERS
    assert {"200", "400", "401"} <= set(operation["responses"])
