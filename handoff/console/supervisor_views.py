"""The supervisor's ticket list (SOP step 9, "nothing falls through") and its export download (step 10).

A UI only: the query string is read by ``handoff.ticket_search.parse_search`` and the rows, the counts and
the export come from ``handoff.ticket_search`` and ``handoff.exports``. A bad parameter is a sentence on the
page (400), never a 500. The download is streamed (``stream_export``, shared with /api/v1/exports/tickets):
CSV chunk by chunk as the batches leave the database, XLSX written to a temporary file first (handoff.xlsx_stream)
and then sent in chunks, so a failure is an error answer rather than half a workbook, and neither holds the
export in memory.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Mapping
from datetime import datetime
from urllib.parse import urlencode

from aiohttp import web

from handoff import actions
from handoff.console.toolkit import (
    console_state,
    form_fields,
    path_id,
    render,
    request_catalog,
    request_language,
    require_supervisor,
)
from handoff.exports import ExportFormat, ExportRequest, csv_chunks, write_xlsx
from handoff.i18n import LANGUAGES
from handoff.reports import archive
from handoff.reports.figures import RATINGS
from handoff.reports.monthly import ReportFormat
from handoff.ticket_search import (
    NONE,
    PARAMETERS,
    Flag,
    SearchError,
    SlaFilter,
    TicketSearch,
    default_period,
    exception_counts,
    parse_search,
    search_tickets,
)
from models import Category, ChannelKind, GeneratedReport, Team, TicketStatus, User

EXPORT_OPTIONS = frozenset({"format", "mask"})
CONTENT_TYPES = {
    ExportFormat.CSV: "text/csv; charset=utf-8",
    ExportFormat.XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
CHUNK = 64 * 1024
# What the API documents; the console's checkbox sends 1 or nothing.
_TRUE = frozenset({"1", "true"})
_FALSE = frozenset({"0", "false"})


def export_options(query: Mapping[str, str]) -> tuple[ExportFormat, bool]:
    """``format`` (csv, the default, or xlsx) and ``mask`` (1/true or 0/false; absent: not masked)."""
    raw = query.get("format", ExportFormat.CSV.value)
    if raw not in ExportFormat._value2member_map_:
        raise SearchError("search_error_choice", name="format", choices=", ".join(f.value for f in ExportFormat))
    mask = query.get("mask", "0")
    if mask not in _TRUE | _FALSE:
        raise SearchError("search_error_choice", name="mask", choices="1, 0")
    return ExportFormat(raw), mask in _TRUE


def export_filename(export: ExportRequest, fmt: ExportFormat) -> str:
    """Dates only, so the header needs no quoting rules beyond the plain ones."""
    masked = "-masked" if export.mask else ""
    return f"tickets-{export.period.start.isoformat()}_{export.period.end.isoformat()}{masked}.{fmt.value}"


async def stream_export(request: web.Request, export: ExportRequest, fmt: ExportFormat) -> web.StreamResponse:
    response = web.StreamResponse(headers={
        "Content-Type": CONTENT_TYPES[fmt],
        "Content-Disposition": f'attachment; filename="{export_filename(export, fmt)}"',
        "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff",
    })
    if fmt == ExportFormat.CSV:
        await response.prepare(request)
        async for chunk in csv_chunks(export):
            await response.write(chunk)
    else:
        # Written whole before the first byte leaves: a failure is an error answer, never half a workbook.
        with tempfile.TemporaryFile() as spool:
            await write_xlsx(export, spool)
            await response.prepare(request)
            spool.seek(0)
            while chunk := await asyncio.to_thread(spool.read, CHUNK):
                await response.write(chunk)
    await response.write_eof()
    return response


def _query(request: web.Request, *, drop: frozenset[str] = frozenset()) -> dict[str, str]:
    return {k: v for k, v in request.query.items() if k not in drop and k != "lang"}


async def _choices(lang: str) -> dict[str, object]:
    return {
        "categories": [(c.id, c.name_en if lang == "en" else c.name_id) for c in await Category.all().order_by("id")],
        "agents": [(u.id, u.name or u.email) for u in await User.all().order_by("name", "email")],
        "teams": [(t.id, t.name) for t in await Team.all().order_by("name")],
        "statuses": [s.value for s in TicketStatus],
        "channels": [c.value for c in ChannelKind],
        "slas": [s.value for s in SlaFilter],
        "ratings": list(RATINGS),
        "flags": [f.value for f in Flag],
        "none_value": NONE,  # not "none": that is Jinja's None
    }


async def tickets_page(request: web.Request) -> web.Response:
    require_supervisor(request)
    state = console_state(request)
    now: datetime = state.clock()
    lang = request_language(request)
    error = ""
    try:
        search = parse_search(_query(request), now=now, tz=state.tz)
    except SearchError as refused:
        error = request_catalog(request)(refused.key, **refused.values)
        search = TicketSearch(period=default_period(now=now, tz=state.tz))
    page = await search_tickets(search, now=now, lang=lang)
    counts = await exception_counts(search.period, now=now)
    base = search.query_string(before=None)
    context = {
        "page": "tickets", "search": search, "result": page, "counts": counts, "error": error,
        "first_url": "?" + urlencode(base),
        "next_url": "?" + urlencode(search.query_string(before=page.next_before)) if page.next_before else "",
        "flag_url": lambda flag: "?" + urlencode(search.query_string(before=None, exception=flag)),
        "export_fields": base,
        **await _choices(lang),
    }
    return render(request, "supervisor_tickets.html", context, status=400 if error else 200)


async def tickets_export(request: web.Request) -> web.StreamResponse:
    require_supervisor(request)
    state = console_state(request)
    now = state.clock()
    try:
        fmt, mask = export_options(request.query)
        search = parse_search(_query(request, drop=EXPORT_OPTIONS), now=now, tz=state.tz,
                              known=PARAMETERS - {"before", "limit"})
    except SearchError as refused:
        raise web.HTTPBadRequest(text=request_catalog(request)(refused.key, **refused.values),
                                 headers={"Cache-Control": "no-store"}) from None
    export = ExportRequest(period=search.period, now=now, mask=mask, lang=request_language(request), search=search)
    return await stream_export(request, export, fmt)


# One report at a time per process: a month's figures read every ticket of two months, so a second click
# (or a second supervisor) waits for the first rather than doubling the work.
_GENERATING = asyncio.Lock()


def _offered(request: web.Request) -> dict[str, object]:
    state = console_state(request)
    months = [p.start.isoformat()[:7] for p in archive.finished_months(state.clock(), state.tz)]
    return {"page": "reports", "months": months, "languages": LANGUAGES, "error": ""}


async def reports_page(request: web.Request) -> web.Response:
    require_supervisor(request)
    return render(request, "supervisor_reports.html", {**_offered(request), "reports": await archive.archived()})


async def report_generate(request: web.Request) -> web.Response:
    """Store a finished month's report on demand (the 1st's job does the month before by itself)."""
    user = require_supervisor(request)
    form = await form_fields(request)
    state = console_state(request)
    now = state.clock()
    periods = {p.start.isoformat()[:7]: p for p in archive.finished_months(now, state.tz)}
    period, lang = periods.get(form.get("month", "")), form.get("lang", "")
    if period is None or lang not in LANGUAGES:
        return render(request, "supervisor_reports.html", {
            **_offered(request), "reports": await archive.archived(),
            "error": request_catalog(request)("error_report_month")}, status=400)
    if _GENERATING.locked():
        raise web.HTTPSeeOther("/console/admin/reports?notice=error_report_busy")
    async with _GENERATING:
        stored = await archive.generate_month(period=period, now=now, lang=lang)
    if not stored:
        raise web.HTTPSeeOther("/console/admin/reports?notice=notice_report_exists")
    await actions.audit(actor=user, action="report.generate", target=period.start.isoformat()[:7],
                        data={"lang": lang, "formats": [r.format for r in stored]})
    raise web.HTTPSeeOther("/console/admin/reports?notice=notice_report_generated")


async def report_download(request: web.Request) -> web.Response:
    require_supervisor(request)
    report = await GeneratedReport.get_or_none(id=path_id(request))
    if report is None:
        raise web.HTTPNotFound(text=request_catalog(request)("error_not_found"))
    fmt = ReportFormat(report.format)
    name = f"laporan-care-center-{report.month.isoformat()[:7]}-{report.lang}.{fmt.value}"
    return web.Response(body=report.content, headers={
        "Content-Type": archive.CONTENT_TYPES[fmt], "Content-Disposition": f'attachment; filename="{name}"',
        "X-Content-Type-Options": "nosniff"})


def add_routes(console: web.Application) -> None:
    r = console.router
    r.add_get("/admin/reports", reports_page, name="supervisor_reports")
    r.add_post("/admin/reports", report_generate, name="supervisor_report_generate")
    r.add_get("/admin/reports/{id}", report_download, name="supervisor_report_download")
    r.add_get("/admin/tickets", tickets_page, name="supervisor_tickets")
    r.add_get("/admin/tickets/export", tickets_export, name="supervisor_tickets_export")
