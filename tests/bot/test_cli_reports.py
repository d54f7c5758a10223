"""'carecenter report monthly' and 'carecenter export tickets' as operators run them: a real process on
the test's database (SQLite and PostgreSQL), good and bad input."""

from __future__ import annotations

import csv
import io
import os
import pty
import subprocess
import sys
from pathlib import Path

import pypdfium2
from openpyxl import load_workbook

from tests.handoff.reports_data import Builder, build_november

ROOT = Path(__file__).resolve().parents[2]


def run(tmp_path: Path, db_url: str, *args: str, stdout: int | None = None) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "DATA_DIR": str(tmp_path / "data"), "PYTHONPATH": str(ROOT), "DATABASE_URL": db_url,
           "TZ": "Asia/Jakarta"}
    return subprocess.run([sys.executable, "-m", "bot", *args], capture_output=stdout is None, stdout=stdout,
                          stderr=subprocess.PIPE if stdout is not None else None, env=env, cwd=tmp_path,
                          timeout=180, check=False)


async def test_monthly_report_files(db: str, tmp_path: Path) -> None:
    await build_november(await Builder().setup())
    xlsx = run(tmp_path, db, "report", "monthly", "--month", "2026-11", "--out", "laporan.xlsx")
    assert xlsx.returncode == 0, xlsx.stderr
    book = load_workbook(tmp_path / "laporan.xlsx")
    assert book.sheetnames[0] == "Ringkasan"
    assert book["Ringkasan"]["A1"].value == "Laporan Care Center — November 2026"
    pdf = run(tmp_path, db, "report", "monthly", "--month", "2026-11", "--out", str(tmp_path / "report.pdf"),
              "--lang", "en")
    assert pdf.returncode == 0, pdf.stderr
    document = pypdfium2.PdfDocument(tmp_path / "report.pdf")
    try:
        assert "Care Center Report — November 2026" in document[0].get_textpage().get_text_range()
    finally:
        document.close()


async def test_monthly_report_bad_input_writes_nothing(db: str, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    cases = [
        (("--month", "2026-13", "--out", str(out / "a.pdf")), 2, "month '2026-13' is not valid: use YYYY-MM"),
        (("--month", "November", "--out", str(out / "a.pdf")), 2, "month 'November' is not valid"),
        (("--month", "2999-01", "--out", str(out / "a.pdf")), 2, "month 2999-01 has not started yet"),
        (("--month", "2026-11", "--out", str(out / "a.docx")), 2, "the file name must end in .xlsx or .pdf"),
        (("--month", "2026-11", "--out", str(out / "missing" / "a.pdf")), 1, "cannot write"),
        (("--month", "2026-11", "--out", str(out / "a.pdf"), "--lang", "fr"), 2, "'fr' is not one of 'id', 'en'"),
    ]
    (out / "a-file").write_text("not a directory")
    cases.append((("--month", "2026-11", "--out", str(out / "a-file" / "a.pdf")), 1, "Not a directory"))
    for args, code, message in cases:
        result = run(tmp_path, db, "report", "monthly", *args)
        assert result.returncode == code, (args, result.stderr)
        assert message in result.stderr.decode(), (args, result.stderr)
    assert os.listdir(out) == ["a-file"]


async def test_export_to_standard_output_and_to_a_file(db: str, tmp_path: Path) -> None:
    await build_november(await Builder().setup())
    piped = run(tmp_path, db, "export", "tickets", "--since", "2026-11-01", "--until", "2026-12-01",
                "--format", "csv")
    assert piped.returncode == 0, piped.stderr
    rows = list(csv.reader(io.StringIO(piped.stdout.decode("utf-8-sig"), newline="")))
    assert rows[0][:2] == ["Nomor tiket", "Dibuka (WIB)"]
    assert [r[0] for r in rows[1:]] == [f"CC-{n:06d}" for n in range(1, 7)]
    # --until is exclusive: 2 November alone is T1.
    one_day = run(tmp_path, db, "export", "tickets", "--since", "2026-11-02", "--until", "2026-11-03",
                  "--format", "csv", "--lang", "en")
    assert [r[0] for r in csv.reader(io.StringIO(one_day.stdout.decode("utf-8-sig")))] == [
        "Ticket number", "CC-000001"]

    saved = run(tmp_path, db, "export", "tickets", "--since", "2026-11-01", "--until", "2026-12-01",
                "--format", "xlsx", "--mask", "--out", "tiket.xlsx")
    assert saved.returncode == 0, saved.stderr
    sheet = load_workbook(tmp_path / "tiket.xlsx").active
    assert sheet is not None
    assert [c.value for c in sheet["F"]][1:3] == ["P. 1.", "P. 2."]  # masked names: initials

    spooled = run(tmp_path, db, "export", "tickets", "--since", "2026-11-01", "--until", "2026-12-01",
                  "--format", "xlsx")
    assert spooled.returncode == 0, spooled.stderr
    assert spooled.stdout[:2] == b"PK"
    streamed = load_workbook(io.BytesIO(spooled.stdout)).active
    assert streamed is not None
    assert streamed.max_row == 7


async def test_export_bad_input(db: str, tmp_path: Path) -> None:
    cases = [
        (("--since", "2026-11-10", "--until", "2026-11-01", "--format", "csv"), 2,
         "the period's start 2026-11-10 is after its end 2026-11-01"),
        (("--since", "2026-11-31", "--until", "2026-12-01", "--format", "csv"), 2,
         "--since '2026-11-31' is not a date: use YYYY-MM-DD"),
        (("--since", "2026-11-01", "--until", "2026-12-01", "--format", "pdf"), 2, "'pdf' is not one of 'csv', 'xlsx'"),
        (("--since", "2026-11-01", "--until", "2026-12-01", "--format", "csv", "--out", str(tmp_path / "no" / "x.csv")),
         1, "cannot write"),
    ]
    for args, code, message in cases:
        result = run(tmp_path, db, "export", "tickets", *args)
        assert result.returncode == code, (args, result.stderr)
        assert message in result.stderr.decode(), (args, result.stderr)
    assert not (tmp_path / "no").exists()

    # XLSX is not written to a terminal.
    leader, follower = pty.openpty()
    try:
        terminal = run(tmp_path, db, "export", "tickets", "--since", "2026-11-01", "--until", "2026-12-01",
                       "--format", "xlsx", stdout=follower)
    finally:
        os.close(follower)
        os.close(leader)
    assert terminal.returncode == 2
    assert b"XLSX is binary" in terminal.stderr
