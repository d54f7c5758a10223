"""The whole care-center conversation in a real browser (Playwright driving Debian's chromium)."""

from __future__ import annotations

import json
import re
import shutil
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from bot.app import create_app
from bot.config import Settings
from bot.demo import DEMO_DIRECTORY
from bot.directory import import_records
from bot.i18n import catalog
from handoff.auth import create_api_token
from models import UserRole
from tests.conftest import ScriptedClassifier

NOTED = catalog("id").t("identity_noted")

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed"),
]


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[str]:
    # The real shipped classifier: the question must be answered from its template.
    async for url in _serve(create_app(Settings(data_dir=tmp_path), scheduler=False)):
        yield url


@pytest.fixture
async def scripted_server(tmp_path: Path) -> AsyncIterator[str]:
    # A scripted classifier: the clarification must not hinge on the model of the day.
    async for url in _serve(create_app(Settings(data_dir=tmp_path), classifier=ScriptedClassifier(), scheduler=False)):
        yield url


async def _serve(app: web.Application) -> AsyncIterator[str]:
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    await import_records(DEMO_DIRECTORY)
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


async def test_whole_conversation_in_the_browser(server: str, tmp_path: Path) -> None:
    from playwright.async_api import async_playwright, expect

    async with async_playwright() as p:
        browser = await p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--disable-background-networking", "--disable-component-update"],
        )
        page = await browser.new_page()
        await page.goto(f"{server}/chat")
        bot = page.locator("li.msg--bot")
        box = page.get_by_role("textbox")

        await box.fill("halo")
        await box.press("Enter")
        await expect(bot.nth(2)).to_contain_text("NIM (8 digit)")
        await expect(bot.nth(1)).to_contain_text("Pelindungan Data Pribadi")

        await box.fill("13521045 saya lupa password edunex")
        await box.press("Enter")
        await expect(bot.filter(has_text="Apakah jawaban ini membantu?")).to_have_count(1)
        await expect(bot.filter(has_text="identitas yang Anda kirim sudah kami catat")).to_have_count(1)
        answer = await bot.nth(-2).inner_text()
        assert "password" in answer.lower() or "kata sandi" in answer.lower()

        await page.get_by_role("button", name="2 = Tidak").click()
        handoff = bot.filter(has_text="nomor tiket")
        await expect(handoff).to_have_count(1)
        number = re.search(r"CC-\d{4}-\d{6}", await handoff.inner_text())
        assert number is not None

        # A reload keeps the history: the session cookie is the browser's identity.
        await page.reload()
        await expect(page.locator("li.msg--user")).to_have_count(3)
        await page.screenshot(path=str(tmp_path / "chat.png"), full_page=True)
        await browser.close()

    _, raw = await create_api_token(name="browser-test", role=UserRole.SUPERVISOR)
    request = urllib.request.Request(
        f"{server}/api/v1/tickets?channel=webchat", headers={"Authorization": f"Bearer {raw}"}
    )
    import asyncio

    body = await asyncio.to_thread(lambda: urllib.request.urlopen(request, timeout=10).read())
    tickets = json.loads(body)["items"]
    assert [t["number"] for t in tickets] == [number.group(0)]
    assert tickets[0]["status"] == "open"
    assert tickets[0]["category"] == "reset-password"
    assert tickets[0]["contact"]["verified"] is False  # a typed NIM is a claim (issue 13)


async def test_clarification_buttons_in_the_browser(scripted_server: str) -> None:
    from playwright.async_api import async_playwright, expect

    async with async_playwright() as p:
        browser = await p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--disable-background-networking", "--disable-component-update"],
        )
        page = await browser.new_page()
        await page.goto(f"{scripted_server}/chat")
        bot = page.locator("li.msg--bot")
        box = page.get_by_role("textbox")
        await box.fill("halo")
        await box.press("Enter")
        await expect(bot.nth(2)).to_contain_text("NIM (8 digit)")
        await box.fill("13521045")
        await box.press("Enter")
        # A typed NIM is a claim (issue 13): noted, and the bot answers from its templates all the same.
        await expect(bot.filter(has_text=NOTED)).to_have_count(1)

        await box.fill("tugas saya tidak bisa dikumpulkan")
        await box.press("Enter")
        await expect(bot.filter(has_text="pertanyaan Anda tentang yang mana?")).to_have_count(1)
        await expect(page.get_by_role("button", name="Hal lain / bicara dengan petugas")).to_be_visible()
        await page.get_by_role("button", name="Tugas & pengumpulan").click()
        await expect(bot.filter(has_text="Berikut langkah mengumpulkan tugas di Edunex")).to_have_count(1)
        await expect(bot.filter(has_text="Apakah jawaban ini membantu?")).to_have_count(1)
        await browser.close()
