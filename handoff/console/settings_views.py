"""Supervisor page for operating hours, closed dates, the out-of-hours message, the SLA target and the times
of the scheduled summaries (handoff.digest)."""

from __future__ import annotations

from datetime import date

from aiohttp import web

from handoff import actions, digest
from handoff.console.toolkit import USER, console_state, current_operations, form_fields, render, require_supervisor
from handoff.i18n import LANGUAGES
from handoff.operations import (
    Operations,
    OperationsFormError,
    form_values,
    parse_form,
    save_operations,
    sla_text,
)
from handoff.templating import OUT_OF_HOURS


def _holidays_ahead(ops: Operations, *, today: date, count: int = 8) -> list[tuple[date, str]]:
    """The next public holidays, so the supervisor sees what "public holidays" means this year."""
    calendar = ops.hours._holidays
    upcoming: list[tuple[date, str]] = []
    for year in (today.year, today.year + 1):
        calendar.get(date(year, 1, 1))  # the holidays package fills a year on first look-up
    for day in sorted(d for d in calendar if d >= today):
        upcoming.append((day, str(calendar.get(day))))
        if len(upcoming) >= count:
            break
    return upcoming


def _page(request: web.Request, ops: Operations, values: dict[str, str], errors: dict[str, str],
          *, schedule: dict[str, str], params: dict[str, dict[str, str]] | None = None, status: int = 200,
          schedule_errors: dict[str, str] | None = None) -> web.Response:
    state = console_state(request)
    return render(request, "admin_settings.html", {
        "page": "settings",
        "values": values,
        "errors": errors,
        "digest_values": schedule,
        "digest_errors": schedule_errors or {},
        "error_params": params or {},
        "days": range(7),
        "languages": LANGUAGES,
        "fields": OUT_OF_HOURS.fields_text(),
        "holidays_ahead": _holidays_ahead(ops, today=state.clock().astimezone(state.tz).date()),
    }, status=status)


async def settings_page(request: web.Request) -> web.Response:
    require_supervisor(request)
    ops = await current_operations(console_state(request))
    schedule = digest.schedule_values(await digest.load_schedule())
    return _page(request, ops, form_values(ops), {}, schedule=schedule)


async def settings_save(request: web.Request) -> web.Response:
    user = require_supervisor(request)
    state = console_state(request)
    form = await form_fields(request)
    current = await current_operations(state)
    try:
        ops = parse_form(form, defaults=current)
    except OperationsFormError as problem:
        # Nothing is saved; the form comes back with what was typed, so no input is lost.
        return _page(request, current, {**form_values(current), **form,
                                        **{k: "" for k in ("public_holidays",) if k not in form},
                                        **{f"open_{d}": form.get(f"open_{d}", "") for d in range(7)}},
                     problem.errors, params=problem.params, status=400,
                     schedule=digest.schedule_values(await digest.load_schedule()))
    await save_operations(operations=ops)
    await actions.audit(actor=user, action="settings.operations", data={
        "schedule": {str(d): [s[0].strftime("%H:%M"), s[1].strftime("%H:%M")]
                     for d in range(7) if (s := ops.hours.span(d))},
        "closed_dates": len(ops.hours.closed_dates),
        "public_holidays": ops.hours.public_holidays,
        "sla_hours": sla_text(ops.sla),
        "message_set": [lang for lang in LANGUAGES if ops.message(lang)],
        "previous_sla_hours": sla_text(current.sla),
    })
    # Open consoles re-read their page, so the queue's time-left colours follow the new target.
    state.broker.publish("settings.updated", {"by": request[USER].id})
    raise web.HTTPSeeOther("/console/admin/settings?notice=notice_saved")


async def digest_save(request: web.Request) -> web.Response:
    user = require_supervisor(request)
    form = await form_fields(request)
    current = await digest.load_schedule()
    try:
        schedule = digest.parse_schedule(form)
    except digest.ScheduleFormError as problem:
        # Nothing is saved; the form comes back with what was typed.
        ops = await current_operations(console_state(request))
        typed = {k: form.get(k, "") for k in digest.schedule_values(current)}
        return _page(request, ops, form_values(ops), {}, schedule=typed, schedule_errors=problem.errors, status=400)
    await digest.save_schedule(schedule)
    await actions.audit(actor=user, action="settings.digest", data={
        **digest.schedule_values(schedule), "previous": digest.schedule_values(current)})
    raise web.HTTPSeeOther("/console/admin/settings?notice=notice_saved")


def add_routes(console: web.Application) -> None:
    router = console.router
    router.add_get("/admin/settings", settings_page, name="settings")
    router.add_post("/admin/settings", settings_save, name="settings_save")
    router.add_post("/admin/settings/digest", digest_save, name="settings_digest_save")
