"""The LMS's signed identity in a real browser (Playwright driving Debian's chromium): the chat opened with a
valid signature greets the person by name; a forged one is an anonymous chat."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from bot.app import create_app
from bot.config import Settings
from bot.demo import DEMO_DIRECTORY
from bot.directory import import_records
from bot.i18n import catalog
from tests.bot.test_lms import SECRET, query
from tests.conftest import ScriptedClassifier

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed"),
]


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[str]:
    app = create_app(Settings(data_dir=tmp_path, webchat_identity_secret=SECRET), classifier=ScriptedClassifier(),
                     scheduler=False)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    await import_records(DEMO_DIRECTORY)
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


async def test_a_signed_chat_greets_by_name_and_a_forged_one_does_not(server: str) -> None:
    from playwright.async_api import async_playwright, expect

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                          args=["--disable-background-networking", "--disable-component-update"])
        for link, greeting, named in (
            (query("13521045"), catalog("id").t("welcome_back", name_suffix=", Kak Budi"), True),
            (query("13521045", signature="ab" * 32), catalog("id").t("greeting"), False),
        ):
            context = await browser.new_context()  # a browser of its own: no session carried over
            page = await context.new_page()
            await page.goto(f"{server}/chat?{link}")
            box = page.get_by_role("textbox")
            await box.fill("halo")
            await box.press("Enter")
            bot = page.locator("li.msg--bot")
            await expect(bot.first).to_contain_text(greeting)
            assert ("Budi" in await page.content()) is named
            await context.close()
        await browser.close()
