"""The monthly report: its narrative, the XLSX opened with openpyxl, the PDF rendered to images, and
files that are written whole or not at all."""

from __future__ import annotations

import os
from pathlib import Path

import pypdfium2
import pytest
from openpyxl import load_workbook
from openpyxl.chart import BarChart, LineChart

from handoff.reports.figures import compare_figures
from handoff.reports.monthly import ReportFormat, format_of, write_monthly_report
from handoff.reports.narrative import narrative
from handoff.reports.output import atomic_output
from handoff.reports.period import Period
from tests.handoff.reports_data import NOVEMBER_NOW, WIB, Builder, build_november, wib

NOVEMBER = Period.month(2026, 11, WIB)

NOVEMBER_ID = (
    "Pada November 2026 Care Center menerima 10 percakapan (naik 400 % dari Oktober 2026). "
    "Bot menyelesaikan sendiri 1 percakapan (11,1 %), 6 diserahkan ke petugas, dan 2 ditinggalkan pengguna di "
    "tengah jalan. Dari 6 tiket, 3 (60 %) selesai dalam target waktu, 1 masih berjalan. Median respons pertama "
    "30 menit dan median penyelesaian 3,5 jam. Kategori terbanyak adalah Nilai (2 tiket), dan 50 % tiket yang "
    "selesai memiliki kategori yang dikonfirmasi petugas. Rata-rata kepuasan pengguna 3,7 dari 5 (3 penilaian). "
    "1 tiket dieskalasi ke tim pengembang. 1 insiden baru dicatat, 1 diperbaiki pada periode ini."
)


async def test_the_narrative_in_both_languages(db: str) -> None:
    await build_november(await Builder().setup())
    both = await compare_figures(period=NOVEMBER, now=NOVEMBER_NOW)
    assert narrative(both) == NOVEMBER_ID
    english = narrative(both, "en")
    assert english.startswith("In November 2026 the Care Center received 10 conversations (up 400% from "
                              "October 2026). The bot resolved 1 conversation on its own (11.1%), 6 were handed "
                              "to agents, and 2 were abandoned midway. Of 6 tickets, 3 (60%) were resolved within "
                              "the target, 1 is still in progress.")
    assert "The largest category was Grades (2 tickets)" in english
    assert "(3 ratings)" in english

    october = await compare_figures(period=Period.month(2026, 10, WIB), now=NOVEMBER_NOW)
    assert narrative(october, "en") == (
        "In October 2026 the Care Center received 2 conversations. The bot resolved 1 conversation on its own "
        "(50%), 1 was handed to an agent, and none was abandoned midway. Of 1 ticket, 1 (100%) was resolved within "
        "the target. The median first response took 15 minutes and the median resolution 3 hours. The largest "
        "category was Grades (1 ticket), and 100% of the resolved tickets had a category confirmed by an agent. "
        "User satisfaction "
        "averaged 5 out of 5 (1 rating). No ticket was escalated to the developer team. 1 new incident was "
        "recorded, 0 fixed in the period."
    )


async def test_the_narrative_of_an_empty_month_and_a_fall(db: str) -> None:
    b = await Builder().setup()
    empty = await compare_figures(period=NOVEMBER, now=NOVEMBER_NOW)
    assert narrative(empty) == "Pada November 2026 Care Center tidak menerima percakapan. Tidak ada tiket yang dibuka."
    for day in (1, 2, 3, 4):
        await b.conversation(at=wib(2026, 10, day, 9))
    await b.ticket(at=wib(2026, 11, 30, 23))  # opened, not yet due on 1 December at noon
    fall = await compare_figures(period=NOVEMBER, now=NOVEMBER_NOW)
    assert narrative(fall).startswith(
        "Pada November 2026 Care Center menerima 1 percakapan (turun 75 % dari Oktober 2026). Bot belum "
        "menyelesaikan satu percakapan pun sendiri, 1 diserahkan ke petugas, dan tidak ada yang ditinggalkan "
        "pengguna di tengah jalan. 1 tiket dibuka dan masih berjalan, belum dapat dinilai terhadap target waktu. "
        "Belum ada penilaian kepuasan dari pengguna."
    )


@pytest.mark.parametrize("lang", ["id", "en"])
async def test_the_workbook(db: str, tmp_path: Path, lang: str) -> None:
    await build_november(await Builder().setup())
    target = tmp_path / "laporan.xlsx"
    await write_monthly_report(period=NOVEMBER, now=NOVEMBER_NOW, lang=lang, path=target, fmt=ReportFormat.XLSX)
    book = load_workbook(target)
    names = {"id": ["Ringkasan", "Harian", "Saluran", "Kategori", "Kepuasan", "Petugas"],
             "en": ["Summary", "Daily", "Channels", "Categories", "Satisfaction", "Agents"]}[lang]
    assert book.sheetnames == names
    summary, daily, channels, categories, csat, agents = (book[n] for n in names)
    title = {"id": "Laporan Care Center — November 2026", "en": "Care Center Report — November 2026"}[lang]
    assert summary["A1"].value == title
    assert summary["A4"].value.startswith({"id": "Pada November 2026", "en": "In November 2026"}[lang])
    figures = {row[0]: row[1:] for row in summary.iter_rows(min_row=5, values_only=True) if row[0]}
    label = {"id": ("Percakapan", "Porsi selesai dalam target", "Median respons pertama (menit)"),
             "en": ("Conversations", "Share resolved within target", "Median first response (minutes)")}[lang]
    assert figures[label[0]] == (10, 2, 4.0)
    assert figures[label[1]] == (0.6, 1.0, None)
    assert figures[label[2]] == (30.0, 15.0, 1.0)
    assert daily.max_row == 31
    assert [c.value for c in daily[31]][1:] == [2, 1]
    assert next(iter(channels.iter_rows(min_row=2, values_only=True)))[1:] == (4, 2)
    assert next(iter(categories.iter_rows(min_row=2, values_only=True))) == (
        {"id": "Nilai", "en": "Grades"}[lang], 2)
    assert [r[1] for r in csat.iter_rows(min_row=2, values_only=True)] == [0, 1, 0, 1, 1]
    assert next(iter(agents.iter_rows(min_row=2, values_only=True))) == ("Ani", 3, 2, 20.0, 3.5, 2)
    # Native charts, one per breakdown sheet.
    assert [type(c) for c in daily._charts] == [LineChart]
    for sheet in (channels, categories, csat):
        assert [type(c) for c in sheet._charts] == [BarChart]


def _pages(path: Path) -> list[tuple[int, int]]:
    """Each page rendered: (pixels darker than white, its area) — a blank page has no dark pixels."""
    document = pypdfium2.PdfDocument(path)
    try:
        pages = []
        for index in range(len(document)):
            image = document[index].render(scale=1).to_pil().convert("L")
            histogram = image.histogram()
            pages.append((sum(histogram[:200]), image.width * image.height))
        return pages
    finally:
        document.close()


@pytest.mark.parametrize("lang", ["id", "en"])
async def test_the_pdf_renders(db: str, tmp_path: Path, lang: str) -> None:
    await build_november(await Builder().setup())
    target = tmp_path / "laporan.pdf"
    await write_monthly_report(period=NOVEMBER, now=NOVEMBER_NOW, lang=lang, path=target, fmt=ReportFormat.PDF)
    pages = _pages(target)
    assert len(pages) >= 1
    for dark, area in pages:
        assert dark > area // 500  # text and charts, not a blank page
    document = pypdfium2.PdfDocument(target)
    try:
        first = document[0].get_textpage().get_text_range()
    finally:
        document.close()
    assert {"id": "Laporan Care Center — November 2026", "en": "Care Center Report — November 2026"}[lang] in first
    assert {"id": "menerima 10 percakapan", "en": "received 10 conversations"}[lang] in first


@pytest.mark.parametrize("fmt", list(ReportFormat))
async def test_an_empty_month_is_an_empty_but_valid_report(db: str, tmp_path: Path, fmt: ReportFormat) -> None:
    folder = tmp_path / "out"
    folder.mkdir()
    target = folder / f"kosong.{fmt}"
    await write_monthly_report(period=NOVEMBER, now=NOVEMBER_NOW, lang="id", path=target, fmt=fmt)
    if fmt == ReportFormat.PDF:
        assert all(dark > 0 for dark, _ in _pages(target))
    else:
        book = load_workbook(target)
        assert book["Harian"].max_row == 31
        assert book["Petugas"].max_row == 1
    assert os.listdir(folder) == [target.name]  # no temporary file left beside it


def test_a_failed_write_leaves_nothing_and_keeps_the_old_file(tmp_path: Path) -> None:
    old = tmp_path / "report.pdf"
    old.write_bytes(b"the report of last month")

    def fail_halfway() -> None:
        with atomic_output(old) as stream:
            stream.write(b"half a new")
            raise RuntimeError

    with pytest.raises(RuntimeError):
        fail_halfway()
    assert old.read_bytes() == b"the report of last month"
    assert [p.name for p in tmp_path.iterdir()] == ["report.pdf"]
    with atomic_output(old) as stream:
        stream.write(b"new")
    assert old.read_bytes() == b"new"
    assert oct(os.stat(old).st_mode & 0o777) == "0o600"
    assert format_of(Path("x.PDF")) == ReportFormat.PDF
    assert format_of(Path("x.docx")) is None
