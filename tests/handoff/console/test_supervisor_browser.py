"""SOP steps 9 and 10 in a real browser: a supervisor finds a closed ticket by NIM on the ticket list, opens
it, downloads the filtered export (CSV parsed, XLSX opened with openpyxl) and the monthly report the job
stored on the 1st (XLSX opened, PDF read back)."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pypdfium2
import pytest
from openpyxl import load_workbook

from handoff.exports import columns
from handoff.jobs import JobContext, registry
from tests.handoff.console.conftest import Served
from tests.handoff.console.test_browser import CHROMIUM, browser, shots, sign_in
from tests.handoff.reports_data import WIB, build_supervisor_month, wib

__all__ = ["browser"]

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed")]
NIM = "13521099"


async def _download(page: Any, selector: str, target: Path) -> Path:
    async with page.expect_download() as info:
        await page.click(selector)
    download = await info.value
    path = target / download.suggested_filename
    await download.save_as(str(path))
    return path


async def test_supervisor_finds_a_closed_ticket_by_nim_and_downloads(served: Served, browser: Any,
                                                                     tmp_path: Path) -> None:
    from playwright.async_api import expect

    t = await build_supervisor_month()
    job = next(j for j in registry(JobContext(tz=WIB)) if j.name == "monthly_report")
    await job.run(wib(2026, 12, 1, 6, 0))  # the scheduler's run on the 1st

    page = await sign_in(browser, served, "sari@cc.test")
    await page.click('nav a[href="/console/admin/tickets"]')
    await expect(page.locator("h1")).to_have_text("Semua tiket periode ini")
    await page.fill('#ticket-filters input[name="since"]', "2026-11-01")
    await page.fill('#ticket-filters input[name="until"]', "2026-12-01")
    await page.fill('#ticket-filters input[name="q"]', NIM)
    await page.select_option('#ticket-filters select[name="status"]', "resolved")
    await page.click("#apply-filters")
    rows = page.locator("#supervisor-tickets tbody tr")
    await expect(rows).to_have_count(3)
    closed = page.locator(f'#supervisor-tickets tr[data-ticket-id="{t["R1"].id}"]')
    await expect(closed).to_contain_text("Selesai")
    await expect(closed).to_contain_text("Rina Wulandari")
    await expect(page.locator('#exceptions [data-flag="reopened"] .big')).to_have_text("1")
    await page.screenshot(path=str(shots(tmp_path) / "supervisor-tickets.png"), full_page=True)

    csv_file = await _download(page, "#export-csv", tmp_path)
    assert csv_file.name == "tickets-2026-11-01_2026-12-01.csv"
    parsed = list(csv.reader(io.StringIO(csv_file.read_bytes().decode("utf-8-sig"), newline="")))
    found = [dict(zip(columns(), row, strict=True)) for row in parsed[1:]]
    assert [(r["number"], r["id_number"], r["status"]) for r in found] == [
        (t[k].number, NIM, "selesai") for k in ("R1", "R2", "R3")]
    await page.check('#ticket-export input[name="mask"]')
    xlsx_file = await _download(page, "#export-xlsx", tmp_path)
    assert xlsx_file.name == "tickets-2026-11-01_2026-12-01-masked.xlsx"
    sheet = load_workbook(xlsx_file, read_only=True).worksheets[0]
    cells = list(sheet.iter_rows(min_row=2, values_only=True))
    assert [(row[0], row[columns().index("id_number")]) for row in cells] == [
        (t[k].number, "135***99") for k in ("R1", "R2", "R3")]

    await closed.locator("a.ticket-link").click()
    await expect(page).to_have_url(f"{served.url}/console/t/{t['R1'].id}")

    await page.click('nav a[href="/console/admin/reports"]')
    report_rows = page.locator("#monthly-reports tbody tr")
    await expect(report_rows).to_have_count(2)
    xlsx_report = await _download(page, '#monthly-reports tr[data-format="xlsx"] a', tmp_path)
    assert xlsx_report.name == "laporan-care-center-2026-11-id.xlsx"
    assert load_workbook(xlsx_report).sheetnames
    pdf_report = await _download(page, '#monthly-reports tr[data-format="pdf"] a', tmp_path)
    document = pypdfium2.PdfDocument(pdf_report)
    try:
        assert "Laporan Care Center — November 2026" in document[0].get_textpage().get_text_range()
    finally:
        document.close()
