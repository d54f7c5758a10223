"""The console's side of a supervisor's Telegram chat (handoff.staff_telegram) over HTTP, on SQLite and
PostgreSQL: "Link Telegram" shows a one-time code and the bot's deep link once, the page shows the link and
its state (linked since, broken), "Unlink" forgets it; each step is an audit row; agents cannot."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.app import REGISTRY
from handoff import staff_telegram
from handoff.delivery import Capabilities, OutboundMessage, SendResult
from models import AuditLog, ChannelKind, StaffLinkCode, StaffTelegramLink
from tests.handoff.console.admin_support import serve
from tests.handoff.console.conftest import Console, Served

CODE = re.compile(r"/link ([A-Z2-9]{10})")


@dataclass(slots=True)
class NamedTelegram:
    """A Telegram channel that knows its bot's name, as the real one does after getMe."""

    kind: ChannelKind = ChannelKind.TELEGRAM
    capabilities: Capabilities = field(default_factory=lambda: Capabilities(buttons=False))
    bot_username: str | None = "carecenter_test_bot"
    sent: list[OutboundMessage] = field(default_factory=list)

    async def send(self, message: OutboundMessage) -> SendResult:
        self.sent.append(message)
        return SendResult(provider_message_id="1:1")


@pytest.fixture
async def site(db_url: str, tmp_path: Path) -> AsyncIterator[Served]:
    async with serve(tmp_path, database_url=db_url) as served:
        served.app[REGISTRY].add(NamedTelegram())
        yield served


@pytest.fixture
async def web(site: Served) -> AsyncIterator[Console]:
    client = Console(site.url)
    try:
        yield client
    finally:
        await client.close()


async def test_a_supervisor_links_sees_and_unlinks_their_chat(site: Served, web: Console) -> None:
    await web.login("sari@cc.test")
    page = await (await web.get("/console/admin/settings")).text()
    assert "Belum ada chat yang ditautkan." in page
    made = await web.post("/console/admin/settings/telegram/link", {})
    body = await made.text()
    assert made.status == 200
    assert made.headers["Cache-Control"] == "no-store"
    found = CODE.search(body)
    assert found is not None
    code = found.group(1)
    assert f'href="https://t.me/carecenter_test_bot?start={code}"' in body
    assert await StaffLinkCode.filter(user_id=site.supervisor.id).count() == 1
    assert code not in str([row.code_hash for row in await StaffLinkCode.all()])  # kept as a hash only
    assert code not in await (await web.get("/console/admin/settings")).text()  # shown once
    # The bot links the chat (tests/bot/channels/test_telegram_staff.py sends it through Telegram).
    result = await staff_telegram.link_chat(chat_id="4242", code=code, secret_key="", now=datetime.now(UTC))
    assert result == staff_telegram.LinkResult(staff_telegram.Linked.LINKED, "Sari Supervisor")
    assert "Tertaut (sejak " in await (await web.get("/console/admin/settings")).text()
    await StaffTelegramLink.filter(user_id=site.supervisor.id).update(broken_at=datetime.now(UTC),
                                                                      broken_reason="forbidden: bot was blocked")
    assert "Tautan terputus sejak" in await (await web.get("/console/admin/settings")).text()
    gone = await web.post("/console/admin/settings/telegram/unlink", {})
    assert (gone.status, gone.headers["Location"]) == (
        303, "/console/admin/settings?notice=notice_telegram_unlinked#telegram")
    assert not await StaffTelegramLink.exists(user_id=site.supervisor.id)
    assert "Belum ada chat yang ditautkan." in await (await web.get("/console/admin/settings")).text()
    actions = [e.action for e in await AuditLog.filter(action__startswith="telegram.").order_by("id")]
    assert actions == ["telegram.link_code", "telegram.link", "telegram.unlink"]


async def test_a_newer_code_kills_the_older_one(site: Served, web: Console) -> None:
    await web.login("sari@cc.test")
    codes = []
    for _ in range(2):
        found = CODE.search(await (await web.post("/console/admin/settings/telegram/link", {})).text())
        assert found is not None
        codes.append(found.group(1))
    now = datetime.now(UTC)
    old = await staff_telegram.link_chat(chat_id="4242", code=codes[0], secret_key="", now=now)
    assert old.outcome == staff_telegram.Linked.EXPIRED
    new = await staff_telegram.link_chat(chat_id="4242", code=codes[1], secret_key="", now=now)
    assert new.outcome == staff_telegram.Linked.LINKED


async def test_agents_cannot_link_and_the_form_needs_its_token(site: Served, web: Console) -> None:
    await web.login("ana@cc.test")
    assert (await web.post("/console/admin/settings/telegram/link", {})).status == 403
    assert not await StaffLinkCode.exists()
    await web.login("sari@cc.test")
    refused = await web.post("/console/admin/settings/telegram/link", {}, csrf="not-the-token")
    assert refused.status == 403
    assert not await StaffLinkCode.exists()
