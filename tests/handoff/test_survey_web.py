"""The public survey page over HTTP, served by the whole app on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from markupsafe import escape

from bot.app import FLOW, REGISTRY, create_app
from bot.channels.base import InboundMessage
from bot.config import Settings
from bot.conversation.inline import handle_inbound
from bot.demo import DEMO_DIRECTORY
from bot.directory import DatabaseDirectory, import_records
from bot.i18n import catalog
from handoff import actions
from handoff.auth import create_user
from handoff.survey import make_link_token
from models import Category, ChannelKind, Message, Ticket, TicketEvent, UserRole
from tests.conftest import IN_HOURS, ScriptedClassifier

SECRET = "survey-test-secret-" + "x" * 20
LINK = re.compile(r"(/survey/[A-Za-z0-9._-]+)")


def translate(lang: str, key: str, /, **values: object) -> str:
    return catalog(lang).t(key, **values)


@dataclass
class Site:
    app: web.Application
    url: str
    now: list[datetime]


@pytest.fixture
async def site(db_url: str, tmp_path: Path) -> AsyncIterator[Site]:
    clock_now = [IN_HOURS]
    app = create_app(Settings(data_dir=tmp_path, database_url=db_url, secret_key=SECRET),
                     classifier=ScriptedClassifier(), directory=DatabaseDirectory(), scheduler=False,
                     clock=lambda: clock_now[0])
    runner = web.AppRunner(app)
    await runner.setup()
    tcp = web.TCPSite(runner, "127.0.0.1", 0)
    await tcp.start()
    await import_records(DEMO_DIRECTORY)
    try:
        yield Site(app, f"http://127.0.0.1:{runner.addresses[0][1]}", clock_now)
    finally:
        await runner.cleanup()


async def webchat_ticket_closed(site: Site, *, session: str = "sess-1") -> tuple[Ticket, str]:
    """A web chat user is handed off, an agent closes the ticket; returns it and the survey link sent."""
    for n, text in enumerate(("halo", "13521045", "agen"), start=1):
        await handle_inbound(InboundMessage(channel=ChannelKind.WEBCHAT, external_id=session,
                                            provider_message_id=f"{session}-{n}", text=text, received_at=IN_HOURS),
                             site.app[FLOW])
    ticket = await Ticket.get(conversation__identity__external_id=session)
    ana = await create_user(email=f"ana-{session}@cc.test", role=UserRole.AGENT, password="a-long-password")
    await actions.take_ticket(ticket_id=ticket.id, agent=ana, now=IN_HOURS)
    ticket = await Ticket.get(id=ticket.id)
    await actions.categorize(ticket=ticket, category=await Category.get(slug="akun-login"), agent=ana)
    await actions.close_ticket(registry=site.app[REGISTRY], ticket=ticket, agent=ana,
                                now=IN_HOURS, translate=translate, link_secret_key=SECRET)
    last = await Message.filter(ticket_id=ticket.id).order_by("-id").first()
    assert last is not None
    assert last.text.startswith(catalog("id").t("survey_ask", ticket=ticket.number))
    assert [b["value"] for b in last.buttons or []] == ["1", "2", "3", "4", "5"]  # the buttons stay
    found = LINK.search(last.text)
    assert found is not None
    return await Ticket.get(id=ticket.id), found.group(1)


async def test_rating_with_a_comment_on_the_page_is_stored_once_and_flags(site: Site) -> None:
    ticket, link = await webchat_ticket_closed(site)
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{site.url}{link}?r=2") as page:
            body = await page.text()
            assert page.status == 200
            assert page.headers["Cache-Control"] == "no-store"
            assert page.headers["Referrer-Policy"] == "no-referrer"
            assert re.findall(r'value="(\d)" aria-label="[^"]*" checked', body) == ["2"]
        assert (await Ticket.get(id=ticket.id)).survey_rating is None  # opening the link stores nothing
        async with http.post(f"{site.url}{link}", data={"rating": "2", "comment": "Lama <b>sekali</b>"}) as done:
            assert done.status == 200
            assert catalog("id").t("survey_page_thanks_low") in await done.text()
        stored = await Ticket.get(id=ticket.id)
        assert (stored.survey_rating, stored.flagged, stored.survey_comment) == (2, True, "Lama <b>sekali</b>")
        events = await TicketEvent.filter(ticket_id=ticket.id, kind="survey_answered")
        assert [e.data["via"] for e in events] == ["web"]
        async with http.post(f"{site.url}{link}", data={"rating": "5", "comment": "ganti"}) as again:
            assert again.status == 409
            assert catalog("id").t("survey_page_already") in await again.text()
        async with http.get(f"{site.url}{link}?lang=en") as reopened:
            assert str(escape(catalog("en").t("survey_page_already"))) in await reopened.text()
    stored = await Ticket.get(id=ticket.id)
    assert (stored.survey_rating, stored.survey_comment) == (2, "Lama <b>sekali</b>")


async def test_bad_input_keeps_what_was_typed_and_stores_nothing(site: Site) -> None:
    ticket, link = await webchat_ticket_closed(site)
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{site.url}{link}", data={"comment": "tanpa angka"}) as missing:
            assert missing.status == 400
            text = await missing.text()
            assert catalog("id").t("survey_page_pick") in text
            assert "tanpa angka</textarea>" in text
        async with http.post(f"{site.url}{link}", data={"rating": "9"}) as wrong:
            assert wrong.status == 400
        async with http.post(f"{site.url}{link}", data={"rating": "4", "comment": "x" * 2001}) as long:
            assert long.status == 400
            assert catalog("id").t("survey_page_too_long") in await long.text()
    stored = await Ticket.get(id=ticket.id)
    assert stored.survey_rating is None
    assert stored.survey_comment is None


async def test_expired_and_forged_links_get_a_clear_page_and_store_nothing(site: Site) -> None:
    ticket, link = await webchat_ticket_closed(site)
    forged = make_link_token(ticket_id=ticket.id, secret="not-our-secret-at-all")
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{site.url}/survey/{forged}", data={"rating": "1"}) as bad:
            assert bad.status == 404
            assert catalog("id").t("survey_page_invalid") in await bad.text()
        async with http.get(f"{site.url}/survey/garbage") as garbage:
            assert garbage.status == 404
        site.now[0] = IN_HOURS + timedelta(days=7, minutes=1)
        async with http.post(f"{site.url}{link}", data={"rating": "1"}) as expired:
            assert expired.status == 410
            assert catalog("id").t("survey_page_expired") in await expired.text()
    assert (await Ticket.get(id=ticket.id)).survey_rating is None


async def test_a_link_for_a_ticket_without_a_survey_is_refused(site: Site) -> None:
    await handle_inbound(InboundMessage(channel=ChannelKind.WEBCHAT, external_id="s9", provider_message_id="s9-1",
                                        text="agen", received_at=IN_HOURS), site.app[FLOW])
    ticket = await Ticket.get(conversation__identity__external_id="s9")
    token = make_link_token(ticket_id=ticket.id, secret=SECRET, clock=lambda: IN_HOURS)
    async with aiohttp.ClientSession() as http, http.post(f"{site.url}/survey/{token}", data={"rating": "5"}) as r:
        assert r.status == 404
        assert catalog("id").t("survey_page_unavailable") in await r.text()
    assert (await Ticket.get(id=ticket.id)).survey_rating is None
