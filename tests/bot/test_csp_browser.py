"""Every page under its Content-Security-Policy, in chromium: nothing is refused and everything still works
(the web chat's socket, the console's live updates and dashboard bars, the survey form)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.app import CONTENT_SECURITY_POLICY, REGISTRY, content_security_policy
from bot.i18n import catalog
from handoff import actions
from handoff.survey import link_secret, make_link_token, survey_url
from models import Category, Ticket
from tests.handoff.console.conftest import PASSWORD, Served, serve_console
from tests.handoff.console.test_browser import CHROMIUM, browser

__all__ = ["browser"]
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed"),
]
# Recorded by the page itself, so a refusal is seen whatever chromium prints to its console.
WATCH = """window.__csp = [];
document.addEventListener("securitypolicyviolation",
  (e) => window.__csp.push(e.violatedDirective + " " + e.blockedURI));"""


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[Served]:
    async with serve_console(tmp_path) as running:
        yield running


async def watched_page(browser: Any) -> tuple[Any, Any, list[str]]:
    context = await browser.new_context(locale="id-ID")
    await context.add_init_script(WATCH)
    page = await context.new_page()
    printed: list[str] = []
    page.on("console", lambda m: printed.append(m.text) if "Content Security Policy" in m.text else None)
    return context, page, printed


async def refused(page: Any, printed: list[str]) -> list[str]:
    return [*await page.evaluate("window.__csp"), *printed]


async def test_every_page_carries_the_policy(served: Served) -> None:
    async with aiohttp.ClientSession() as http:
        for path in ("/chat", "/console/login", "/survey/not-a-token", "/healthz", "/console/queue"):
            async with http.get(f"{served.url}{path}", allow_redirects=False) as response:
                policy = response.headers.get("Content-Security-Policy", "")
                # The web chat may be framed by its own site (the widget); nothing else by anyone.
                expected = content_security_policy("'self'") if path == "/chat" else CONTENT_SECURITY_POLICY
                assert policy == expected, path
    assert "script-src 'self'" in CONTENT_SECURITY_POLICY
    assert "'unsafe-inline'" not in CONTENT_SECURITY_POLICY
    assert "frame-ancestors 'none'" in CONTENT_SECURITY_POLICY


async def test_the_web_chat_talks_over_its_socket_under_the_policy(served: Served, browser: Any) -> None:
    from playwright.async_api import expect

    context, page, printed = await watched_page(browser)
    await page.goto(f"{served.url}/chat")
    box = page.get_by_role("textbox")
    await box.fill("halo")
    await box.press("Enter")
    await expect(page.locator("li.msg--bot").nth(0)).to_contain_text("NIM (8 digit)")  # the one greeting
    assert await refused(page, printed) == []
    await context.close()


async def test_the_console_is_live_and_draws_its_bars_under_the_policy(served: Served, browser: Any) -> None:
    from playwright.async_api import expect

    await served.hand_off()
    context, page, printed = await watched_page(browser)
    await page.goto(f"{served.url}/console/login")
    await page.fill('input[name="email"]', "sari@cc.test")
    await page.fill('input[name="password"]', PASSWORD)
    await page.click('button[type="submit"]')
    await expect(page).to_have_url(f"{served.url}/console/queue")
    await expect(page.locator("body")).to_have_attribute("data-live", "1")  # console.js ran, its socket is open
    rows = page.locator("tbody tr")
    before = await rows.count()
    await served.hand_off(user="778", name="Dewi", nim="16522101")
    await expect(rows).to_have_count(before + 1)  # the live update reached the page and redrew it
    await page.goto(f"{served.url}/console/admin/dashboard")
    bar = page.locator(".bar rect").first
    await expect(bar).to_be_visible()
    assert (await bar.bounding_box())["width"] > 0
    assert await refused(page, printed) == []
    await context.close()


async def test_the_survey_page_is_styled_and_answers_under_the_policy(served: Served, browser: Any) -> None:
    from playwright.async_api import expect

    ticket = await served.hand_off()
    await actions.take_ticket(ticket_id=ticket.id, agent=served.agent, now=ticket.opened_at)
    ticket = await Ticket.get(id=ticket.id)
    await actions.categorize(ticket=ticket, category=await Category.get(slug="akun-login"), agent=served.agent)
    await actions.close_ticket(registry=served.app[REGISTRY], ticket=ticket, agent=served.agent,
                                now=ticket.opened_at, translate=lambda lang, key, /, **v: catalog(lang).t(key, **v))
    assert (await Ticket.get(id=ticket.id)).survey_sent_at is not None
    # The link a web chat user would get (this user is on Telegram, where the survey is buttons).
    token = make_link_token(ticket_id=ticket.id, secret=await link_secret(""), clock=lambda: ticket.opened_at)
    context, page, printed = await watched_page(browser)
    await page.goto(f"{served.url}{survey_url('', token)}")
    # The stylesheet applied: the rating labels are laid out as its flex row of bordered boxes.
    label = page.locator(".ratings label").first
    assert await label.evaluate("e => getComputedStyle(e).borderTopStyle") == "solid"
    await page.locator(".ratings label").nth(4).click()
    await page.get_by_role("button").click()
    await expect(page.locator("#survey")).to_have_attribute("data-state", "thanks")
    assert await refused(page, printed) == []
    await context.close()
    assert (await Ticket.get(id=ticket.id)).survey_rating == 5
