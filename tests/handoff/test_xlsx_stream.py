"""The streamed XLSX writer, read back by openpyxl: every kind of value lands in its column as written."""

from __future__ import annotations

import io
import zipfile
from datetime import UTC, datetime
from pathlib import Path

from openpyxl import load_workbook

from handoff.xlsx_stream import SheetWriter, TextCell, sheet_name


class _Unseekable(io.RawIOBase):
    """An HTTP response body: written forward only."""

    def __init__(self) -> None:
        self.data = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, b: bytes) -> int:  # type: ignore[override]
        self.data += b
        return len(b)


def _read(path: Path | io.BytesIO) -> list[list[object]]:
    sheet = load_workbook(path).active
    assert sheet is not None
    return [[c.value for c in row] for row in sheet.iter_rows()]


def test_values_land_in_their_columns_with_their_types(tmp_path: Path) -> None:
    target = tmp_path / "t.xlsx"
    at = datetime(2026, 11, 2, 9, 30)  # noqa: DTZ001  # local wall time, as the export writes it
    with SheetWriter(target, name="Tiket", header=["a", "b", "c", "d", "e"]) as sheet:
        sheet.write_rows([["teks", None, 42, at, 1.5], [None, None, None, None, "akhir"]])
        sheet.write_rows([[True, "  spasi  ", "baris\r\nbaru", "a & <b> \"c\" 'd'", -7]])
    assert _read(target) == [
        ["a", "b", "c", "d", "e"],
        ["teks", None, 42, at, 1.5],
        [None, None, None, None, "akhir"],
        ["TRUE", "  spasi  ", "baris\r\nbaru", "a & <b> \"c\" 'd'", -7],
    ]
    workbook = load_workbook(target)
    sheet_ = workbook.active
    assert sheet_ is not None
    assert sheet_.title == "Tiket"
    assert sheet_["A1"].font.b  # the header stands out
    assert sheet_["D2"].is_date
    assert sheet_["D2"].number_format == "yyyy-mm-dd hh:mm"
    assert sheet_.freeze_panes == "A2"


def test_formula_text_is_text_with_a_quote_prefix(tmp_path: Path) -> None:
    target = tmp_path / "t.xlsx"
    with SheetWriter(target, name="x") as sheet:
        sheet.write_rows([[TextCell("=HYPERLINK(\"http://evil\")"), "=1+1"]])
    sheet_ = load_workbook(target).active
    assert sheet_ is not None
    marked, plain = sheet_["A1"], sheet_["B1"]
    assert (marked.value, marked.data_type, marked.quotePrefix) == ("=HYPERLINK(\"http://evil\")", "s", True)
    # The writer never makes a formula: even unmarked, it is an inline string (the export marks it too).
    assert (plain.value, plain.data_type) == ("=1+1", "s")


def test_what_xml_cannot_hold_is_dropped_not_fatal(tmp_path: Path) -> None:
    target = tmp_path / "t.xlsx"
    with SheetWriter(target, name="a[b]:c*?/d\\e" + "x" * 40) as sheet:
        sheet.write_rows([["tab\there\x0bvt\x00nul\ud800lone", "emoji 😀"]])
    workbook = load_workbook(target)
    assert workbook.active is not None
    assert workbook.active.title == "a b  c   d ex" + "x" * 18
    assert _read(target) == [["tab\therevtnullone", "emoji 😀"]]


def test_sheet_names() -> None:
    assert sheet_name("") == "Sheet1"
    assert sheet_name("'Tiket'") == "Tiket"
    assert len(sheet_name("x" * 100)) == 31


def test_written_forward_only_to_a_stream() -> None:
    out = _Unseekable()
    with SheetWriter(out, name="x", header=["n"]) as sheet:
        for start in range(0, 5000, 1000):
            sheet.write_rows([[n] for n in range(start, start + 1000)])
    data = io.BytesIO(bytes(out.data))
    assert zipfile.ZipFile(data).testzip() is None
    assert [row[0] for row in _read(data)] == ["n", *range(5000)]


def test_an_aware_datetime_is_written_as_its_wall_time(tmp_path: Path) -> None:
    target = tmp_path / "t.xlsx"
    with SheetWriter(target, name="x") as sheet:
        sheet.write_rows([[datetime(2026, 1, 1, 8, 0, tzinfo=UTC)]])
    assert _read(target) == [[datetime(2026, 1, 1, 8, 0)]]  # noqa: DTZ001
