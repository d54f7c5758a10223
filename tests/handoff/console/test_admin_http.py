"""The supervisor pages over HTTP on SQLite and PostgreSQL: hours/SLA settings, teams (404 for another
team's ticket in the console and /api/v1), and retraining from the console with activation and restore."""

from __future__ import annotations

import asyncio
import html
import re
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import aiohttp
import pytest

from bot.app import FLOW
from handoff.auth import create_api_token
from handoff.i18n import console_catalog
from handoff.teams import set_user_teams
from models import AuditLog, Category, Setting, Team, Ticket, TicketStatus, UserRole
from nlp.store import ModelStore
from tests.handoff.console.admin_support import seed_model, serve
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


def settings_form(**overrides: str) -> dict[str, str]:
    form = {"public_holidays": "1", "sla_hours": "24", "closed_dates": "", "message_id": "", "message_en": ""}
    for day in range(5):
        form |= {f"open_{day}": "1", f"opens_{day}": "08:00", f"closes_{day}": "16:00"}
    return form | overrides


async def test_settings_bad_input_is_refused_with_the_form_kept(site: Served, web: Console) -> None:
    await web.login("sari@cc.test")
    response = await web.post("/console/admin/settings", settings_form(closes_1="07:30", sla_hours="-1",
                                                                       message_id="Tutup sampai {next_open}"))
    page = await response.text()
    assert response.status == 400
    assert "Jam selesai harus setelah jam mulai." in page
    assert "Target harus lebih dari 0" in page
    assert 'value="07:30"' in page  # what was typed comes back
    assert "Tutup sampai {next_open}" in page
    assert not await Setting.exists()
    assert not await AuditLog.filter(action="settings.operations").exists()


async def test_settings_save_is_audited_and_changes_the_queue_target(site: Served, web: Console) -> None:
    await web.login("sari@cc.test")
    response = await web.post("/console/admin/settings", settings_form(sla_hours="8"))
    assert (response.status, response.headers["Location"]) == (303, "/console/admin/settings?notice=notice_saved")
    entry = await AuditLog.get(action="settings.operations")
    assert (entry.actor_id, entry.data["sla_hours"], entry.data["previous_sla_hours"]) == (  # type: ignore[attr-defined]
        site.supervisor.id, "8", "24")
    queue = await web.get("/console/queue")
    assert 'data-sla="480"' in await queue.text()
    await site.hand_off()
    ticket = await Ticket.get()
    assert ticket.due_at - ticket.opened_at == timedelta(hours=8)


async def test_settings_are_for_supervisors_and_need_csrf(site: Served, web: Console) -> None:
    await web.login("ana@cc.test")
    assert (await web.get("/console/admin/settings")).status == 403
    assert (await web.post("/console/admin/settings", settings_form())).status == 403
    other = Console(site.url)
    try:
        await other.login("sari@cc.test")
        assert (await other.post("/console/admin/settings", settings_form(), csrf="forged")).status == 403
    finally:
        await other.close()
    assert not await Setting.exists()


async def api(site: Served, token: str, method: str, path: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    async with aiohttp.ClientSession() as http, http.request(
        method, f"{site.url}/api/v1{path}", json={} if method == "POST" else None,
        headers={"Authorization": f"Bearer {token}"},
    ) as response:
        return response.status, await response.json()


async def test_an_agent_of_another_team_gets_404_everywhere(site: Served, web: Console) -> None:
    await web.login("sari@cc.test")
    assert (await web.post("/console/admin/teams", {"name": "Tim Akun"})).status == 303
    assert (await web.post("/console/admin/teams", {"name": "Tim Nilai"})).status == 303
    assert (await web.post("/console/admin/teams", {"name": "Tim Akun"})).headers["Location"].endswith(
        "error_team_exists")
    accounts, grades = await Team.get(name="Tim Akun"), await Team.get(name="Tim Nilai")
    category = await Category.get(slug="reset-password")
    response = await web.post(f"/console/admin/teams/category/{category.id}", {"team_id": str(accounts.id)})
    assert response.status == 303
    assert (await web.post(f"/console/admin/users/{site.agent.id}",
                           {"role": "agent", "active": "1", "capacity": "10", "teams_shown": "1",
                            "team": str(accounts.id)})).status == 303
    await set_user_teams(site.other, [grades.id])
    assert [t.name for t in await site.agent.teams.all()] == ["Tim Akun"]
    assert await AuditLog.filter(action__in=["team.create", "category.team", "user.update"]).count() == 4

    ticket = await site.hand_off(question="lupa password")
    assert ticket.team_id == accounts.id  # type: ignore[attr-defined]

    ana, bayu = Console(site.url), Console(site.url)
    try:
        await ana.login("ana@cc.test")
        await bayu.login("bayu@cc.test")
        assert (await ana.get(f"/console/t/{ticket.id}")).status == 200
        assert ticket.number in await (await ana.get("/console/queue?view=all")).text()
        assert (await bayu.get(f"/console/t/{ticket.id}")).status == 404
        assert (await bayu.get("/console/t/999999")).status == 404  # the same answer as a missing ticket
        assert ticket.number not in await (await bayu.get("/console/queue?view=all")).text()
        assert (await bayu.post(f"/console/t/{ticket.id}/take", {})).status == 404
        assert (await Ticket.get(id=ticket.id)).assignee_id is None  # type: ignore[attr-defined]
        assert ticket.number in await (await web.get("/console/queue?view=all")).text()  # supervisor sees all
    finally:
        await ana.close()
        await bayu.close()

    _, bayu_token = await create_api_token(name="bayu", role=UserRole.AGENT, user=site.other)
    _, ana_token = await create_api_token(name="ana", role=UserRole.AGENT, user=site.agent)
    _, reports = await create_api_token(name="reports", role=UserRole.SUPERVISOR)
    assert (await api(site, bayu_token, "GET", f"/tickets/{ticket.id}"))[0] == 404
    assert (await api(site, bayu_token, "GET", f"/conversations/{ticket.conversation_id}/messages"))[0] == 404  # type: ignore[attr-defined]
    assert (await api(site, bayu_token, "POST", f"/tickets/{ticket.id}/take"))[0] == 404
    status, listing = await api(site, bayu_token, "GET", "/tickets")
    assert (status, listing["total"]) == (200, 0)
    status, body = await api(site, ana_token, "GET", f"/tickets/{ticket.id}")
    assert (status, body["team"]) == (200, {"id": accounts.id, "name": "Tim Akun"})
    status, listing = await api(site, reports, "GET", "/tickets")
    assert [item["id"] for item in listing["items"]] == [ticket.id]


async def confirmed(site: Served, user: str, question: str, slug: str) -> Ticket:
    ticket = await site.hand_off(user=user, question=question)
    category = await Category.get(slug=slug)
    # Confirmed by an agent (handoff.categorization): only such tickets teach the classifier.
    await Ticket.filter(id=ticket.id).update(status=TicketStatus.RESOLVED, category_id=category.id,
                                             resolved_at=ticket.opened_at, category_confirmed_at=ticket.opened_at,
                                             category_agreed=slug == ticket.predicted_category)
    return ticket


async def wait_for_retrain(web: Console) -> str:
    for _ in range(600):
        page = await (await web.get("/console/admin/classifier")).text()
        if 'data-status="running"' not in page:
            return page
        await asyncio.sleep(0.1)
    raise AssertionError("the retrain did not finish")


async def test_retrain_shows_figures_then_activates_and_restores(site: Served, web: Console) -> None:
    seeded = await asyncio.to_thread(seed_model, site.tmp / "models")
    await confirmed(site, "1", "link reset password tidak masuk ke email", "reset-password")
    await confirmed(site, "2", "nilai UTS belum keluar di edunex", "nilai")
    # The bot guessed reset-password ("password"); the agent filed it under akun-login.
    changed = await confirmed(site, "3", "tidak bisa login sso padahal password benar", "akun-login")
    assert changed.predicted_category == "reset-password"
    await web.login("sari@cc.test")
    page = await (await web.get("/console/admin/classifier")).text()
    names = {c.slug: html.escape(c.name_id) for c in await Category.all()}
    assert f"<tr><td>{names['reset-password']}</td><td>{names['akun-login']}</td><td>1</td></tr>" in page
    assert f'<a href="/console/t/{changed.id}">{changed.number}</a>' in page

    response = await web.post("/console/admin/classifier/retrain", {})
    assert response.headers["Location"].endswith("notice_retrain_started")
    assert (await web.get("/healthz")).status == 200  # the server answers while training
    page = await wait_for_retrain(web)
    assert 'id="retrain-figures"' in page
    assert "Aktifkan" in page
    store = ModelStore(site.tmp / "models")
    candidate = next(v for v in store.list() if v.version != seeded)
    assert store.active_version() == seeded  # nothing changes before the supervisor decides

    response = await web.post("/console/admin/classifier/activate", {"version": candidate.version})
    assert response.headers["Location"].endswith("notice_classifier_activated")
    assert store.active_version() == candidate.version
    assert site.app[FLOW].classifier.version == candidate.version  # type: ignore[attr-defined]
    assert await AuditLog.filter(action__in=["classifier.retrain", "classifier.retrained",
                                             "classifier.activate"]).count() == 3

    response = await web.post("/console/admin/classifier/restore", {})
    assert response.headers["Location"].endswith("notice_classifier_restored")
    assert store.active_version() == seeded
    assert site.app[FLOW].classifier.version == seeded  # type: ignore[attr-defined]


async def test_a_regressing_candidate_is_refused_with_the_reason(site: Served, web: Console) -> None:
    seeded = await asyncio.to_thread(seed_model, site.tmp / "models")
    # Careless confirmations: login and password questions filed under grades. The candidate learns
    # contradictions and loses the precision of its answers, which refuses it whatever else it does.
    for n, text in enumerate(["ga bisa login edunex", "akun saya terkunci", "login gagal terus user not found",
                              "akun tidak terdaftar", "cannot sign in to my account",
                              "akun diblokir setelah salah password", "lupa password edunex gimana resetnya",
                              "link reset kata sandi ga masuk ke email", "mau ganti password akun",
                              "reset password gagal terus"]):
        await confirmed(site, str(10 + n), text, "nilai")
    await web.login("sari@cc.test")
    await web.post("/console/admin/classifier/retrain", {})
    page = await wait_for_retrain(web)
    assert 'id="retrain-refused"' in page
    # Why, in the catalogue's words (precision first), not the log line "precision_answered 0.9 < 0.95".
    refused = page[page.index('id="retrain-refused"'):]
    refused = refused[: refused.index("</div>")]
    t = console_catalog("id")
    assert html.escape(t("retrain_refused")) in refused
    assert '<li data-metric="precision_answered">' + html.escape(t("metric_precision_answered")) in refused
    assert not re.search(r"precision_answered (none answered|[0-9.]+) <", page)
    store = ModelStore(site.tmp / "models")
    candidate = next(v for v in store.list() if v.version != seeded)
    response = await web.post("/console/admin/classifier/activate", {"version": candidate.version})
    assert response.headers["Location"].endswith("error_candidate_regresses")
    assert store.active_version() == seeded
    response = await web.post("/console/admin/classifier/discard", {"version": candidate.version})
    assert response.headers["Location"].endswith("notice_classifier_discarded")
    assert [v.version for v in store.list()] == [seeded]
