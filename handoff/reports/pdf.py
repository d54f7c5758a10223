"""The monthly report as a PDF: the narrative, the summary table and vector charts drawn with
reportlab's own graphics (no plotting stack to install), in the Bitstream Vera fonts reportlab ships,
embedded so the file reads the same everywhere."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import IO
from xml.sax.saxutils import escape

import reportlab
from reportlab.graphics.charts.barcharts import HorizontalBarChart, VerticalBarChart
from reportlab.graphics.charts.legends import Legend
from reportlab.graphics.charts.linecharts import HorizontalLineChart
from reportlab.graphics.shapes import Drawing, String
from reportlab.lib import colors
from reportlab.lib.enums import TA_LEFT, TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import Flowable, KeepTogether, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from handoff.reports.figures import RATINGS, Comparison
from handoff.reports.summary import shown, shown_change, summary_rows
from handoff.reports.text import ReportText

FONT, BOLD = "Vera", "VeraBd"
WIDTH = A4[0] - 36 * mm
SERIES = (colors.HexColor("#1f5fa8"), colors.HexColor("#e39b2d"))
GRID = colors.HexColor("#c8d0da")


@cache
def _fonts() -> None:
    folder = Path(reportlab.__file__).parent / "fonts"
    pdfmetrics.registerFont(TTFont(FONT, str(folder / "Vera.ttf")))
    pdfmetrics.registerFont(TTFont(BOLD, str(folder / "VeraBd.ttf")))


def _style(name: str, size: float, *, bold: bool = False, leading: float | None = None,
           right: bool = False) -> ParagraphStyle:
    return ParagraphStyle(name, fontName=BOLD if bold else FONT, fontSize=size, leading=leading or size * 1.3,
                          alignment=TA_RIGHT if right else TA_LEFT)


def _axis_top(values: list[float]) -> tuple[float, float]:
    """A round upper bound and step for a value axis (an all-zero chart still gets an axis)."""
    top = max([*values, 1.0])
    step = 1.0
    while top / step > 8:
        step *= 5 if str(int(step))[0] == "2" else 2
    return (int(top / step) + 1) * step, step


def _legend(drawing: Drawing, names: list[str]) -> None:
    """Side by side in the drawing's top right corner, above the plot."""
    legend = Legend()
    legend.deltax = 75
    legend.x, legend.y = round(drawing.width - legend.deltax * len(names)), round(drawing.height - 2)
    legend.fontName, legend.fontSize = FONT, 7
    legend.dx = legend.dy = 7
    legend.alignment = "right"
    legend.columnMaximum = 1
    legend.colorNamePairs = list(zip(SERIES, names, strict=False))
    drawing.add(legend)


def _title(drawing: Drawing, title: str) -> None:
    drawing.add(String(0, drawing.height - 10, title, fontName=BOLD, fontSize=9))


def _daily_chart(both: Comparison, text: ReportText) -> Drawing:
    f = both.current
    drawing = Drawing(WIDTH, 55 * mm)
    _title(drawing, text("label.daily_chart"))
    chart = HorizontalLineChart()
    chart.x, chart.y, chart.width, chart.height = 28, 22, round(WIDTH - 40), round(55 * mm - 44)
    series = [[float(d.conversations) for d in f.by_day] or [0.0], [float(d.tickets) for d in f.by_day] or [0.0]]
    chart.data = series
    chart.categoryAxis.categoryNames = [str(d.day.day) for d in f.by_day] or [""]
    chart.categoryAxis.labels.fontName, chart.categoryAxis.labels.fontSize = FONT, 6
    top, step = _axis_top(series[0] + series[1])
    chart.valueAxis.valueMin, chart.valueAxis.valueMax, chart.valueAxis.valueStep = 0, top, step
    chart.valueAxis.labels.fontName, chart.valueAxis.labels.fontSize = FONT, 7
    chart.valueAxis.labelTextFormat = text.number
    chart.valueAxis.visibleGrid, chart.valueAxis.gridStrokeColor = True, GRID
    for index, color in enumerate(SERIES):
        chart.lines[index].strokeColor = color
        chart.lines[index].strokeWidth = 1.5
    drawing.add(chart)
    _legend(drawing, [text("label.conversations"), text("label.tickets")])
    return drawing


def _bar_chart(title: str, names: list[str], series: list[list[float]], legend: list[str], text: ReportText,
               *, horizontal: bool = False, height: float = 55 * mm) -> Drawing:
    drawing = Drawing(WIDTH / 2 - 4 * mm if not horizontal else WIDTH, height)
    _title(drawing, title)
    chart = HorizontalBarChart() if horizontal else VerticalBarChart()
    left = 120 if horizontal else 28
    chart.x, chart.y = left, 18
    chart.width, chart.height = round(drawing.width - left - 10), round(height - 40)
    chart.data = series
    chart.categoryAxis.categoryNames = names
    chart.categoryAxis.labels.fontName, chart.categoryAxis.labels.fontSize = FONT, 7
    if horizontal:
        chart.categoryAxis.reverseDirection = True  # largest first, at the top
    top, step = _axis_top([v for s in series for v in s])
    chart.valueAxis.valueMin, chart.valueAxis.valueMax, chart.valueAxis.valueStep = 0, top, step
    chart.valueAxis.labels.fontName, chart.valueAxis.labels.fontSize = FONT, 7
    chart.valueAxis.labelTextFormat = text.number
    chart.valueAxis.visibleGrid, chart.valueAxis.gridStrokeColor = True, GRID
    for index, color in enumerate(SERIES[: len(series)]):
        chart.bars[index].fillColor = color
        chart.bars[index].strokeColor = None
    drawing.add(chart)
    if len(legend) > 1:
        _legend(drawing, legend)
    return drawing


def _table(rows: list[list[str]], widths: list[float], *, numbers_from: int = 1) -> Table:
    styles = {(False, False): _style("cell", 8), (True, False): _style("head", 8, bold=True),
              (False, True): _style("number", 8, right=True), (True, True): _style("head_number", 8, bold=True,
                                                                                   right=True)}
    cells = [[Paragraph(escape(c), styles[(r == 0, i >= numbers_from)]) for i, c in enumerate(row)]
             for r, row in enumerate(rows)]
    table = Table(cells, colWidths=widths, repeatRows=1)
    table.setStyle(TableStyle([
        ("LINEBELOW", (0, 0), (-1, 0), 0.8, colors.black),
        ("LINEBELOW", (0, 1), (-1, -1), 0.25, GRID),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("TOPPADDING", (0, 0), (-1, -1), 1.5),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5),
    ]))
    return table


def write_pdf(both: Comparison, paragraph: str, text: ReportText, out: Path | IO[bytes]) -> None:
    _fonts()
    f = both.current
    story: list[Flowable] = [
        Paragraph(escape(f"{text('report_title')} — {text.period(f.period)}"), _style("title", 16, bold=True)),
        Paragraph(escape(text("generated_at", when=text.moment(f.computed_at.astimezone(f.period.tz)))),
                  _style("sub", 8)),
        Spacer(1, 4 * mm),
        Paragraph(escape(paragraph), _style("body", 9.5, leading=13)),
        Spacer(1, 4 * mm),
        _daily_chart(both, text),
        Spacer(1, 3 * mm),
    ]
    channel_names = [text(f"channel.{k.value}") for k in f.conversations_by_channel]
    channels = _bar_chart(text("label.channel_chart"), channel_names,
                          [[float(v) for v in f.conversations_by_channel.values()],
                           [float(f.tickets_by_channel.get(k, 0)) for k in f.conversations_by_channel]],
                          [text("label.conversations"), text("label.tickets")], text)
    csat = _bar_chart(text("label.csat_chart"), [str(r) for r in RATINGS],
                      [[float(f.csat.distribution.get(r, 0)) for r in RATINGS]], [text("label.count")], text)
    story.append(Table([[channels, csat]], colWidths=[WIDTH / 2, WIDTH / 2],
                       style=[("LEFTPADDING", (0, 0), (-1, -1), 0), ("RIGHTPADDING", (0, 0), (-1, -1), 0)]))
    categories = f.tickets_by_category
    if categories:
        story.append(_bar_chart(
            text("label.category_chart"),
            [c.name(text.lang) if c.slug else text("label.uncategorized") for c in categories],
            [[float(c.tickets) for c in categories]], [text("label.tickets")], text, horizontal=True,
            height=max(35 * mm, (12 * len(categories) + 40)),
        ))
    else:
        story += [Paragraph(escape(text("label.category_chart")), _style("h", 9, bold=True)),
                  Paragraph(escape(text("no_data")), _style("body", 9))]
    story.append(Spacer(1, 4 * mm))
    summary = [[text("label.figure"), text.period(f.period), text.period(both.previous.period), text("label.change")]]
    summary += [[text(f"label.{row.label}"), shown(row.kind, row.current, text), shown(row.kind, row.previous, text),
                 shown_change(row, text)] for row in summary_rows(both)]
    story.append(KeepTogether(_table(summary, [WIDTH * 0.46, WIDTH * 0.2, WIDTH * 0.2, WIDTH * 0.14])))
    story.append(Spacer(1, 5 * mm))
    story.append(Paragraph(escape(text("label.agents_table")), _style("h", 10, bold=True)))
    story.append(Spacer(1, 1.5 * mm))
    if f.agents:
        agents = [[text("label.agent"), text("label.taken"), text("label.closed"), text("label.agent_first_response"),
                   text("label.agent_csat"), text("label.agent_ratings")]]
        agents += [[a.name, text.number(a.taken), text.number(a.closed),
                    text.number(a.first_response.median / 60, 1) if a.first_response.median is not None
                    else text("none"),
                    text.number(a.rating_average, 2) if a.rating_average is not None else text("none"),
                    text.number(a.ratings)] for a in f.agents]
        story.append(_table(agents, [WIDTH * w for w in (0.3, 0.12, 0.12, 0.2, 0.14, 0.12)]))
    else:
        story.append(Paragraph(escape(text("no_data")), _style("body", 9)))
    document = SimpleDocTemplate(str(out) if isinstance(out, Path) else out,
                                 pagesize=A4, leftMargin=18 * mm, rightMargin=18 * mm, topMargin=16 * mm,
                                 bottomMargin=16 * mm, title=f"{text('report_title')} — {text.period(f.period)}",
                                 author="carecenter")
    document.build(story)
