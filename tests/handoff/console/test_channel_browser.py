"""The closing-window alert in a real browser: pushed over the console WebSocket, shown to the agents."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from bot.app import FLOW, REGISTRY
from bot.channels.memory import MemoryChannel
from handoff.whatsapp_window import sweep
from models import ChannelIdentity, ChannelKind, Ticket
from tests.handoff.console.conftest import Served
from tests.handoff.console.test_browser import browser, live, pytestmark, sign_in
from tests.handoff.console.test_channel_state import wa_say

__all__ = ["browser", "pytestmark"]


async def test_an_unassigned_ticket_s_closing_window_alerts_every_agent_live(served: Served, browser: Any) -> None:
    from playwright.async_api import expect

    served.app[REGISTRY].add(MemoryChannel(kind=ChannelKind.WHATSAPP))
    for text in ("halo", "13521045", "agen"):
        await wa_say(served, text)
    ticket = await Ticket.get(channel=ChannelKind.WHATSAPP)
    page = await sign_in(browser, served, "bayu@cc.test")
    await page.goto(f"{served.url}/console/queue?view=unassigned")
    await live(page)
    alert = page.locator("#live-alert")
    await expect(alert).to_be_hidden()

    await ChannelIdentity.filter(channel=ChannelKind.WHATSAPP).update(
        last_inbound_at=datetime.now(UTC) - timedelta(hours=23)
    )
    assert len(await sweep(now=datetime.now(UTC), notify=served.app[FLOW].notify)) == 1
    await expect(alert).to_be_visible()
    await expect(alert).to_contain_text("Jendela WhatsApp sebuah tiket yang menunggu balasan segera tertutup.")
    await expect(alert.get_by_role("link", name="Buka tiket")).to_have_attribute("href", f"/console/t/{ticket.id}")
    # The queue row refreshed itself too.
    await expect(page.locator(f'tr[data-ticket-id="{ticket.id}"] .wa-window.wa-closing')).to_be_visible()
