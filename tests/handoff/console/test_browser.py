"""The console in a real browser: Playwright's async API driving Debian's chromium."""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.app import REGISTRY
from models import AnswerTemplate, Category, ChannelKind, ConversationStatus, SenderKind, Ticket, TicketStatus
from tests.conftest import prove_address
from tests.handoff.console.conftest import PASSWORD, Served

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed"),
]
XSS_NAME = '<img src=x onerror="window.__xss=1">'
XSS_TEXT = "<script>window.__xss=2</script><b>tebal</b> tolong bantu"


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        launched = await p.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=["--disable-background-networking", "--disable-component-update"],
        )
        try:
            yield launched
        finally:
            await launched.close()


def shots(tmp_path: Path) -> Path:
    """Screenshots go to CONSOLE_SCREENSHOTS when set (to refresh docs/screenshots), else to the tmp dir."""
    target = Path(os.environ.get("CONSOLE_SCREENSHOTS") or tmp_path)
    target.mkdir(parents=True, exist_ok=True)
    return target


async def sign_in(browser: Any, served: Served, email: str, *, width: int = 1280) -> Any:
    from playwright.async_api import expect

    context = await browser.new_context(viewport={"width": width, "height": 900}, locale="id-ID")
    page = await context.new_page()
    await page.goto(f"{served.url}/console/login")
    await page.fill('input[name="email"]', email)
    await page.fill('input[name="password"]', PASSWORD)
    await page.click('button[type="submit"]')
    await expect(page).to_have_url(f"{served.url}/console/queue")
    return page


async def live(page: Any) -> None:
    from playwright.async_api import expect

    await expect(page.locator("body")).to_have_attribute("data-live", "1")


async def test_sign_in_and_csrf_rejection(served: Served, browser: Any) -> None:
    from playwright.async_api import expect

    context = await browser.new_context(locale="id-ID")
    page = await context.new_page()
    await page.goto(f"{served.url}/console/login")
    await page.fill('input[name="email"]', "ana@cc.test")
    await page.fill('input[name="password"]', "not the password")
    await page.click('button[type="submit"]')
    await expect(page.get_by_role("alert")).to_have_text("Email atau kata sandi salah.")

    page = await sign_in(browser, served, "ana@cc.test")
    await expect(page.get_by_role("link", name="Belum diambil")).to_be_visible()
    ticket = await served.hand_off()
    # The session cookie alone is not enough: a form post without the page's token is refused.
    status = await page.evaluate(
        """async (id) => (await fetch(`/console/t/${id}/take`,
              {method: "POST", body: new URLSearchParams({csrf: "forged"})})).status""",
        ticket.id,
    )
    assert status == 403
    assert (await Ticket.get(id=ticket.id)).assignee_id is None  # type: ignore[attr-defined]


async def test_handoff_appears_live_then_take_reply_note_categorize_close(
    served: Served, browser: Any, tmp_path: Path
) -> None:
    from playwright.async_api import expect

    page = await sign_in(browser, served, "ana@cc.test")
    await page.goto(f"{served.url}/console/queue?view=unassigned")
    await live(page)
    rows = page.locator("#queue-rows tr.row")
    await expect(rows).to_have_count(0)

    ticket = await served.hand_off(question="password saya tidak bisa dipakai")
    await expect(rows).to_have_count(1)  # no reload: the WebSocket told the page
    await expect(rows.first).to_contain_text(ticket.number or "")
    await expect(rows.first.locator(".contact-name")).to_have_text("Budi Contoh (Fiktif)")
    await served.hand_off(user="778", question="nilai saya belum muncul", nim="16522101")
    await expect(rows).to_have_count(2)
    await page.screenshot(path=str(shots(tmp_path) / "queue.png"), full_page=True)

    await rows.first.locator("a.ticket-link").click()
    await expect(page.locator("#owner")).to_have_text("belum ada")
    await page.click("#take")
    await expect(page.locator("#owner")).to_have_text("Ana Agen")
    await expect(page.get_by_role("status")).to_have_text("Percakapan ini sekarang milik Anda.")

    before = len(served.channel.sent)
    await page.fill("#reply-text", "Halo Budi, silakan coba reset password lewat tautan ini.")
    await page.get_by_role("button", name="Kirim balasan").click()
    await expect(page.get_by_role("status")).to_have_text("Balasan terkirim.")
    sent = served.channel.sent[before:]
    assert [(m.text, m.recipient, m.sender_kind) for m in sent] == [
        ("Halo Budi, silakan coba reset password lewat tautan ini.", "777", SenderKind.AGENT)
    ]
    await expect(page.locator("#timeline")).to_contain_text("silakan coba reset password")

    before = len(served.channel.sent)
    await page.fill('textarea[name="text"] >> nth=1', "Pengguna memakai aplikasi versi lama")
    await page.get_by_role("button", name="Simpan catatan").click()
    await expect(page.locator("#timeline .note")).to_contain_text("Pengguna memakai aplikasi versi lama")
    assert len(served.channel.sent) == before  # the note stayed with us

    # The user answers; the reply shows up in the open conversation view without a reload.
    await served.say("sudah saya coba, tetap gagal")
    await expect(page.locator("#timeline")).to_contain_text("sudah saya coba, tetap gagal")

    await page.select_option('select[name="category"]', "reset-password")
    await page.get_by_role("button", name="Simpan kategori").click()
    await expect(page.get_by_role("status")).to_have_text("Kategori disimpan.")
    await page.screenshot(path=str(shots(tmp_path) / "conversation.png"))

    before = len(served.channel.sent)
    await page.click("#close")
    await expect(page.get_by_role("status")).to_have_text("Tiket ditutup; survei kepuasan dikirim.")
    survey = served.channel.sent[before:]
    assert len(survey) == 1
    assert survey[0].text.startswith(f"Tiket {ticket.number} telah ditutup")
    closed = await Ticket.get(id=ticket.id)
    assert closed.status == TicketStatus.RESOLVED
    conversation = await closed.conversation
    assert conversation.status == ConversationStatus.BOT
    await served.say("1")
    assert (await Ticket.get(id=ticket.id)).flagged


async def test_the_bots_guess_is_confirmed_with_one_click_before_closing(served: Served, browser: Any) -> None:
    from playwright.async_api import expect

    ticket = await served.hand_off(question="lupa password")  # the bot guesses reset-password, not helpful
    page = await sign_in(browser, served, "ana@cc.test")
    await page.goto(f"{served.url}/console/t/{ticket.id}")
    await page.click("#take")
    category = page.locator("#ticket-category")
    await expect(category.locator(".category-unconfirmed")).to_have_text("kategori belum dikonfirmasi")
    await expect(page.locator('#categorize-form select[name="category"]')).to_have_value("reset-password")

    await page.click("#close")
    await expect(page.get_by_role("status")).to_contain_text("Konfirmasi atau ganti kategori tiket sebelum menutupnya")
    assert (await Ticket.get(id=ticket.id)).status == TicketStatus.OPEN

    await page.click("#confirm-category")
    await expect(page.get_by_role("status")).to_have_text("Kategori disimpan.")
    await expect(category).to_have_attribute("data-confirmed", "true")
    await expect(category).to_contain_text("Dikonfirmasi oleh Ana Agen")
    await expect(page.locator("#confirm-category")).to_have_count(0)
    stored = await Ticket.get(id=ticket.id)
    assert (stored.category_confirmed_by_id, stored.category_agreed) == (served.agent.id, True)

    await page.click("#close")
    await expect(page.get_by_role("status")).to_have_text("Tiket ditutup; survei kepuasan dikirim.")
    assert (await Ticket.get(id=ticket.id)).status == TicketStatus.RESOLVED


async def test_escalate_from_the_console(served: Served, browser: Any) -> None:
    from playwright.async_api import expect

    ticket = await served.hand_off()
    page = await sign_in(browser, served, "ana@cc.test")
    await page.goto(f"{served.url}/console/t/{ticket.id}")
    await page.click("#take")
    await page.fill('textarea[name="summary"]', "Unggah tugas gagal untuk semua mahasiswa")
    await page.get_by_role("button", name="Eskalasi ke tim pengembang").click()
    await expect(page.get_by_role("status")).to_have_text("Tiket dieskalasi ke tim pengembang.")
    assert (await Ticket.get(id=ticket.id)).status == TicketStatus.ESCALATED
    await page.goto(f"{served.url}/console/queue?view=escalated")
    await expect(page.locator("#queue-rows tr.row")).to_have_count(1)


async def test_two_agents_racing_to_take_one_conversation(served: Served, browser: Any) -> None:
    from playwright.async_api import expect

    ticket = await served.hand_off()
    ana = await sign_in(browser, served, "ana@cc.test")
    bayu = await sign_in(browser, served, "bayu@cc.test")
    for page in (ana, bayu):
        await page.goto(f"{served.url}/console/t/{ticket.id}")
        await live(page)
    # Both saw the other arrive (collision detection).
    await expect(ana.locator("#presence")).to_contain_text("Bayu Agen")
    await asyncio.gather(ana.click("#take"), bayu.click("#take"))
    notices = sorted([await ana.get_by_role("status").inner_text(), await bayu.get_by_role("status").inner_text()])
    assert notices == ["Percakapan ini sekarang milik Anda.",
                       "Percakapan ini sudah diambil petugas lain (lihat Petugas)."]
    stored = await Ticket.get(id=ticket.id)
    owner = "Ana Agen" if stored.assignee_id == served.agent.id else "Bayu Agen"  # type: ignore[attr-defined]
    for page in (ana, bayu):
        await expect(page.locator("#owner")).to_have_text(owner)  # the loser sees who took it


async def test_xss_payloads_are_rendered_inert(served: Served, browser: Any) -> None:
    from playwright.async_api import expect

    page = await sign_in(browser, served, "ana@cc.test")
    await page.goto(f"{served.url}/console/queue?view=unassigned")
    await live(page)
    await served.say("halo", user="666", name=XSS_NAME)
    await served.say(XSS_TEXT, user="666", name=XSS_NAME)
    await served.say("agen", user="666", name=XSS_NAME)
    row = page.locator("#queue-rows tr.row")
    await expect(row).to_have_count(1)
    await expect(row.locator(".contact-name")).to_have_text(XSS_NAME)
    await row.locator("a.ticket-link").click()
    await expect(page.locator("#timeline")).to_contain_text(XSS_TEXT)
    await expect(page.locator(".contact-name").last).to_have_text(XSS_NAME)
    assert await page.evaluate("window.__xss") is None
    assert await page.locator("#timeline img, #timeline script, #timeline b, #queue-rows img").count() == 0


async def populate(served: Served) -> None:
    """A morning's worth of traffic, so the dashboard shows something worth looking at."""
    from bot.i18n import catalog
    from handoff import actions

    def translate(lang: str, key: str, /, **values: object) -> str:
        return catalog(lang).t(key, **values)

    # Resolved by the bot: answered from the template, and it helped.
    await served.say("halo", user="801")
    await served.say("13521045", user="801")
    await served.say("saya lupa password", user="801")
    await served.say("1", user="801")
    handed = [
        await served.hand_off(user="802", question="nilai saya belum muncul", nim="16522101"),
        await served.hand_off(user="803", question="tidak bisa login sso", nim="10623077"),
        await served.hand_off(user="804", question="agen", nim="117123456"),
        await served.hand_off(user="805", question="agen", verify=False),
    ]
    for opened, external, agent, category, rating in ((handed[0], "802", served.agent, "nilai", "5"),
                                                      (handed[1], "803", served.other, "kelas-enrolment", "2")):
        await actions.take_ticket(ticket_id=opened.id, agent=agent, now=datetime.now(UTC))
        ticket = await Ticket.get(id=opened.id)
        await actions.reply(registry=served.app[REGISTRY], ticket=ticket, agent=agent, text="Sudah kami cek.",
                             now=datetime.now(UTC))
        await actions.categorize(ticket=ticket, category=await Category.get(slug=category), agent=agent)
        await actions.close_ticket(registry=served.app[REGISTRY], ticket=ticket, agent=agent,
                                    now=datetime.now(UTC), translate=translate)
        await served.say(rating, user=external)
    await actions.take_ticket(ticket_id=handed[2].id, agent=served.agent, now=datetime.now(UTC))


async def test_supervisor_edits_a_template_the_bot_then_uses(served: Served, browser: Any, tmp_path: Path) -> None:
    from playwright.async_api import expect

    await populate(served)
    page = await sign_in(browser, served, "sari@cc.test")
    await page.goto(f"{served.url}/console/admin/dashboard")
    await expect(page.locator("#dashboard")).to_contain_text("Tiket terbuka")
    # This month's figures, stored by this first view and shown with the moment they were read.
    await expect(page.locator("#period-as-of")).to_contain_text("Angka per ")
    await expect(page.locator("#period-table")).to_contain_text("Tiket")
    await page.screenshot(path=str(shots(tmp_path) / "dashboard.png"), full_page=True)

    category = await Category.get(slug="reset-password")
    await page.goto(f"{served.url}/console/admin/templates")
    form = page.locator(f'form[action="/console/admin/templates/{category.id}/id"]')
    await form.locator("textarea").fill("TEMPLAT BARU untuk {name}: buka edunex.itb.ac.id/reset.")
    await form.get_by_role("button").click()
    await expect(page.get_by_role("status")).to_have_text("Tersimpan.")
    assert (await AnswerTemplate.get(category=category, language="id")).body.startswith("TEMPLAT BARU")

    await served.say("halo", user="902")
    await served.say("13521045", user="902")
    await prove_address(ChannelKind.TELEGRAM, "902")  # a typed NIM is a claim: no name until proven
    before = len(served.channel.sent)
    await served.say("saya lupa password", user="902")
    assert served.channel.sent[before].text == "TEMPLAT BARU untuk Budi: buka edunex.itb.ac.id/reset."


async def test_queue_is_usable_on_a_phone(served: Served, browser: Any, tmp_path: Path) -> None:
    from playwright.async_api import expect

    await served.hand_off()
    page = await sign_in(browser, served, "ana@cc.test", width=390)
    await page.goto(f"{served.url}/console/queue?view=unassigned")
    await expect(page.locator("#queue-rows tr.row")).to_have_count(1)
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 400  # no sideways scrolling
    await page.screenshot(path=str(shots(tmp_path) / "queue-phone.png"), full_page=True)
