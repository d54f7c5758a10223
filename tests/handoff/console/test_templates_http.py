"""Answer templates in the console over HTTP (SQLite and PostgreSQL): refused on save when they name anything
but their fields, and previewed, offered as canned answers and sent by the bot through one renderer."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from handoff import actions
from models import AnswerTemplate, Category, ChannelKind, Ticket
from tests.conftest import prove_address
from tests.handoff.console.admin_support import serve
from tests.handoff.console.conftest import Console, Served

BODY = "Halo {name}, tiket {ticket} oleh {agent}. Kurung {{x}} dan {nama}."


@pytest.fixture
async def site(db_url: str, tmp_path: Path) -> AsyncIterator[Served]:
    async with serve(tmp_path, database_url=db_url) as served:
        yield served


@pytest.fixture
async def web(site: Served) -> AsyncIterator[Console]:
    client = Console(site.url)
    try:
        yield client
    finally:
        await client.close()


async def stored(slug: str, language: str = "id") -> str:
    return (await AnswerTemplate.get(category__slug=slug, language=language)).body


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ("Halo {name.__class__.__mro__}", "{name.__class__.__mro__}"),
        ("Halo {name:#>20000}", "{name:#>20000}"),
        ("Halo {name!r}", "{name!r}"),
    ],
)
async def test_a_template_with_more_than_a_bare_field_is_refused(
    site: Served, web: Console, body: str, field: str
) -> None:
    category = await Category.get(slug="reset-password")
    before = await stored("reset-password")
    await web.login("sari@cc.test")
    response = await web.post(f"/console/admin/templates/{category.id}/id", {"body": body})
    page = html.unescape(await response.text())
    assert response.status == 400
    assert (f"{field}: tulis isian hanya dengan namanya, tanpa apa pun sesudahnya (tanpa titik, kurung siku, "
            '"!" atau ":"). Yang boleh: {name}, {ticket}, {agent}.') in page
    assert f">{body}</textarea>" in page  # what was typed comes back
    assert await stored("reset-password") == before


async def test_an_unknown_field_is_refused_in_english_too(site: Served, web: Console) -> None:
    category = await Category.get(slug="reset-password")
    before = await stored("reset-password", "en")
    await web.login("sari@cc.test")
    await web.get("/console/admin/templates?lang=en")
    response = await web.post(f"/console/admin/templates/{category.id}/en", {"body": "Hi {nama}, {ticket}"})
    page = html.unescape(await response.text())
    assert response.status == 400
    assert "Unknown field {nama}. Allowed: {name}, {ticket}, {agent}." in page
    assert await stored("reset-password", "en") == before


async def test_the_preview_is_what_the_bot_sends_and_the_canned_answer_uses_the_same_filling(
    site: Served, web: Console
) -> None:
    category = await Category.get(slug="reset-password")
    await AnswerTemplate.filter(category=category, language="id").update(body=BODY)
    await web.login("sari@cc.test")
    page = await (await web.get("/console/admin/templates")).text()
    form = page[page.index(f'action="/console/admin/templates/{category.id}/id"'):]
    preview = html.unescape(re.search(r'<div class="preview">(.*?)</div>', form, re.S).group(1))  # type: ignore[union-attr]

    before = len(site.channel.sent)
    await site.say("halo", user="501")
    await site.say("13521045", user="501")  # Budi, the preview's sample name...
    await prove_address(ChannelKind.TELEGRAM, "501", number="13521045")  # ...whose name a proven chat may see
    await site.say("saya lupa password", user="501")
    sent = [m.text for m in site.channel.sent[before:]]
    assert preview in sent
    assert preview == "Halo Budi, tiket  oleh . Kurung {x} dan {nama}."

    # An agent inserting it on a ticket gets the same filling with the ticket and their own name.
    await site.say("2", user="501")  # not helpful: the bot offers other answers or a person...
    await site.say("2", user="501")  # ...and the second no hands off
    ticket = await Ticket.get()
    await actions.take_ticket(ticket_id=ticket.id, agent=site.agent, now=datetime.now(UTC))
    await web.close()
    agent = Console(site.url)
    try:
        await agent.login("ana@cc.test")
        ticket_page = html.unescape(await (await agent.get(f"/console/t/{ticket.id}")).text())
    finally:
        await agent.close()
    assert f'data-body="Halo Budi, tiket {ticket.number} oleh Ana Agen. Kurung {{x}} dan {{nama}}."' in ticket_page
