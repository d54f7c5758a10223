"""SLA notices in a real browser: a warning pushed over the console WebSocket to an unassigned ticket's
agents, a breach to the supervisor; the alert links the ticket."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.app import FLOW
from handoff import actions, sla
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


async def paused_and_at_risk(served: Served) -> tuple[Ticket, Ticket]:
    """Two of Ana's tickets: one twenty hours into its 24-hour target (at risk), one waiting on the user
    under a policy that pauses the clock."""
    await sla.save_policy(sla.SlaPolicy(pause_when_waiting=True))
    late = await served.hand_off(user="701")
    waiting = await served.hand_off(user="702", nim="16522101")
    now = datetime.now(UTC)
    for ticket in (late, waiting):
        await actions.take_ticket(ticket_id=ticket.id, agent=served.agent, now=now)
    # Twenty hours ago, as far as its clock goes: the times a ticket opened that long ago would have.
    opened = now - timedelta(hours=20)
    await Ticket.filter(id=late.id).update(opened_at=opened, due_at=opened + timedelta(hours=24),
                                           first_response_at=opened + timedelta(minutes=5))
    waiting = await Ticket.get(id=waiting.id)
    await actions.set_waiting(ticket=waiting, agent=served.agent, waiting=True, now=now)
    return late, waiting


async def test_the_queue_shades_by_each_tickets_own_sla_and_shows_a_paused_one(served: Served, browser: Any) -> None:
    from playwright.async_api import expect

    late, waiting = await paused_and_at_risk(served)
    page = await sign_in(browser, served, "ana@cc.test")
    await page.goto(f"{served.url}/console/queue?view=all")
    at_risk = page.locator(f'tr[data-ticket-id="{late.id}"] .sla')
    await expect(at_risk).to_have_class("sla sla-risk")
    await expect(at_risk).to_have_attribute("data-sla-state", "at_risk")
    await expect(at_risk).to_have_text(re.compile(r"^3h 5\dm$"))  # just under four hours left
    paused = page.locator(f'tr[data-ticket-id="{waiting.id}"] .sla')
    await expect(paused).to_have_class("sla sla-paused")
    await expect(paused).to_have_text("dijeda (menunggu pengguna)")
    assert await paused.get_attribute("data-due") is None  # the script does not count a paused clock down
