"""A one-sheet XLSX written as a stream: rows go into the zip as they come, nothing is kept.

Why not openpyxl or XlsxWriter, which the project prefers for spreadsheets (the monthly report, with its
charts, uses openpyxl): for the ticket export they cost 10–20 times more than the rows are worth. Both
build an object per cell, and 100,000 tickets are about 2.5 million cells: openpyxl's write-only mode took
19–28 s and XlsxWriter's constant-memory mode 13–19 s against the 10 s target, where writing the sheet's
XML directly takes under 2 s on the same machine (``benchmarks/report_bench.py``). A sheet of plain values
is a small, stable part of ECMA-376 (SpreadsheetML): inline strings (no shared-string table, so memory
stays flat), numbers, dates as serial numbers with a date style, and Excel's "quote prefix" style for text
that must never run as a formula. Files are read back with openpyxl in the tests.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import IO, Self

# Control characters XML 1.0 cannot hold (a pasted vertical tab): dropped, or the whole file is unreadable.
_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_EPOCH = datetime(1899, 12, 30)  # noqa: DTZ001  # a wall-clock date: day 0 of Excel's 1900 date system, as every reader counts it
SHEET_NAME_MAX = 31
_SHEET_NAME_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")

# Cell styles (indices into cellXfs below).
PLAIN, DATE, TEXT, HEADER = 0, 1, 2, 3

_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    '<Override PartName="/xl/styles.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
    "</Types>"
)
_ROOT_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
    'Target="xl/workbook.xml"/></Relationships>'
)
_WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" '
    'Target="worksheets/sheet1.xml"/>'
    '<Relationship Id="rId2" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/>'
    "</Relationships>"
)
_WORKBOOK = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    '<sheets><sheet name="{name}" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
_STYLES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    '<numFmts count="1"><numFmt numFmtId="164" formatCode="yyyy-mm-dd hh:mm"/></numFmts>'
    '<fonts count="2"><font><sz val="11"/><name val="Calibri"/></font>'
    '<font><b/><sz val="11"/><name val="Calibri"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="4">'
    '<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0" quotePrefix="1"/>'
    '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/>'
    "</cellXfs>"
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    "</styleSheet>"
)
_SHEET_START = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    '<sheetViews><sheetView workbookViewId="0"><pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" '
    'state="frozen"/></sheetView></sheetViews><sheetData>'
)
_SHEET_END = "</sheetData></worksheet>"

Value = str | int | float | datetime | None


class TextCell(str):
    """Text shown as written and never run as a formula (Excel's leading apostrophe, ``quotePrefix``)."""

    __slots__ = ()


def _escape(text: str) -> str:
    text = _ILLEGAL.sub("", text)
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _text(value: str, style: int) -> str:
    styled = f' s="{style}"' if style else ""
    # xml:space keeps leading and trailing spaces; a carriage return is written as a character reference,
    # since XML readers turn a literal one into a line feed.
    body = _escape(value).replace("\r", "&#13;")
    return f'<c t="inlineStr"{styled}><is><t xml:space="preserve">{body}</t></is></c>'


def _cell(value: Value) -> str:
    if value is None:
        return "<c/>"  # keeps the next cell in its column: cells carry no reference, their place is their order
    if isinstance(value, TextCell):
        return _text(value, TEXT)
    if isinstance(value, str):
        return _text(value, PLAIN)
    if isinstance(value, datetime):
        serial = (value.replace(tzinfo=None) - _EPOCH).total_seconds() / 86400
        return f'<c s="{DATE}"><v>{serial!r}</v></c>'
    if isinstance(value, bool):  # a bool is an int to Python, not a number to a reader
        return _text("TRUE" if value else "FALSE", PLAIN)
    return f"<v>{value!r}</v>".join(("<c>", "</c>"))


def sheet_name(name: str) -> str:
    """A name Excel accepts: no []:*?/\\, at most 31 characters, not empty."""
    cleaned = _SHEET_NAME_FORBIDDEN.sub(" ", _ILLEGAL.sub("", name)).strip().strip("'")[:SHEET_NAME_MAX]
    return cleaned or "Sheet1"


class SheetWriter:
    """Write rows of values to a one-sheet workbook; ``close`` finishes the file.

    A ``datetime`` must already be in the reader's local time (spreadsheets have no time zones). Use it as a
    context manager, or call ``close``; a writer left open leaves no valid file.
    """

    def __init__(self, out: Path | IO[bytes], *, name: str, header: Sequence[str] = ()) -> None:
        # Level 1: a sheet of repetitive XML shrinks about tenfold even so, at a fraction of the CPU of the
        # default level, which the export's time is mostly made of.
        self._zip = zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=1)
        try:
            for part, body in (
                ("[Content_Types].xml", _CONTENT_TYPES),
                ("_rels/.rels", _ROOT_RELS),
                ("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS),
                ("xl/workbook.xml", _WORKBOOK.format(name=_escape(sheet_name(name)).replace('"', "&quot;"))),
                ("xl/styles.xml", _STYLES),
            ):
                self._zip.writestr(part, body)
            self._sheet = self._zip.open("xl/worksheets/sheet1.xml", "w", force_zip64=True)
            self._sheet.write(_SHEET_START.encode())
            if header:
                self._sheet.write(("<row>" + "".join(_text(h, HEADER) for h in header) + "</row>").encode())
        except BaseException:
            self._zip.close()
            raise

    def write_rows(self, rows: Iterable[Sequence[Value]]) -> None:
        chunk = "".join("<row>" + "".join(map(_cell, row)) + "</row>" for row in rows)
        self._sheet.write(chunk.encode("utf-8", "replace"))

    def close(self) -> None:
        if self._sheet.closed:
            return
        self._sheet.write(_SHEET_END.encode())
        self._sheet.close()
        self._zip.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
