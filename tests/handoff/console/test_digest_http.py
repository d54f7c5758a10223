"""The console's side of the scheduled mails (handoff.digest): supervisors set the times on the settings page
and each supervisor's choice on the users page; bad input comes back with the form kept and nothing saved."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import time
from pathlib import Path

import pytest

from handoff.digest import Schedule, load_schedule
from models import AuditLog, Setting, User, UserRole
from tests.handoff.console.admin_support import serve
from tests.handoff.console.conftest import Console, Served


@pytest.fixture
async def site(db_url: str, tmp_path: Path) -> AsyncIterator[Served]:
    async with serve(tmp_path, database_url=db_url) as served:
        yield served


@pytest.fixture
async def web(site: Served) -> AsyncIterator[Console]:
    client = Console(site.url)
    try:
        yield client
    finally:
        await client.close()


async def test_the_schedule_is_set_on_the_settings_page(site: Served, web: Console) -> None:
    await web.login("sari@cc.test")
    page = await (await web.get("/console/admin/settings")).text()
    assert 'name="digest_daily_at" value="07:00"' in page  # the defaults until a supervisor saves
    refused = await web.post("/console/admin/settings/digest", {"digest_daily_at": "25:00", "digest_weekly_day": "9",
                                                                "digest_weekly_at": "17:30"})
    body = await refused.text()
    assert refused.status == 400
    assert 'value="25:00"' in body  # what was typed comes back
    assert "Pilih hari dalam seminggu." in body
    assert not await Setting.exists(key="digest")
    saved = await web.post("/console/admin/settings/digest", {"digest_daily_at": "06:30", "digest_weekly_day": "4",
                                                              "digest_weekly_at": "17:30"})
    assert (saved.status, saved.headers["Location"]) == (303, "/console/admin/settings?notice=notice_saved")
    assert await load_schedule() == Schedule(time(6, 30), 4, time(17, 30))
    entry = await AuditLog.get(action="settings.digest")
    assert entry.data["previous"]["digest_daily_at"] == "07:00"  # type: ignore[index]
    assert 'name="digest_daily_at" value="06:30"' in await (await web.get("/console/admin/settings")).text()


async def test_agents_cannot_set_the_schedule(site: Served, web: Console) -> None:
    await web.login("ana@cc.test")
    assert (await web.post("/console/admin/settings/digest", {"digest_daily_at": "06:30", "digest_weekly_day": "4",
                                                              "digest_weekly_at": "17:30"})).status == 403
    assert not await Setting.exists(key="digest")


async def test_a_supervisor_chooses_the_mails_on_the_users_page(site: Served, web: Console) -> None:
    await web.login("sari@cc.test")
    page = await (await web.get("/console/admin/users")).text()
    # On the supervisors' rows only, not the agents'.
    assert page.count('name="digest_daily"') == await User.filter(role=UserRole.SUPERVISOR).count()
    assert await User.filter(role=UserRole.AGENT).exists()
    me = site.supervisor
    response = await web.post(f"/console/admin/users/{me.id}", {"role": "supervisor", "capacity": "10",
                                                                "digests_shown": "1", "digest_monthly": "1"})
    assert response.status == 303
    saved = await User.get(id=me.id)
    assert (saved.digest_daily, saved.digest_weekly, saved.digest_monthly, saved.active) == (False, False, True, True)
    entry = await AuditLog.filter(action="user.update").order_by("-id").first()
    assert entry is not None
    assert entry.data["digests"] == {"daily": False, "weekly": False, "monthly": True}  # type: ignore[index]
    # A form without the fieldset (an agent's row) leaves the choices alone.
    assert (await web.post(f"/console/admin/users/{site.agent.id}", {"role": "agent", "active": "1",
                                                                     "capacity": "5"})).status == 303
    assert (await User.get(id=site.agent.id)).digest_daily is True
