"""The monthly report as a workbook: a summary sheet and one sheet per breakdown, each with a native
Excel chart (openpyxl), so a supervisor can reuse the numbers and the charts stay editable."""

from __future__ import annotations

from pathlib import Path
from typing import IO

from openpyxl import Workbook
from openpyxl.chart import BarChart, LineChart, Reference
from openpyxl.styles import Alignment, Font
from openpyxl.worksheet.worksheet import Worksheet

from handoff.reports.figures import RATINGS, Comparison
from handoff.reports.summary import Kind, summary_rows
from handoff.reports.text import ReportText

FORMATS = {
    Kind.COUNT: "#,##0",
    Kind.SHARE: "0.0%",
    Kind.MINUTES: "#,##0.0",
    Kind.HOURS: "#,##0.0",
    Kind.AVERAGE: "0.00",
}
BOLD = Font(bold=True)
# The narrative fills rows 4 to TABLE_ROW - 2 (merged); the summary table starts below it.
TABLE_ROW = 14


def _header(ws: Worksheet, *labels: str) -> None:
    ws.append(list(labels))
    for cell in ws[ws.max_row]:
        cell.font = BOLD


def _widths(ws: Worksheet, *widths: int) -> None:
    for index, width in enumerate(widths):
        ws.column_dimensions[chr(ord("A") + index)].width = width


def _summary(ws: Worksheet, both: Comparison, paragraph: str, text: ReportText) -> None:
    ws.title = text("sheet.summary")
    ws["A1"] = f"{text('report_title')} — {text.period(both.current.period)}"
    ws["A1"].font = Font(bold=True, size=14)
    ws["A2"] = text("generated_at", when=text.moment(both.current.computed_at.astimezone(both.current.period.tz)))
    ws["A4"] = paragraph
    ws["A4"].alignment = Alignment(wrap_text=True, vertical="top")
    ws.merge_cells(f"A4:D{TABLE_ROW - 2}")
    headings = [text("label.figure"), f"{text('label.current')}: {text.period(both.current.period)}",
                f"{text('label.previous')}: {text.period(both.previous.period)}", text("label.change")]
    for column, heading in enumerate(headings, start=1):
        ws.cell(TABLE_ROW, column, heading).font = BOLD
    for index, row in enumerate(summary_rows(both), start=TABLE_ROW + 1):
        ws.cell(index, 1, text(f"label.{row.label}"))
        ws.cell(index, 2, row.current).number_format = FORMATS[row.kind]
        ws.cell(index, 3, row.previous).number_format = FORMATS[row.kind]
        ws.cell(index, 4, row.change).number_format = "+0.0%;-0.0%;0.0%"
    _widths(ws, 46, 24, 24, 14)


def _chart_sheet(ws: Worksheet, chart: BarChart | LineChart, *, rows: int, series: int, anchor: str,
                 title: str) -> None:
    chart.title = title
    chart.height, chart.width = 9, 18
    data = Reference(ws, min_col=2, max_col=1 + series, min_row=1, max_row=max(rows, 1) + 1)
    chart.add_data(data, titles_from_data=True)
    chart.set_categories(Reference(ws, min_col=1, min_row=2, max_row=max(rows, 1) + 1))
    ws.add_chart(chart, anchor)


def write_xlsx(both: Comparison, paragraph: str, text: ReportText, out: Path | IO[bytes]) -> None:
    f = both.current
    wb = Workbook()
    first = wb.active
    assert isinstance(first, Worksheet)  # a new workbook starts with one worksheet
    _summary(first, both, paragraph, text)

    daily = wb.create_sheet(text("sheet.daily"))
    _header(daily, text("label.date"), text("label.conversations"), text("label.tickets"))
    for day in f.by_day:
        daily.append([day.day, day.conversations, day.tickets])
        daily.cell(daily.max_row, 1).number_format = "yyyy-mm-dd"
    _widths(daily, 14, 16, 12)
    line = LineChart()
    line.y_axis.title = text("label.count")
    _chart_sheet(daily, line, rows=len(f.by_day), series=2, anchor="E2", title=text("label.daily_chart"))

    channels = wb.create_sheet(text("sheet.channels"))
    _header(channels, text("label.channel"), text("label.conversations"), text("label.tickets"))
    for kind, n in f.conversations_by_channel.items():
        channels.append([text(f"channel.{kind.value}"), n, f.tickets_by_channel.get(kind, 0)])
    _widths(channels, 16, 16, 12)
    _chart_sheet(channels, BarChart(), rows=len(f.conversations_by_channel), series=2, anchor="E2",
                 title=text("label.channel_chart"))

    categories = wb.create_sheet(text("sheet.categories"))
    _header(categories, text("label.category"), text("label.tickets"))
    for category in f.tickets_by_category:
        categories.append([category.name(text.lang) if category.slug else text("label.uncategorized"),
                           category.tickets])
    _widths(categories, 32, 12)
    bars = BarChart()
    bars.type = "bar"  # horizontal: category names are long
    _chart_sheet(categories, bars, rows=len(f.tickets_by_category), series=1, anchor="D2",
                 title=text("label.category_chart"))

    csat = wb.create_sheet(text("sheet.csat"))
    _header(csat, text("label.rating"), text("label.count"))
    for rating in RATINGS:
        csat.append([rating, f.csat.distribution.get(rating, 0)])
    _chart_sheet(csat, BarChart(), rows=len(RATINGS), series=1, anchor="D2", title=text("label.csat_chart"))

    agents = wb.create_sheet(text("sheet.agents"))
    _header(agents, text("label.agent"), text("label.taken"), text("label.closed"),
            text("label.agent_first_response"), text("label.agent_csat"), text("label.agent_ratings"))
    for agent in f.agents:
        median = agent.first_response.median
        agents.append([agent.name, agent.taken, agent.closed, None if median is None else median / 60,
                       agent.rating_average, agent.ratings])
        agents.cell(agents.max_row, 4).number_format = "#,##0.0"
        agents.cell(agents.max_row, 5).number_format = "0.00"
    _widths(agents, 28, 14, 14, 30, 18, 12)
    wb.save(out)
