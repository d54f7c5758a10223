"""The whole app served on 127.0.0.1 (port 0), with an in-memory Telegram channel and console users."""

from __future__ import annotations

import asyncio
import re
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from yarl import URL

from bot.app import FLOW, create_app
from bot.channels.base import InboundMessage
from bot.channels.memory import MemoryChannel
from bot.config import Settings
from bot.conversation.inline import handle_inbound
from bot.demo import DEMO_DIRECTORY
from bot.directory import DatabaseDirectory, import_records
from handoff.auth import create_user
from models import ChannelKind, Ticket, User, UserRole
from tests.conftest import ScriptedClassifier, migrated_sqlite_template, prove_address

PASSWORD = "correct horse battery"
CSRF_META = re.compile(r'<meta name="csrf" content="([^"]*)">')


@dataclass
class Served:
    app: web.Application
    url: str
    channel: MemoryChannel
    agent: User
    other: User
    supervisor: User
    counter: int = 0
    tmp: Path = field(default_factory=Path)

    async def say(self, text: str, *, user: str = "777", name: str = "Test User") -> None:
        """A user writes on Telegram."""
        self.counter += 1
        await handle_inbound(
            InboundMessage(channel=ChannelKind.TELEGRAM, external_id=user, provider_message_id=f"c-{self.counter}",
                           text=text, received_at=datetime.now(UTC), display_name=name),
            self.app[FLOW],
        )

    async def hand_off(
        self, *, user: str = "777", question: str = "agen", name: str = "Test User", verify: bool = True,
        nim: str = "13521045",
    ) -> Ticket:
        await self.say("halo", user=user, name=name)
        if verify:
            await self.say(nim, user=user, name=name)
            await prove_address(ChannelKind.TELEGRAM, user, number=nim)  # a typed NIM is only a claim
        await self.say(question, user=user, name=name)
        for _ in range(2):  # the bot answered; "did it help?" no, and no again: the second no hands off
            if await Ticket.filter(conversation__identity__external_id=user).exists():
                break
            await self.say("2", user=user, name=name)
        ticket = await Ticket.filter(conversation__identity__external_id=user).order_by("-id").first()
        assert ticket is not None
        return ticket


async def _migrated_sqlite(target: Path) -> None:
    """A migrated embedded database at ``target`` unless one is there: migrating from nothing took 8 s of
    every console test's setup (73 tests), copying the session's migrated file takes milliseconds."""
    await asyncio.to_thread(_copy_unless_there, await migrated_sqlite_template(), target)


def _copy_unless_there(template: Path, target: Path) -> None:
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(template, target)


@asynccontextmanager
async def serve_console(tmp_path: Path, settings: Settings | None = None) -> AsyncIterator[Served]:
    """The app on 127.0.0.1 with the demo directory and three console users; ``settings`` default to
    ``Settings(data_dir=tmp_path)`` (embedded SQLite)."""
    settings = settings or Settings(data_dir=tmp_path)
    if not settings.database_url:
        await _migrated_sqlite(settings.data_dir / "carecenter.sqlite3")
    channel = MemoryChannel(kind=ChannelKind.TELEGRAM)
    app = create_app(settings, channels=[channel], classifier=ScriptedClassifier(),
                     directory=DatabaseDirectory(), scheduler=False)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    await import_records(DEMO_DIRECTORY)
    users = [
        await create_user(email=email, role=role, password=PASSWORD, name=name)
        for email, role, name in (
            ("ana@cc.test", UserRole.AGENT, "Ana Agen"),
            ("bayu@cc.test", UserRole.AGENT, "Bayu Agen"),
            ("sari@cc.test", UserRole.SUPERVISOR, "Sari Supervisor"),
        )
    ]
    try:
        yield Served(app, f"http://127.0.0.1:{port}", channel, *users, tmp=tmp_path)
    finally:
        await runner.cleanup()


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[Served]:
    async with serve_console(tmp_path) as running:
        yield running


class Console:
    """A signed-in HTTP client (no browser) for checks of headers, cookies and refusals."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        self.csrf = ""

    async def login(self, email: str, password: str = PASSWORD) -> aiohttp.ClientResponse:
        async with self.http.get(f"{self.url}/console/login") as page:
            await page.read()
        token = self.http.cookie_jar.filter_cookies(URL(f"{self.url}/console/"))["cc_console_login"].value
        response = await self.http.post(f"{self.url}/console/login", allow_redirects=True,
                                        data={"csrf": token, "email": email, "password": password})
        text = await response.text()
        found = CSRF_META.search(text)
        self.csrf = found.group(1) if found else ""
        return response

    async def get(self, path: str) -> aiohttp.ClientResponse:
        response = await self.http.get(f"{self.url}{path}", allow_redirects=False)
        await response.read()
        return response

    async def post(self, path: str, data: dict[str, str], *, csrf: str | None = None) -> aiohttp.ClientResponse:
        response = await self.http.post(f"{self.url}{path}", data={"csrf": self.csrf if csrf is None else csrf, **data},
                                        allow_redirects=False)
        await response.read()
        return response

    async def close(self) -> None:
        await self.http.close()


@pytest.fixture
async def console(served: Served) -> AsyncIterator[Console]:
    client = Console(served.url)
    try:
        yield client
    finally:
        await client.close()
