"""SOP step 3 in a real browser (Playwright, Debian's chromium): an agent finds the person of an unverified
ticket in the directory and links the ticket's chat to them, with a reason; the page then shows it proven."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from handoff import actions
from models import AuditLog, ChannelIdentity, ProofLevel, ProofMethod, Ticket
from tests.handoff.console.conftest import Served
from tests.handoff.console.test_browser import CHROMIUM, browser, shots, sign_in

__all__ = ["browser"]  # the fixture, used by name
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed"),
]


async def test_an_agent_links_an_unverified_contact_found_in_the_directory(
    browser: Any, served: Served, tmp_path: Path
) -> None:
    from playwright.async_api import expect

    ticket = await served.hand_off(user="999", name="Tamu", verify=False)
    await actions.take_ticket(ticket_id=ticket.id, agent=served.agent, now=datetime.now(UTC))
    page = await sign_in(browser, served, "ana@cc.test")
    await page.goto(f"{served.url}/console/t/{ticket.id}")
    own = page.locator("#addresses li.address")
    await expect(own).to_have_attribute("data-level", "none")

    await page.fill("#directory-q", "Siti")
    await page.click("#directory-search button[type=submit]")
    hit = page.locator('li.directory-hit[data-number="16522101"]')
    await expect(hit).to_contain_text("Siti Percobaan (Fiktif)")
    await expect(hit.locator(".directory-status")).to_have_text("Status direktori: aktif")

    await hit.locator('input[name="reason"]').fill("Dicek lewat panggilan video dengan KTM")
    await hit.locator("button.primary").click()
    await expect(page.locator("p.notice.ok")).to_have_text("Kanal ini kini terbukti milik orang ini.")
    await expect(own).to_have_attribute("data-level", "proven")
    await expect(own).to_contain_text("diverifikasi agen")
    await expect(page.locator(".contact-name")).to_have_text("Siti Percobaan (Fiktif)")
    await expect(page.locator("#timeline")).to_contain_text("Dicek lewat panggilan video dengan KTM")
    await page.screenshot(path=str(shots(tmp_path) / "console-verification.png"), full_page=True)

    identity = await ChannelIdentity.get(external_id="999")
    assert (identity.proof, identity.proof_method) == (ProofLevel.PROVEN, ProofMethod.AGENT)
    assert not (await Ticket.get(id=ticket.id)).unverified
    assert (await AuditLog.get(action="identity.prove")).data["reason"] == "Dicek lewat panggilan video dengan KTM"
