"""The survey link from the web chat, in a real browser: close -> follow the link -> rate 2 with a comment ->
the supervisor sees the flag and the comment. And an incident's fix broadcast from the console."""

from __future__ import annotations

import re
from typing import Any

from bot.i18n import catalog
from models import Incident, IncidentStatus, Ticket, TicketStatus
from tests.handoff.console.conftest import Served, served
from tests.handoff.console.test_browser import browser, pytestmark, sign_in

__all__ = ["browser", "pytestmark", "served"]

FIX = "Unggah tugas sudah normal kembali, silakan coba lagi."


async def test_web_chat_user_rates_2_with_a_comment_through_the_survey_link(served: Served, browser: Any) -> None:
    from playwright.async_api import expect

    chat_context = await browser.new_context(viewport={"width": 390, "height": 800}, locale="id-ID")  # a phone
    chat = await chat_context.new_page()
    await chat.goto(f"{served.url}/chat")
    box = chat.get_by_role("textbox")
    bot = chat.locator("li.msg--bot")
    for text in ("halo", "13521045", "agen"):
        await box.fill(text)
        await box.press("Enter")
        await expect(chat.locator("li.msg--user")).to_have_count(("halo", "13521045", "agen").index(text) + 1)
    await expect(bot.filter(has_text="nomor tiket")).to_have_count(1)
    ticket = await Ticket.get(channel="webchat")

    agent = await sign_in(browser, served, "ana@cc.test")
    await agent.goto(f"{served.url}/console/t/{ticket.id}")
    await agent.click("#take")
    await agent.select_option('select[name="category"]', "akun-login")
    await agent.get_by_role("button", name="Simpan kategori").click()
    await agent.click("#close")
    await expect(agent.get_by_role("status")).to_have_text("Tiket ditutup; survei kepuasan dikirim.")

    survey = chat.locator("li.msg").filter(has_text=f"Tiket {ticket.number} telah ditutup")
    await expect(survey).to_have_count(1)  # delivered live over the chat's WebSocket
    await expect(survey.get_by_role("button", name="2", exact=True)).to_be_visible()  # the buttons stay
    link = survey.get_by_role("link")
    assert re.fullmatch(r"/survey/[\w.-]+", await link.get_attribute("href") or "")
    async with chat_context.expect_page() as opened:
        await link.click()
    page = await opened.value
    await expect(page.get_by_role("heading")).to_have_text(catalog("id").t("survey_page_heading"))
    await page.get_by_role("radio", name="2 – tidak puas").check(force=True)
    await page.fill("#comment", "Menunggu balasan terlalu lama")
    await page.click("#submit")
    await expect(page.locator("#survey")).to_have_attribute("data-state", "thanks_low")
    await expect(page.locator("#survey")).to_contain_text(catalog("id").t("survey_page_thanks_low"))

    stored = await Ticket.get(id=ticket.id)
    assert (stored.survey_rating, stored.flagged, stored.survey_comment) == (2, True, "Menunggu balasan terlalu lama")
    supervisor = await sign_in(browser, served, "sari@cc.test")
    await supervisor.goto(f"{served.url}/console/t/{ticket.id}")
    await expect(supervisor.locator("#ticket-meta .badge.danger")).to_have_text("Ditandai")
    await expect(supervisor.locator("#survey-comment")).to_have_text("Menunggu balasan terlalu lama")
    await supervisor.goto(f"{served.url}/console/admin/dashboard")
    await expect(supervisor.locator("q.survey-comment")).to_have_text("Menunggu balasan terlalu lama")

    # The same link again: answered already, nothing changes.
    await page.reload()
    await expect(page.locator("#survey")).to_have_attribute("data-state", "already")


async def test_an_incident_fix_broadcast_reaches_both_users(served: Served, browser: Any) -> None:
    from playwright.async_api import expect

    first = await served.hand_off(user="901")
    second = await served.hand_off(user="902", nim="16522101")
    page = await sign_in(browser, served, "ana@cc.test")
    for ticket, choice in ((first, "new"), (second, None)):
        await page.goto(f"{served.url}/console/t/{ticket.id}")
        await page.click("#take")
        await page.fill('textarea[name="summary"]', "Unggah tugas gagal untuk semua mahasiswa")
        if choice == "new":
            await page.select_option("#incident-choice", "new")
            await page.fill('input[name="incident_title"]', "Unggah tugas gagal")
        else:
            await page.select_option("#incident-choice", label=f"#{(await Incident.get()).id} Unggah tugas gagal")
        await page.get_by_role("button", name="Eskalasi ke tim pengembang").click()
        await expect(page.get_by_role("status")).to_have_text("Tiket dieskalasi ke tim pengembang.")
        await expect(page.locator("#ticket-incident")).to_contain_text("Unggah tugas gagal")

    await page.get_by_role("link", name="Insiden", exact=True).click()
    incident = page.locator("li.incident")
    await expect(incident).to_have_count(1)
    await expect(incident).to_contain_text("2 tiket terkait")
    before = len(served.channel.sent)
    await incident.locator('textarea[name="text"]').fill(FIX)
    await incident.get_by_label("Beri tahu pengguna yang tiketnya masih terbuka").check()
    await incident.get_by_role("button", name="Catat perbaikan untuk semua tiket").click()
    await expect(page.get_by_role("status")).to_have_text("Perbaikan dicatat pada semua tiket insiden ini.")
    await expect(page.locator("li.incident")).to_have_attribute("data-status", "fixed")

    told = served.channel.sent[before:]
    assert sorted((m.recipient, m.text) for m in told) == sorted(
        (user, catalog("id").t("incident_fixed", ticket=t.number, fix=FIX)) for user, t in (("901", first),
                                                                                           ("902", second)))
    assert (await Incident.get()).status == IncidentStatus.FIXED
    assert [t.status for t in await Ticket.filter(id__in=[first.id, second.id])] == [TicketStatus.OPEN] * 2
