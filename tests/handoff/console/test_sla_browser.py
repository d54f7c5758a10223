"""SLA notices in a real browser: a warning pushed over the console WebSocket to an unassigned ticket's
agents, a breach to the supervisor; the alert links the ticket."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bot.app import FLOW
from handoff import sla
from models import Ticket
from tests.handoff.console.conftest import Served
from tests.handoff.console.test_browser import browser, live, pytestmark, sign_in

__all__ = ["browser", "pytestmark"]


async def test_a_warning_alerts_the_agents_and_a_breach_the_supervisor_live(served: Served, browser: Any) -> None:
    from playwright.async_api import expect

    ticket = await served.hand_off()
    agent_page = await sign_in(browser, served, "ana@cc.test")
    await agent_page.goto(f"{served.url}/console/queue")
    await live(agent_page)
    alert = agent_page.locator("#live-alert")
    await expect(alert).to_be_hidden()
    publish = served.app[FLOW].notify
    assert await sla.sweep(now=ticket.opened_at + timedelta(minutes=31), publish=publish) == 1
    await expect(alert).to_contain_text("Peringatan SLA: sebuah tiket Anda mendekati targetnya.")
    await expect(alert.get_by_role("link", name="Buka tiket")).to_have_attribute("href", f"/console/t/{ticket.id}")

    boss_page = await sign_in(browser, served, "sari@cc.test")
    await boss_page.goto(f"{served.url}/console/queue")
    await live(boss_page)
    assert await sla.sweep(now=ticket.opened_at + timedelta(minutes=61), publish=publish) == 1
    await expect(boss_page.locator("#live-alert")).to_contain_text("Sebuah tiket melewati target SLA-nya.")
    assert (await Ticket.get(id=ticket.id)).sla_next_check_at is not None  # resolution notices still to come
