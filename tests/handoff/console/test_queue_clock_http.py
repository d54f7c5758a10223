"""The queue's clock over HTTP on SQLite and PostgreSQL: each row carries the server's reading of its
ticket's own SLA (state and share used, handoff.sla.clock_face); a paused ticket says "paused" and gives
the page's script no due time to count down."""

from __future__ import annotations

import re

from tests.handoff.console.conftest import Console, Served
from tests.handoff.console.test_admin_http import site, web
from tests.handoff.console.test_sla_browser import paused_and_at_risk

__all__ = ["site", "web"]


def clock_of(page: str, ticket_id: int) -> str:
    row = page[page.index(f'data-ticket-id="{ticket_id}"'):]
    row = row[:row.index("</tr>")]
    found = re.search(r'<span class="sla [^"]*"[^>]*>[^<]*</span>', row)
    assert found is not None
    return found.group(0)


async def test_rows_carry_their_own_sla_state_and_a_paused_one_says_so(site: Served, web: Console) -> None:
    late, waiting = await paused_and_at_risk(site)
    await web.login("ana@cc.test")
    page = await (await web.get("/console/queue?view=all")).text()
    late_clock = clock_of(page, late.id)
    assert 'class="sla sla-risk"' in late_clock
    assert 'data-sla-state="at_risk"' in late_clock
    share = float(re.search(r'data-sla-share="([0-9.]+)"', late_clock).group(1))  # type: ignore[union-attr]
    assert 0.83 <= share < 0.84  # twenty hours of twenty-four
    paused_clock = clock_of(page, waiting.id)
    assert 'class="sla sla-paused"' in paused_clock
    assert 'data-sla-state="paused"' in paused_clock
    assert "data-due" not in paused_clock
    assert ">dijeda (menunggu pengguna)</span>" in paused_clock
    waiting_page = await (await web.get(f"/console/t/{waiting.id}")).text()
    assert 'data-sla-state="paused"' in waiting_page  # the ticket page reads the same face
