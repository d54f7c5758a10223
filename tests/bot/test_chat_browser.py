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
        # One greeting message: the welcome, the privacy notice and the request for an identity.
        await expect(bot.nth(0)).to_contain_text("NIM (8 digit)")
        await expect(bot.nth(0)).to_contain_text("Pelindungan Data Pribadi")

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


async def test_the_bots_bold_words_show_bold_not_as_asterisks(server: str) -> None:
    from playwright.async_api import async_playwright, expect
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, headless=True)
        page = await browser.new_page()
        await page.goto(f"{server}/chat")
        bot = page.locator("li.msg--bot")
        box = page.get_by_role("textbox")
        for text in ("halo", "13521045", "😭😭😭"):
            await box.fill(text)
            await box.press("Enter")
        emoji_answer = bot.filter(has_text="Ada yang bisa kami bantu tentang Edunex?")
        await expect(emoji_answer).to_have_count(1)
        # The catalogue's *petugas* (bold on WhatsApp and Telegram) is a <strong>, with no asterisk left.
        await expect(emoji_answer.locator("strong")).to_have_text("petugas")
        assert "*" not in await emoji_answer.inner_text()
        # The user's own asterisks stay as typed: only the bot's words are formatted.
        await box.fill("*tebal*")
        await box.press("Enter")
        await expect(page.locator("li.msg--user").last).to_contain_text("*tebal*")
        await expect(page.locator("li.msg--user strong")).to_have_count(0)
        await browser.close()


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
        await expect(bot.nth(0)).to_contain_text("NIM (8 digit)")
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
        # Answered buttons are closed, the chosen one marked; the newest message's buttons stay open.
        chosen = page.get_by_role("button", name="Tugas & pengumpulan")
        await expect(chosen).to_be_disabled()
        await expect(chosen).to_have_attribute("aria-pressed", "true")
        await expect(page.get_by_role("button", name="Hal lain / bicara dengan petugas")).to_be_disabled()
        await expect(page.locator(".msg__buttons button.is-chosen")).to_have_count(1)
        await expect(page.locator("li.msg--bot").last.locator("button").first).to_be_enabled()
        # After a reload the history closes them the same way, and marks the same choice.
        await page.reload()
        await expect(page.get_by_role("button", name="Tugas & pengumpulan")).to_be_disabled()
        await expect(page.locator(".msg__buttons button.is-chosen")).to_have_text("Tugas & pengumpulan")
        await browser.close()


PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


async def test_a_file_sent_from_the_web_chat_arrives(scripted_server: str, tmp_path: Path) -> None:
    from playwright.async_api import async_playwright, expect

    from models import Attachment, Message

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                          args=["--disable-background-networking", "--disable-component-update"])
        page = await browser.new_page()
        await page.goto(f"{scripted_server}/chat")
        # An empty chat opens with the welcome prompt; the first message replaces it.
        await expect(page.get_by_test_id("welcome")).to_have_text(catalog("id").t("web_welcome"))
        box = page.get_by_role("textbox")
        picker = page.locator("#files")

        # Not an image or PDF: refused in the page before any upload, by name; the text stays in the box.
        await picker.set_input_files(files=[{"name": "catatan.txt", "mimeType": "text/plain", "buffer": b"hai"}])
        await expect(page.locator("#status")).to_have_text(
            catalog("id").t("web_file_type_not_allowed", name="catatan.txt"))

        await picker.set_input_files(files=[{"name": "layar.png", "mimeType": "image/png", "buffer": PNG}])
        await box.fill("ini tangkapan layar error saya")
        await box.press("Enter")
        mine = page.locator("li.msg--user", has_text="ini tangkapan layar error saya")
        await expect(mine.get_by_role("link", name="layar.png")).to_be_visible()  # the server's own link
        await expect(page.get_by_test_id("welcome")).to_be_hidden()
        await expect(page.locator("li.msg--bot").first).to_be_visible()  # the bot answered it
        await expect(box).to_have_value("")

        # A file named and typed as an image whose bytes are not: refused by the server, named in the chat,
        # its text delivered.
        await picker.set_input_files(files=[{"name": "foto.png", "mimeType": "image/png", "buffer": b"<svg/>"}])
        await box.fill("dan ini")
        await box.press("Enter")
        await expect(page.locator("#status")).to_have_text(
            catalog("id").t("web_file_type_not_allowed", name="foto.png"))
        await expect(page.locator("li.msg--user", has_text="dan ini")).to_have_count(1)

        # A file dropped on the chat goes the same way as a picked one.
        dropped = await page.evaluate_handle("""() => {
            const dt = new DataTransfer();
            dt.items.add(new File([new Uint8Array([0x25, 0x50, 0x44, 0x46, 0x2d, 0x31, 0x2e, 0x34, 0x0a])],
                                  "krs.pdf", { type: "application/pdf" }));
            return dt;
        }""")
        await page.dispatch_event(".chat", "drop", {"dataTransfer": dropped})
        await expect(page.locator("#chosen")).to_contain_text("krs.pdf")
        await box.fill("KRS saya")
        await box.press("Enter")
        krs = page.locator("li.msg--user", has_text="KRS saya")
        await expect(krs.get_by_role("link", name="krs.pdf")).to_be_visible()
        await browser.close()

    message = await Message.get(text="ini tangkapan layar error saya")
    (row,) = await Attachment.filter(message_id=message.id)
    assert (row.filename, row.content_type, row.size, row.refused_reason) == ("layar.png", "image/png", len(PNG), None)
    assert row.storage_key is not None
    assert (tmp_path / "attachments" / row.storage_key[:2] / row.storage_key).read_bytes() == PNG
    assert (await Attachment.get(message__text="KRS saya")).content_type == "application/pdf"
    refused = await Attachment.get(message__text="dan ini")
    assert (refused.storage_key, refused.refused_reason) == (None, "type_not_allowed")


LMS_PAGE = """<!doctype html><html><head><title>LMS</title></head><body><h1>Kuliah</h1>
<script src="{chat}/chat/widget.js" data-lang="en" data-identifier="13521045" data-expires="1700000000"
        data-signature="{signature}" defer></script></body></html>"""


async def _lms_site(chat: dict[str, str]) -> tuple[web.AppRunner, int]:
    """A page on another loopback origin (another port) that embeds the widget; its chat address is set later."""
    lms = web.Application()

    async def page(_request: web.Request) -> web.Response:
        return web.Response(text=LMS_PAGE.format(chat=chat["url"], signature="ab" * 32), content_type="text/html")

    lms.router.add_get("/", page)
    runner = web.AppRunner(lms)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner, runner.addresses[0][1]


@pytest.mark.parametrize("allowed", [True, False])
async def test_the_widget_embeds_the_chat_only_on_an_allowed_origin(tmp_path: Path, allowed: bool) -> None:
    from playwright.async_api import async_playwright, expect

    chat_url: dict[str, str] = {"url": ""}
    lms, lms_port = await _lms_site(chat_url)
    lms_origin = f"http://127.0.0.1:{lms_port}"
    settings = Settings(data_dir=tmp_path, webchat_allowed_origins=(lms_origin,) if allowed else ())
    runner = web.AppRunner(create_app(settings, classifier=ScriptedClassifier(), scheduler=False))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    chat = chat_url["url"] = f"http://127.0.0.1:{runner.addresses[0][1]}"
    printed: list[str] = []
    try:
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                              args=["--disable-background-networking"])
            page = await browser.new_page()
            page.on("console", lambda m: printed.append(m.text))
            await page.goto(lms_origin + "/")
            await page.get_by_role("button", name="Care Center").click()
            src = await page.locator("iframe[data-care-center=frame]").get_attribute("src")
            # The LMS's signed identity and language pass through to /chat unchanged.
            assert src == f"{chat}/chat?lang=en&identifier=13521045&expires=1700000000&signature={'ab' * 32}"
            chat_frame = page.frame_locator("iframe[data-care-center=frame]")
            if allowed:
                await expect(chat_frame.get_by_test_id("welcome")).to_have_text(catalog("en").t("web_welcome"))
                box = chat_frame.get_by_role("textbox")
                await box.fill("hello")
                await box.press("Enter")
                await expect(chat_frame.locator("li.msg--bot").first).to_be_visible()
            else:
                # The browser refuses the frame's load and says why on the console.
                for _ in range(100):
                    if any("frame-ancestors" in line for line in printed):
                        break
                    await page.wait_for_timeout(100)
                assert any("frame-ancestors" in line for line in printed), printed
                assert await chat_frame.locator("#messages").count() == 0
            await browser.close()
    finally:
        await runner.cleanup()
        await lms.cleanup()
