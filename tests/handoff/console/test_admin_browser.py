"""The supervisor pages in a real browser (Playwright driving Debian's chromium): hours and SLA edited and
followed by the queue and the bot, retraining with figures then activation, and teams hiding tickets."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.app import FLOW
from handoff.teams import set_user_teams
from models import Category, Setting, Team, Ticket, TicketStatus
from nlp.store import ModelStore
from tests.handoff.console.admin_support import seed_model, serve
from tests.handoff.console.conftest import Served
from tests.handoff.console.test_browser import CHROMIUM, browser, sign_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed"),
]
__all__ = ["browser"]  # the fixture, shared with the console's other browser tests


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[Served]:
    async with serve(tmp_path) as served:
        yield served


async def test_supervisor_edits_hours_and_sla_and_queue_and_bot_follow(site: Served, browser: Any) -> None:
    from playwright.async_api import expect

    first = await site.hand_off()
    page = await sign_in(browser, site, "sari@cc.test")
    await page.goto(f"{site.url}/console/queue?view=all")
    clock = page.locator(f'#queue-rows tr[data-ticket-id="{first.id}"] .sla')
    await expect(clock).to_have_class(re.compile(r"\bsla-ok\b"))  # 24 h left of a 24 h target

    await page.get_by_role("link", name="Jam & SLA").click()
    # The page has two forms since the SLA policy got its own (each saves alone): the hours' is the first.
    hours_form = page.locator('form[action="/console/admin/settings"]')
    await page.fill('input[name="opens_1"]', "25:00")
    await hours_form.get_by_role("button", name="Simpan").click()
    await expect(page.locator("#settings-errors")).to_be_visible()
    await expect(page.get_by_text("Jam tidak valid (pakai JJ:MM, 00:00–23:59).")).to_be_visible()
    await expect(page.locator('input[name="opens_1"]')).to_have_value("25:00")  # nothing typed is lost
    assert not await Setting.exists()

    await page.fill('input[name="opens_1"]', "08:00")
    for day in range(7):  # closed every day: whatever the time of the test, the bot is out of hours
        await page.locator(f'input[name="open_{day}"]').set_checked(False)
    await page.fill('input[name="sla_hours"]', "100")
    await page.fill('textarea[name="message_id"]', "Kami sedang tutup. Tiket {ticket} kami balas secepatnya.")
    await hours_form.get_by_role("button", name="Simpan").click()
    await expect(page.get_by_role("status")).to_have_text("Tersimpan.")
    await expect(page.locator('input[name="sla_hours"]')).to_have_value("100")

    # The queue shows the new target in force, but the open ticket keeps the one it opened with (issue 11:
    # the target is a fact of the ticket): 24 h left of its 24 h target is on track, not "at risk".
    await page.goto(f"{site.url}/console/queue?view=all")
    await expect(page.locator("body")).to_have_attribute("data-sla", "6000")
    await expect(clock).to_have_class(re.compile(r"\bsla-ok\b"))

    # The bot: no restart, the supervisor's message and the new target on the next hand-off.
    second = await site.hand_off(user="779", nim="16522101")  # another student: Budi's ticket is still open
    assert second.due_at - second.opened_at == timedelta(hours=100)
    assert site.channel.sent[-1].text == f"Kami sedang tutup. Tiket {second.number} kami balas secepatnya."


async def confirmed(site: Served, user: str, question: str, slug: str) -> None:
    ticket = await site.hand_off(user=user, question=question)
    category = await Category.get(slug=slug)
    # Confirmed by an agent (handoff.categorization): only such tickets teach the classifier.
    await Ticket.filter(id=ticket.id).update(status=TicketStatus.RESOLVED, category_id=category.id,
                                             resolved_at=ticket.opened_at, category_confirmed_at=ticket.opened_at,
                                             category_agreed=slug == ticket.predicted_category)


async def test_retrain_shows_figures_then_activate_swaps_the_bot_classifier(site: Served, browser: Any) -> None:
    from playwright.async_api import expect

    seeded = await asyncio.to_thread(seed_model, site.tmp / "models")
    await confirmed(site, "1", "link reset password tidak masuk ke email", "reset-password")
    await confirmed(site, "2", "nilai UTS belum keluar di edunex", "nilai")
    await confirmed(site, "3", "tidak bisa login sso padahal password benar", "akun-login")
    page = await sign_in(browser, site, "sari@cc.test")
    await page.get_by_role("link", name="Klasifikasi").click()
    await expect(page.locator("#correction-pairs")).to_contain_text("Akun")
    await expect(page.locator("#active-model")).to_contain_text(seeded)

    await page.get_by_role("button", name="Latih ulang").click()
    figures = page.locator("#retrain-figures")
    await expect(figures).to_be_visible(timeout=60_000)
    for metric in ("accuracy", "macro_f1", "handoff_rate"):
        await expect(figures.locator(f'tr[data-metric="{metric}"] td')).to_have_count(3)
    await expect(page.locator("#retrain-categories tbody tr")).to_have_count(4)
    store = ModelStore(site.tmp / "models")
    assert store.active_version() == seeded  # the figures come before any activation
    assert site.app[FLOW].classifier.version == "scripted"  # type: ignore[attr-defined]

    await page.get_by_role("button", name="Aktifkan").click()
    await expect(page.get_by_role("status").first).to_have_text("Model baru aktif; bot langsung memakainya.")
    active = store.active_version()
    assert active not in (None, seeded)
    assert site.app[FLOW].classifier.version == active  # type: ignore[attr-defined]
    await expect(page.locator("#active-model")).to_contain_text(str(active))
    # Restore from the same page puts the previous version back in the running bot.
    await page.get_by_role("button", name="Kembalikan model sebelumnya").click()
    await expect(page.locator("#active-model")).to_contain_text(seeded)
    assert site.app[FLOW].classifier.version == seeded  # type: ignore[attr-defined]


async def test_an_agent_of_another_team_gets_404_and_no_queue_row(site: Served, browser: Any) -> None:
    from playwright.async_api import expect

    accounts, grades = await Team.create(name="Tim Akun"), await Team.create(name="Tim Nilai")
    await Category.filter(slug="reset-password").update(team_id=accounts.id)
    await set_user_teams(site.agent, [accounts.id])
    await set_user_teams(site.other, [grades.id])
    ticket = await site.hand_off(question="lupa password")
    assert ticket.team_id == accounts.id  # type: ignore[attr-defined]

    ana = await sign_in(browser, site, "ana@cc.test")
    await ana.goto(f"{site.url}/console/queue?view=all")
    await expect(ana.locator(f'#queue-rows tr[data-ticket-id="{ticket.id}"]')).to_have_count(1)

    bayu = await sign_in(browser, site, "bayu@cc.test")
    await bayu.goto(f"{site.url}/console/queue?view=all")
    await expect(bayu.locator("#queue-rows")).to_be_visible()
    await expect(bayu.locator(f'#queue-rows tr[data-ticket-id="{ticket.id}"]')).to_have_count(0)
    response = await bayu.goto(f"{site.url}/console/t/{ticket.id}")
    assert response is not None
    assert response.status == 404
