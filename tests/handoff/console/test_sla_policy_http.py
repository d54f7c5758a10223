"""The SLA policy form on the supervisor's settings page, over HTTP (SQLite and PostgreSQL): validation that
names every bad field and keeps what was typed, saving, the audit, and a new ticket opened with it."""

from __future__ import annotations

from datetime import timedelta

from models import AuditLog, Setting, SlaCounting, Ticket
from tests.handoff.console.conftest import Console, Served
from tests.handoff.console.test_admin_http import site, web

__all__ = ["site", "web"]


def policy_form(**overrides: str) -> dict[str, str]:
    return {"first_response_minutes": "60", "counting": "calendar", "warnings": "50, 75, 90", "rules": ""} | overrides


async def test_a_bad_policy_comes_back_with_every_error_and_nothing_saved(site: Served, web: Console) -> None:
    await web.login("sari@cc.test")
    response = await web.post("/console/admin/sla", policy_form(
        first_response_minutes="0", warnings="50, 150", rules="akun-login urgent 10\ntak-ada * - 60"))
    page = await response.text()
    assert response.status == 400
    assert "Target harus lebih dari 0" in page
    assert "Peringatan berupa 1 sampai 5 persentase" in page
    assert "Aturan baris 1: Tulis empat bagian" in page
    assert "tak-ada * - 60" in page  # what was typed comes back
    assert not await Setting.filter(key="sla_policy").exists()
    unknown = await web.post("/console/admin/sla", policy_form(rules="tak-ada * - 60"))
    assert unknown.status == 400
    assert "Aturan baris 1: Kategori tidak dikenal." in await unknown.text()


async def test_a_saved_policy_applies_to_the_next_ticket_and_is_audited(site: Served, web: Console) -> None:
    await web.login("sari@cc.test")
    response = await web.post("/console/admin/sla", policy_form(
        first_response_minutes="30", counting="operating", pause_when_waiting="1", rules="* urgent 5 120"))
    assert (response.status, response.headers["Location"]) == (
        303, "/console/admin/settings?notice=notice_saved#sla-policy")
    page = await (await web.get("/console/admin/settings")).text()
    assert 'name="first_response_minutes" value="30"' in page
    assert "* urgent 5 120" in page
    entry = await AuditLog.get(action="settings.sla_policy")
    assert entry.actor_id == site.supervisor.id  # type: ignore[attr-defined]
    ticket = await site.hand_off()
    assert (ticket.sla_first_response_s, ticket.sla_counting, ticket.sla_pauses) == (
        1800, SlaCounting.OPERATING, True)
    assert ticket.sla_resolution_s == int(timedelta(hours=24).total_seconds())  # the settings page's target
    shown = await (await web.get(f"/console/t/{ticket.id}")).text()
    facts = shown[shown.index('id="sla-facts"'):]
    facts = facts[:facts.index("</dd>")]
    assert "Jam operasional saja" in facts  # the ticket says how its clock counts
    assert "Respons pertama:" in facts
    assert "Penyelesaian:" in facts


async def test_only_supervisors_set_the_policy(site: Served, web: Console) -> None:
    await web.login("ana@cc.test")
    assert (await web.post("/console/admin/sla", policy_form())).status == 403
    assert not await Ticket.exists()
