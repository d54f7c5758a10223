"""An agent attaches a file in the console; the user gets it in the web chat (Playwright, Debian's chromium)."""

from __future__ import annotations

from typing import Any

from models import Attachment, ChannelKind, Ticket
from tests.handoff.console.conftest import Served
from tests.handoff.console.test_browser import browser, sign_in

__all__ = ["browser"]  # the fixture, shared with the console's other browser tests

PDF = b"%PDF-1.4\n% Panduan pengisian KRS\n" + b"." * 2048


async def test_an_agent_sends_a_file_and_the_web_chat_user_downloads_it(served: Served, browser: Any) -> None:
    from playwright.async_api import expect

    user_context = await browser.new_context(locale="id-ID")
    chat = await user_context.new_page()
    await chat.goto(f"{served.url}/chat")
    box = chat.get_by_role("textbox")
    await box.fill("halo")
    await box.press("Enter")
    await expect(chat.locator("li.msg--bot")).to_have_count(1)  # the one greeting message
    await box.fill("agen")
    await box.press("Enter")
    await expect(chat.locator("li.msg--bot").filter(has_text="nomor tiket")).to_have_count(1)
    ticket = await Ticket.get(channel=ChannelKind.WEBCHAT)

    agent = await sign_in(browser, served, "ana@cc.test")
    await agent.goto(f"{served.url}/console/t/{ticket.id}")
    await agent.click("#take")
    await agent.fill("#reply-text", "Panduannya terlampir, Budi.")
    await agent.set_input_files("#reply-files", files=[
        {"name": "Panduan KRS.pdf", "mimeType": "application/pdf", "buffer": PDF},
    ])
    await agent.get_by_role("button", name="Kirim balasan").click()
    await expect(agent.locator(".notice").first).to_be_visible()
    (row,) = await Attachment.all()
    listed = agent.locator(f'#timeline a[href="/console/attachments/{row.id}"]')
    await expect(listed).to_have_text("Panduan KRS.pdf")
    await expect(agent.locator("#timeline li.attachment")).to_contain_text("application/pdf · 2.0 KB")

    # The user sees the message live, with a link that works in this chat session only.
    reply = chat.locator("li.msg--agent").filter(has_text="Panduannya terlampir")
    await expect(reply).to_have_count(1)
    link = reply.get_by_role("link", name="Panduan KRS.pdf")
    await expect(link).to_have_attribute("href", f"/chat/attachments/{row.id}")
    download = await chat.request.get(f"{served.url}/chat/attachments/{row.id}")
    assert download.status == 200
    assert await download.body() == PDF
    assert download.headers["content-disposition"].startswith("attachment;")
    assert download.headers["cache-control"] == "no-store"
    # After a reload the link comes back from the history.
    await chat.reload()
    await expect(chat.get_by_role("link", name="Panduan KRS.pdf")).to_have_count(1)

    stranger_context = await browser.new_context()
    stranger = await stranger_context.new_page()
    await stranger.goto(f"{served.url}/chat")  # a chat session of its own
    refused = await stranger.request.get(f"{served.url}/chat/attachments/{row.id}")
    assert refused.status == 404
