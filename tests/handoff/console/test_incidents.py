"""Incidents, escalation e-mail and survey comments through the console pages and /api/v1, on SQLite and
PostgreSQL (the whole app, a Telegram user on the in-memory channel, SMTP to aiosmtpd)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from bot.app import create_app
from bot.channels.memory import MemoryChannel
from bot.config import Settings
from bot.demo import DEMO_DIRECTORY
from bot.directory import DatabaseDirectory, import_records
from bot.i18n import catalog
from handoff.auth import create_api_token, create_user
from handoff.survey import record_comment
from models import ChannelKind, Incident, IncidentStatus, Ticket, TicketStatus, UserRole
from tests.conftest import ScriptedClassifier
from tests.fakes.mail import SmtpSink, smtp_sink
from tests.handoff.console.conftest import PASSWORD, Console, Served

__all__ = ["smtp_sink"]

FIX = "Server SSO sudah diperbaiki; silakan masuk lagi."


@pytest.fixture
async def site(db_url: str, tmp_path: Path, smtp_sink: SmtpSink) -> AsyncIterator[Served]:
    channel = MemoryChannel(kind=ChannelKind.TELEGRAM)
    settings = Settings(data_dir=tmp_path, database_url=db_url, escalation_email_to=("dev@edunex.test",),
                        smtp={"host": "127.0.0.1", "port": str(smtp_sink.port), "from": "care@cc.test",
                              "security": "none"})
    app = create_app(settings, channels=[channel], classifier=ScriptedClassifier(), directory=DatabaseDirectory(),
                     scheduler=False)
    runner = web.AppRunner(app)
    await runner.setup()
    tcp = web.TCPSite(runner, "127.0.0.1", 0)
    await tcp.start()
    await import_records(DEMO_DIRECTORY)
    users = [
        await create_user(email=email, role=role, password=PASSWORD, name=name)
        for email, role, name in (("ana@cc.test", UserRole.AGENT, "Ana Agen"),
                                  ("bayu@cc.test", UserRole.AGENT, "Bayu Agen"),
                                  ("sari@cc.test", UserRole.SUPERVISOR, "Sari Supervisor"))
    ]
    try:
        yield Served(app, f"http://127.0.0.1:{runner.addresses[0][1]}", channel, *users, tmp=tmp_path)
    finally:
        await runner.cleanup()


async def signed_in(site: Served, email: str) -> Console:
    console = Console(site.url)
    await console.login(email)
    return console


async def taken(site: Served, console: Console, *, user: str, nim: str) -> Ticket:
    ticket = await site.hand_off(user=user, nim=nim)
    assert (await console.post(f"/console/t/{ticket.id}/take", {})).status == 303
    assert (await console.post(f"/console/t/{ticket.id}/categorize", {"category": "bug-sistem"})).status == 303
    return ticket


async def test_escalate_into_a_new_then_an_existing_incident_and_broadcast_the_fix(
    site: Served, smtp_sink: SmtpSink
) -> None:
    ana = await signed_in(site, "ana@cc.test")
    try:
        first = await taken(site, ana, user="801", nim="13521045")
        refused = await ana.post(f"/console/t/{first.id}/escalate", {"summary": "SSO", "incident": "new"})
        assert refused.headers["Location"].endswith("notice=error_incident_title_required")
        assert (await Ticket.get(id=first.id)).status == TicketStatus.OPEN  # nothing half-done

        done = await ana.post(f"/console/t/{first.id}/escalate",
                              {"summary": "SSO mati", "incident": "new", "incident_title": "SSO tidak bisa dipakai"})
        assert done.headers["Location"].endswith("notice=notice_escalated")
        incident = await Incident.get()
        second = await taken(site, ana, user="802", nim="16522101")
        page = await ana.http.get(f"{site.url}/console/t/{second.id}")
        assert f'<option value="{incident.id}">#{incident.id} SSO tidak bisa dipakai</option>' in await page.text()
        await ana.post(f"/console/t/{second.id}/escalate", {"summary": "sama", "incident": str(incident.id)})
        assert [t.incident_id for t in await Ticket.filter(incident_id=incident.id).order_by("id")] == [  # type: ignore[attr-defined]
            incident.id, incident.id]

        # The developers were mailed, and the ticket view says so.
        assert len(smtp_sink.received) == 2
        view = await (await ana.http.get(f"{site.url}/console/t/{first.id}")).text()
        assert 'class="escalation-mail" data-status="sent"' in view
        assert "SSO tidak bisa dipakai" in view

        listing = await (await ana.http.get(f"{site.url}/console/incidents")).text()
        assert "2 tiket terkait" in listing
        before = len(site.channel.sent)
        fixed = await ana.post(f"/console/incidents/{incident.id}/fix", {"text": FIX, "notify": "1"})
        assert fixed.headers["Location"] == "/console/incidents?notice=notice_incident_fixed"
        sent = site.channel.sent[before:]
        assert sorted(m.recipient for m in sent) == ["801", "802"]
        numbers = {t.id: t.number for t in (first, second)}
        assert sorted(m.text for m in sent) == sorted(
            catalog("id").t("incident_fixed", ticket=n, fix=FIX) for n in numbers.values())
        assert [t.status for t in await Ticket.filter(incident_id=incident.id)] == [TicketStatus.OPEN] * 2
        again = await ana.post(f"/console/incidents/{incident.id}/fix", {"text": FIX, "notify": "1"})
        assert again.headers["Location"].endswith("notice=error_incident_fixed")
        assert len(site.channel.sent) == before + 2
        forged = await ana.post(f"/console/incidents/{incident.id}/fix", {"text": FIX}, csrf="forged")
        assert forged.status == 403
    finally:
        await ana.close()


async def test_the_supervisor_sees_low_ratings_with_their_comments(site: Served) -> None:
    ana = await signed_in(site, "ana@cc.test")
    sari = await signed_in(site, "sari@cc.test")
    try:
        ticket = await site.hand_off(user="803")
        await ana.post(f"/console/t/{ticket.id}/take", {})
        await ana.post(f"/console/t/{ticket.id}/categorize", {"category": "akun-login"})
        await ana.post(f"/console/t/{ticket.id}/close", {})
        await site.say("1", user="803")
        await site.say("Tidak ada yang membalas <script>x()</script>", user="803")
        stored = await Ticket.get(id=ticket.id)
        assert (stored.survey_rating, stored.flagged) == (1, True)
        assert stored.survey_comment == "Tidak ada yang membalas <script>x()</script>"
        assert await record_comment(ticket=stored, text="kedua") is None  # one comment per ticket
        dashboard = await (await sari.http.get(f"{site.url}/console/admin/dashboard")).text()
        assert '<q class="survey-comment">Tidak ada yang membalas &lt;script&gt;x()&lt;/script&gt;</q>' in dashboard
        view = await (await sari.http.get(f"{site.url}/console/t/{ticket.id}")).text()
        assert re.search(r'id="survey-comment"[^>]*>Tidak ada yang membalas &lt;script&gt;', view)
    finally:
        await ana.close()
        await sari.close()


async def call(site: Served, token: str, method: str, path: str, body: object = None) -> tuple[int, dict]:
    async with aiohttp.ClientSession() as http, http.request(
        method, f"{site.url}/api/v1{path}", json=body, headers={"Authorization": f"Bearer {token}"}
    ) as response:
        return response.status, await response.json()


async def test_escalate_with_an_incident_and_report_its_fix_over_the_api(site: Served) -> None:
    _, ana = await create_api_token(name="ana", role=UserRole.AGENT, user=site.agent)
    _, bayu = await create_api_token(name="bayu", role=UserRole.AGENT, user=site.other)
    tickets = []
    for user, nim in (("811", "13521045"), ("812", "16522101")):
        ticket = await site.hand_off(user=user, nim=nim)
        await call(site, ana, "POST", f"/tickets/{ticket.id}/take")
        tickets.append(ticket)
    status, body = await call(site, ana, "POST", f"/tickets/{tickets[0].id}/escalate",
                              {"summary": "SSO", "incident_title": "SSO mati"})
    assert (status, body["status"]) == (200, "escalated")
    incident_id = body["incident_id"]
    status, body = await call(site, ana, "POST", f"/tickets/{tickets[1].id}/escalate",
                              {"summary": "SSO", "incident_id": incident_id, "incident_title": "dua-duanya"})
    assert (status, body["error"]) == (400, "unknown_incident")
    status, body = await call(site, ana, "POST", f"/tickets/{tickets[1].id}/escalate",
                              {"summary": "SSO", "incident_id": incident_id})
    assert (status, body["incident_id"]) == (200, incident_id)

    status, body = await call(site, ana, "GET", "/incidents?status=open")
    assert (status, [(i["id"], i["title"], i["tickets"]) for i in body["items"]]) == (
        200, [(incident_id, "SSO mati", [tickets[0].id, tickets[1].id])])
    assert (await call(site, ana, "GET", "/incidents?status=maybe"))[0] == 400

    status, body = await call(site, bayu, "POST", f"/incidents/{incident_id}/fix", {"text": FIX})
    assert (status, body["error"]) == (403, "forbidden")  # owns none of its tickets
    status, body = await call(site, ana, "POST", f"/incidents/{incident_id}/fix", {"text": FIX, "notify_users": "ya"})
    assert status == 400
    before = len(site.channel.sent)
    status, body = await call(site, ana, "POST", f"/incidents/{incident_id}/fix", {"text": FIX, "notify_users": True})
    assert (status, body["status"], body["fix"], body["notified"]) == (200, "fixed", FIX, 2)
    assert sorted(m.recipient for m in site.channel.sent[before:]) == ["811", "812"]
    status, body = await call(site, ana, "POST", f"/incidents/{incident_id}/fix", {"text": FIX, "notify_users": True})
    assert (status, body["error"]) == (409, "incident_fixed")
    assert (await Incident.get(id=incident_id)).status == IncidentStatus.FIXED
    assert (await call(site, ana, "POST", "/incidents/999/fix", {"text": FIX}))[0] == 404

    async with aiohttp.ClientSession() as http, http.get(f"{site.url}/api/v1/openapi.json") as response:
        document = await response.json()
    assert "incident_id" in document["paths"]["/tickets/{id}/escalate"]["post"]["requestBody"]["content"][
        "application/json"]["schema"]["properties"]
    assert set(document["paths"]["/incidents/{id}/fix"]["post"]["responses"]) >= {"200", "403", "404", "409"}
    assert "Incident" in document["components"]["schemas"]
