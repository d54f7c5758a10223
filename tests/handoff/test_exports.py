"""Ticket exports: the rows of a hand-built month, masking, batches, and formula neutralisation on a corpus."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from openpyxl import load_workbook

from handoff import exports
from handoff.exports import (
    ExportRequest,
    columns,
    csv_chunks,
    formula_like,
    mask_email,
    mask_id_number,
    mask_name,
    mask_phone,
    neutralise,
    write_xlsx,
)
from handoff.reports.period import Period
from models import ChannelKind, Contact
from tests.handoff.reports_data import NOVEMBER_NOW, WIB, Builder, build_november, wib

NOVEMBER = Period.month(2026, 11, WIB)
CORPUS = json.loads((Path(__file__).parents[1] / "corpora" / "formula-injection.json").read_text("utf-8"))["payloads"]


async def _csv(request: ExportRequest) -> list[dict[str, str]]:
    data = b"".join([chunk async for chunk in csv_chunks(request)])
    assert data.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    return [dict(zip(columns(), row, strict=True)) for row in rows[1:]]


async def test_one_row_per_ticket_of_the_period(db: str) -> None:
    await build_november(await Builder().setup())
    rows = await _csv(ExportRequest(period=NOVEMBER, now=NOVEMBER_NOW))
    assert [r["number"] for r in rows] == [f"CC-{n:06d}" for n in range(1, 7)]
    t1, t2, t3, t4, t5, t6 = rows
    assert {k: t2[k] for k in ("opened_at", "first_response_at", "resolved_at", "channel", "category",
                               "category_confirmed", "predicted_category", "agent", "status", "sla_resolution",
                               "escalated", "rating", "comment")} == {
        "opened_at": "2026-11-03 09:00", "first_response_at": "2026-11-03 09:20", "resolved_at": "2026-11-04 15:00",
        "channel": "Telegram", "category": "Nilai", "category_confirmed": "ya",
        "predicted_category": "Akun & login", "agent": "Ani", "status": "selesai", "sla_resolution": "terlewat",
        "escalated": "tidak", "rating": "2", "comment": "'=HYPERLINK(\"http://x\")",
    }
    # T1 was closed with the classifier's guess, which no agent confirmed.
    assert (t1["category"], t1["category_confirmed"], t1["sla_resolution"]) == ("Reset password", "tidak", "tercapai")
    assert (t3["escalated"], t3["incident"]) == ("ya", "1")
    assert (t4["sla_resolution"], t4["resolved_at"], t4["status"]) == ("terlewat", "", "terbuka")
    # 23:30 WIB on 30 November is 16:30 UTC: written in local time, and not yet due.
    assert (t5["opened_at"], t5["sla_resolution"], t5["agent"]) == ("2026-11-30 23:30", "berjalan", "Ani")
    assert (t6["category"], t6["category_confirmed"], t6["agent"]) == ("", "", "")
    english = await _csv(ExportRequest(period=NOVEMBER, now=NOVEMBER_NOW, lang="en"))
    assert (english[1]["category"], english[1]["sla_resolution"], english[1]["category_confirmed"]) == (
        "Grades", "missed", "yes")


async def _xlsx_numbers(request: ExportRequest, target: Path) -> list[str]:
    await write_xlsx(request, target)
    sheet = load_workbook(target).active
    assert sheet is not None
    return [str(row[0]) for row in sheet.iter_rows(min_row=2, values_only=True)]


async def test_batches_give_the_same_rows(db: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    await build_november(await Builder().setup())
    whole = await _csv(ExportRequest(period=NOVEMBER, now=NOVEMBER_NOW))
    monkeypatch.setattr(exports, "BATCH", 2)
    assert await _csv(ExportRequest(period=NOVEMBER, now=NOVEMBER_NOW)) == whole
    batches = [len(b) async for b in exports.ticket_batches(ExportRequest(period=NOVEMBER, now=NOVEMBER_NOW))]
    assert batches == [2, 2, 2]
    # The XLSX writes one batch while reading the next: still every row once, in ticket order.
    numbers = [f"CC-{n:06d}" for n in range(1, 7)]
    assert await _xlsx_numbers(ExportRequest(period=NOVEMBER, now=NOVEMBER_NOW), tmp_path / "b.xlsx") == numbers


async def test_a_failed_read_closes_the_xlsx_after_the_write_in_flight(
        db: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    await build_november(await Builder().setup())
    monkeypatch.setattr(exports, "BATCH", 2)
    real = exports.ticket_batches

    async def failing(request: ExportRequest) -> AsyncIterator[list[list[exports.Cell]]]:
        async for batch in real(request):
            yield batch
            raise OSError("database gone")

    monkeypatch.setattr(exports, "ticket_batches", failing)
    with pytest.raises(OSError, match="database gone"):
        await write_xlsx(ExportRequest(period=NOVEMBER, now=NOVEMBER_NOW), tmp_path / "f.xlsx")
    # The batch whose write was in flight is in the (closed, readable) file.
    sheet = load_workbook(tmp_path / "f.xlsx").active
    assert sheet is not None
    assert [str(r[0]) for r in sheet.iter_rows(min_row=2, values_only=True)] == ["CC-000001", "CC-000002"]


async def test_an_empty_period_is_a_header_only(db: str, tmp_path: Path) -> None:
    assert await _csv(ExportRequest(period=NOVEMBER, now=NOVEMBER_NOW)) == []
    target = tmp_path / "empty.xlsx"
    assert await write_xlsx(ExportRequest(period=NOVEMBER, now=NOVEMBER_NOW), target) == 0
    sheet = load_workbook(target).active
    assert sheet is not None
    assert sheet.max_row == 1


async def test_masked_personal_data(db: str, tmp_path: Path) -> None:
    b = await Builder().setup()
    person = await Contact.create(name="Budi Santoso Wibowo", id_number="13521045",
                                  email="budi.santoso@students.itb.ac.id", phone="+6281234567890")
    await b.ticket(at=wib(2026, 11, 2, 9), channel=ChannelKind.WHATSAPP, contact=person)
    plain = await _csv(ExportRequest(period=NOVEMBER, now=NOVEMBER_NOW))
    masked = await _csv(ExportRequest(period=NOVEMBER, now=NOVEMBER_NOW, mask=True))
    personal = ("contact_name", "id_number", "email", "phone")
    assert [plain[0][k] for k in personal] == [
        "Budi Santoso Wibowo", "13521045", "budi.santoso@students.itb.ac.id", "'+6281234567890"]
    assert [masked[0][k] for k in personal] == ["B. S. W.", "135***45", "b***@students.itb.ac.id", "'+62********890"]
    target = tmp_path / "masked.xlsx"
    await write_xlsx(ExportRequest(period=NOVEMBER, now=NOVEMBER_NOW, mask=True), target)
    sheet = load_workbook(target).active
    assert sheet is not None
    values = dict(zip(columns(), [c.value for c in sheet[2]], strict=True))
    assert [values[k] for k in personal] == ["B. S. W.", "135***45", "b***@students.itb.ac.id", "+62********890"]
    # A real date cell, in local time (spreadsheets have no time zones).
    assert values["opened_at"] == wib(2026, 11, 2, 9, 0).astimezone(WIB).replace(tzinfo=None)


def test_masks() -> None:
    assert mask_name("  ani ") == "A."
    assert mask_id_number("198503122010121001") == "198*************01"
    assert mask_id_number("12345") == "*****"
    assert mask_email("not-an-address") == "**************"
    assert mask_phone("+62812") == "******"


def test_the_corpus_is_neutralised_and_plain_text_is_not() -> None:
    assert len(CORPUS) >= 30
    for payload in CORPUS:
        assert formula_like(payload), repr(payload)
        assert neutralise(payload) == "'" + payload
    for harmless in ("Budi", "a=b", "1-2", "budi@itb.ac.id", "", "CC-2611-000001", "nilai + tugas", "5"):
        assert not formula_like(harmless)
        assert neutralise(harmless) == harmless


async def test_the_corpus_in_csv_and_xlsx(db: str, tmp_path: Path) -> None:
    b = await Builder().setup()
    for n, payload in enumerate(CORPUS):
        person = await Contact.create(name=payload)
        await b.ticket(at=wib(2026, 11, 2, 9, n % 60), contact=person, comment=payload, rating=3)
    rows = await _csv(ExportRequest(period=NOVEMBER, now=NOVEMBER_NOW))
    assert [(r["contact_name"], r["comment"]) for r in rows] == [("'" + p, "'" + p) for p in CORPUS]

    target = tmp_path / "corpus.xlsx"
    await write_xlsx(ExportRequest(period=NOVEMBER, now=NOVEMBER_NOW), target)
    sheet = load_workbook(target).active
    assert sheet is not None
    name, comment = columns().index("contact_name"), columns().index("comment")
    cells = list(sheet.iter_rows(min_row=2))
    assert len(cells) == len(CORPUS)
    for row, payload in zip(cells, CORPUS, strict=True):
        for cell in (row[name], row[comment]):
            # Text, never a formula, and marked as text the way Excel's leading apostrophe does.
            assert cell.data_type == "s", repr(payload)
            assert cell.quotePrefix, repr(payload)
            written = payload.replace("\x0b", "").replace("\x0c", "")  # XML cannot hold them
            assert cell.value.replace("\r\n", "\n").replace("\r", "\n") == written.replace("\r\n", "\n").replace(
                "\r", "\n")
