"""The monthly report, "Laporan Care Center": the month's figures beside the month before, the narrative,
and the file (.xlsx or .pdf, chosen by the name's extension), written whole or not at all."""

from __future__ import annotations

import asyncio
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import IO

from handoff.reports.figures import Comparison, compare_figures
from handoff.reports.narrative import narrative
from handoff.reports.output import atomic_output
from handoff.reports.pdf import write_pdf
from handoff.reports.period import Period
from handoff.reports.text import report_text
from handoff.reports.xlsx import write_xlsx


class ReportFormat(StrEnum):
    XLSX = "xlsx"
    PDF = "pdf"


def format_of(path: Path) -> ReportFormat | None:
    try:
        return ReportFormat(path.suffix.lower().removeprefix("."))
    except ValueError:
        return None


def render(both: Comparison, *, lang: str, fmt: ReportFormat, out: Path | IO[bytes]) -> None:
    """CPU work (charts, compression): callers in an event loop run it in a thread."""
    text = report_text(lang)
    paragraph = narrative(both, text.lang)
    if fmt == ReportFormat.XLSX:
        write_xlsx(both, paragraph, text, out)
    else:
        write_pdf(both, paragraph, text, out)


async def write_monthly_report(
    *, period: Period, now: datetime, lang: str, path: Path, fmt: ReportFormat
) -> Comparison:
    with atomic_output(path) as stream:
        both = await compare_figures(period=period, now=now)
        await asyncio.to_thread(render, both, lang=lang, fmt=fmt, out=stream)
    return both
