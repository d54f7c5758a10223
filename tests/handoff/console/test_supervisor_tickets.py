"""The supervisor's ticket list and the export downloads over HTTP, on SQLite and PostgreSQL: rows linking to
their tickets, bad filters as a sentence (never a 500), supervisors only, and the files parsed back."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
from markupsafe import escape
from openpyxl import load_workbook

from handoff.auth import create_api_token
from handoff.exports import columns
from handoff.reports.archive import generate_month, previous_month
from handoff.reports.period import Period
from models import AuditLog, GeneratedReport, Ticket, UserRole
from tests.handoff.console.admin_support import serve
from tests.handoff.console.conftest import Console, Served
from tests.handoff.reports_data import NOVEMBER_NOW, WIB, build_supervisor_month

NOVEMBER = "since=2026-11-01&until=2026-12-01"
NIM = "13521099"


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


def _csv(data: bytes) -> list[dict[str, str]]:
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    return [dict(zip(columns(), row, strict=True)) for row in rows[1:]]


async def test_supervisor_finds_tickets_by_nim_with_links_and_counts(site: Served, web: Console) -> None:
    t = await build_supervisor_month()
    await web.login("sari@cc.test")
    page = await web.http.get(f"{site.url}/console/admin/tickets?{NOVEMBER}&q={NIM}")
    body = await page.text()
    assert page.status == 200
    for key in ("R1", "R2", "R3"):
        assert f'<a class="ticket-link" href="/console/t/{t[key].id}">{t[key].number}</a>' in body
    assert t["T4"].number not in body
    # The counts cover the whole period, whatever the search: one low rating (T2), one reopened (R1).
    link = "?since=2026-11-01&amp;until=2026-12-01&amp;q=13521099&amp;exception=low_rating"
    assert f'data-flag="low_rating"><a href="{link}"><span class="big">1</span>' in body
    assert 'data-flag="reopened"><a' in body
    # The form's own "none" choices and its empty fields come back as a valid search (Jinja's `none` is None).
    assert '<option value="none" >tidak ada</option>' in body
    empty = await web.get(f"/console/admin/tickets?{NOVEMBER}&q=&status=&category=none&confirmed=&agent=&team="
                          "&channel=&sla=&rating=")
    assert empty.status == 200
    # A ticket's link opens it.
    ticket = await web.get(f"/console/t/{t['R1'].id}")
    assert ticket.status == 200


@pytest.mark.parametrize(("query", "sentence"), [
    ("status=closed", "status harus salah satu dari: open, pending, escalated, resolved."),
    ("rating=9", "Penilaian harus angka 1 sampai 5."),
    ("since=kemarin", "since harus berupa tanggal TTTT-BB-HH atau waktu seperti 2026-11-01T08:00:00+07:00."),
    ("agent=%27%20OR%201%3D1", "agent harus berupa nomor yang valid atau \"none\"."),
    ("stauts=open", "Parameter tidak dikenal: stauts."),
])
async def test_bad_filters_are_a_sentence_on_the_page(site: Served, web: Console, query: str, sentence: str) -> None:
    await web.login("sari@cc.test")
    page = await web.http.get(f"{site.url}/console/admin/tickets?{query}")
    assert page.status == 400
    assert f'<p class="notice error" role="alert" id="search-error">{escape(sentence)}</p>' in await page.text()


async def test_the_page_and_the_export_are_for_supervisors(site: Served, web: Console) -> None:
    await web.login("ana@cc.test")
    assert (await web.get("/console/admin/tickets")).status == 403
    assert (await web.get(f"/console/admin/tickets/export?{NOVEMBER}")).status == 403


async def test_console_downloads_the_filtered_export(site: Served, web: Console) -> None:
    t = await build_supervisor_month()
    await web.login("sari@cc.test")
    async with web.http.get(f"{site.url}/console/admin/tickets/export?{NOVEMBER}&q={NIM}&format=csv") as got:
        assert got.status == 200
        assert got.headers["Content-Disposition"] == 'attachment; filename="tickets-2026-11-01_2026-12-01.csv"'
        assert got.headers["Content-Type"] == "text/csv; charset=utf-8"
        rows = _csv(await got.read())
    assert [(r["number"], r["id_number"], r["contact_name"]) for r in rows] == [
        (t[k].number, NIM, "Rina Wulandari") for k in ("R1", "R2", "R3")]
    url = f"{site.url}/console/admin/tickets/export?{NOVEMBER}&format=xlsx&mask=1&status=open"
    async with web.http.get(url) as got:
        assert got.status == 200
        assert got.headers["Content-Disposition"] == \
            'attachment; filename="tickets-2026-11-01_2026-12-01-masked.xlsx"'
        book = load_workbook(io.BytesIO(await got.read()), read_only=True)
    sheet = book.worksheets[0]
    numbers = [row[0] for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert numbers == [t[k].number for k in ("T4", "T5", "U")]
    async with web.http.get(f"{site.url}/console/admin/tickets/export?{NOVEMBER}&format=pdf") as refused:
        assert refused.status == 400
        assert "format harus salah satu dari: csv, xlsx." in await refused.text()


async def test_api_export_for_supervisor_tokens_only(site: Served) -> None:
    t = await build_supervisor_month()
    _, boss = await create_api_token(name="bi", role=UserRole.SUPERVISOR)
    _, agent = await create_api_token(name="crm", role=UserRole.AGENT, user=site.agent)
    _, promoted = await create_api_token(name="sari", role=UserRole.SUPERVISOR, user=site.supervisor)
    async with aiohttp.ClientSession() as http:
        async def get(token: str, query: str) -> tuple[int, dict[str, str], bytes]:
            async with http.get(f"{site.url}/api/v1/exports/tickets?{query}",
                                headers={"Authorization": f"Bearer {token}"}) as got:
                return got.status, dict(got.headers), await got.read()

        status, headers, data = await get(boss, f"{NOVEMBER}&format=csv&mask=1&lang=en")
        assert status == 200
        assert headers["Content-Disposition"] == 'attachment; filename="tickets-2026-11-01_2026-12-01-masked.csv"'
        rows = _csv(data)
        assert len(rows) == await Ticket.filter(number__in=[v.number for k, v in t.items()
                                                            if k not in ("T0", "T7")]).count() == 11
        assert {r["id_number"] for r in rows if r["contact_name"] == "R. W."} == {"135***99"}
        status, _, data = await get(promoted, f"{NOVEMBER}&format=xlsx")
        assert status == 200
        sheet = load_workbook(io.BytesIO(data), read_only=True).worksheets[0]
        assert len(list(sheet.iter_rows(values_only=True))) == 12  # the header and the 11 tickets
        status, headers, data = await get(agent, NOVEMBER)
        assert (status, data) == (403, b'{"error": "forbidden", "detail": "exports are for supervisors\' tokens"}')
        status, _, data = await get(boss, "since=2026-11-01&until=2026-13-01")
        assert status == 400
        assert b"until must be a date YYYY-MM-DD." in data
        status, _, data = await get(boss, "format=ods")
        assert (status, b"format must be one of: csv, xlsx." in data) == (400, True)
        status, _, _ = await get(boss, "page=2")
        assert status == 400
        status, headers, _ = await get("nope", NOVEMBER)
        assert (status, headers["WWW-Authenticate"].startswith("Bearer")) == (401, True)


async def test_monthly_reports_are_listed_and_downloaded_by_supervisors(site: Served, web: Console) -> None:
    await build_supervisor_month()
    stored = await generate_month(period=Period.month(2026, 11, WIB), now=NOVEMBER_NOW)
    xlsx = next(r for r in stored if r.format == "xlsx")
    await web.login("sari@cc.test")
    page = await web.http.get(f"{site.url}/console/admin/reports")
    assert f'<a class="report-download" href="/console/admin/reports/{xlsx.id}" download>XLSX (id)</a>' \
        in await page.text()
    async with web.http.get(f"{site.url}/console/admin/reports/{xlsx.id}") as got:
        assert got.status == 200
        assert got.headers["Content-Disposition"] == 'attachment; filename="laporan-care-center-2026-11-id.xlsx"'
        assert load_workbook(io.BytesIO(await got.read())).worksheets
    assert (await web.get("/console/admin/reports/999999")).status == 404
    assert (await web.get("/console/admin/reports/x")).status == 404
    agent = Console(site.url)
    try:
        await agent.login("ana@cc.test")
        assert (await agent.get("/console/admin/reports")).status == 403
        assert (await agent.get(f"/console/admin/reports/{xlsx.id}")).status == 403
    finally:
        await agent.close()


async def test_a_supervisor_generates_a_finished_months_report_once(site: Served, web: Console) -> None:
    month = previous_month(datetime.now(UTC), WIB)  # the served console runs on the real clock
    running = month.start.replace(day=28) + timedelta(days=7)  # a day of the month in progress
    await web.login("sari@cc.test")
    page = await (await web.get("/console/admin/reports")).text()
    assert f'<option value="{month.start.isoformat()[:7]}">' in page
    assert f'<option value="{running.isoformat()[:7]}">' not in page

    done = await web.post("/console/admin/reports", {"month": month.start.isoformat()[:7], "lang": "en"})
    assert (done.status, done.headers["Location"]) == (303, "/console/admin/reports?notice=notice_report_generated")
    stored = await GeneratedReport.filter(month=month.start, lang="en").values_list("format", flat=True)
    assert sorted(stored) == ["pdf", "xlsx"]
    assert await AuditLog.filter(action="report.generate", target=month.start.isoformat()[:7]).count() == 1

    again = await web.post("/console/admin/reports", {"month": month.start.isoformat()[:7], "lang": "en"})
    assert again.headers["Location"] == "/console/admin/reports?notice=notice_report_exists"
    assert await GeneratedReport.filter(month=month.start, lang="en").count() == 2

    for refused in ({"month": running.isoformat()[:7], "lang": "en"}, {"month": "2026-13", "lang": "id"},
                    {"month": month.start.isoformat()[:7], "lang": "fr"}, {}):
        answer = await web.post("/console/admin/reports", refused)
        assert answer.status == 400
        assert "Pilih bulan yang sudah selesai dari daftar." in await answer.text()  # Indonesian by default
    assert await GeneratedReport.all().count() == 2

    agent = Console(site.url)
    try:
        await agent.login("ana@cc.test")
        forbidden = await agent.post("/console/admin/reports", {"month": month.start.isoformat()[:7], "lang": "id"})
        assert forbidden.status == 403
        assert await GeneratedReport.all().count() == 2
    finally:
        await agent.close()
