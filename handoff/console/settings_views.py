"""Supervisor page for operating hours (with a break), closed dates, the out-of-hours message, the SLA
target, the SLA policy (handoff.sla: first response, counting, pause, warnings, per-category and
per-priority rules) and the times of the scheduled summaries (handoff.digest), each form saved on its own; and
the signed-in user's own Telegram chat for their notices (handoff.staff_telegram: link with a code, unlink)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from aiohttp import web

from handoff import actions, digest, staff_telegram
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
from handoff.sla import PolicyError, SlaPolicy, check_categories, load_policy, policy_from_json, save_policy
from handoff.templating import OUT_OF_HOURS
from models import ChannelKind, Priority, SlaCounting

ANY = "*"  # a rule's category or priority left open
UNSET = "-"  # a rule's target left to the next rule


def policy_values(policy: SlaPolicy) -> dict[str, str]:
    """The SLA policy form's fields; targets in minutes, one rule per line: category priority first resolution."""
    def minutes(value: timedelta | None) -> str:
        return UNSET if value is None else f"{value.total_seconds() / 60:g}"

    rules = [" ".join((r.category or ANY, r.priority.value if r.priority else ANY, minutes(r.first_response),
                       minutes(r.resolution))) for r in policy.rules]
    return {"first_response_minutes": minutes(policy.first_response), "counting": policy.counting.value,
            "pause_when_waiting": "1" if policy.pause_when_waiting else "",
            "warnings": ", ".join(str(w) for w in policy.warnings), "rules": "\n".join(rules)}


def parse_policy_form(form: dict[str, str], *, current: SlaPolicy) -> SlaPolicy:
    """The posted policy, or PolicyError naming every bad field (a bad rule by its line, from 0)."""
    errors: dict[str, str] = {}
    rules: list[dict[str, str | None]] = []
    lines: list[int] = []  # the form's line of each rule, so an error names the line the supervisor sees
    for n, line in enumerate(line for line in form.get("rules", "").splitlines() if line.strip()):
        parts = line.split()
        if len(parts) != 4:  # category priority first resolution
            errors[f"rule_{n}"] = "error_sla_rule_line"
            continue
        category, priority, first, resolution = (None if p in (ANY, UNSET) else p for p in parts)
        rules.append({"category": category, "priority": priority, "first_response_minutes": first,
                      "resolution_minutes": resolution})
        lines.append(n)
    raw_warnings = [w for w in form.get("warnings", "").replace(",", " ").split() if w]
    value = {"first_response_minutes": form.get("first_response_minutes", ""),
             "counting": form.get("counting", SlaCounting.CALENDAR.value),
             "pause_when_waiting": form.get("pause_when_waiting") == "1", "warnings": raw_warnings, "rules": rules}
    try:
        policy = policy_from_json(value, hours=current.hours, resolution=current.resolution)
    except PolicyError as problem:
        errors |= {_on_line(key, lines): error for key, error in problem.errors.items()}
        raise PolicyError(errors) from None
    if errors:
        raise PolicyError(errors)
    return policy


def _on_line(key: str, lines: list[int]) -> str:
    """``rule_<i>...`` of the i-th parsed rule as ``rule_<line>...`` of the form's line."""
    if not key.startswith("rule_") or not key.split("_")[1].isdigit():
        return key
    index = key.split("_")[1]
    return key.replace(f"rule_{index}", f"rule_{lines[int(index)]}", 1)


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


async def telegram_card(request: web.Request, *, code: str = "") -> dict[str, Any]:
    """The Telegram card: whether the bot runs here, the user's link and its state, and a code just made."""
    state = console_state(request)
    channel = state.registry.get(ChannelKind.TELEGRAM)
    link = await staff_telegram.link_of(request[USER])
    username = channel.bot_username if isinstance(channel, staff_telegram.NamedBot) else None

    def local(moment: datetime | None) -> str:
        return moment.astimezone(state.tz).strftime("%Y-%m-%d %H:%M") if moment is not None else ""

    return {"configured": channel is not None, "link": link, "since": local(link.linked_at if link else None),
            "broken_since": local(link.broken_at if link else None), "code": code,
            "deep_link": staff_telegram.deep_link(username, code) if code and username else "",
            "minutes": int(staff_telegram.VALIDITY.total_seconds() // 60)}


async def _page(request: web.Request, ops: Operations, values: dict[str, str], errors: dict[str, str],
                *, params: dict[str, dict[str, str]] | None = None, status: int = 200,
                sla_values: dict[str, str], sla_errors: dict[str, str] | None = None,
                schedule: dict[str, str], schedule_errors: dict[str, str] | None = None,
                code: str = "") -> web.Response:
    state = console_state(request)
    return render(request, "admin_settings.html", {
        "telegram": await telegram_card(request, code=code),
        "sla_values": sla_values,
        "sla_errors": sla_errors or {},
        "countings": [c.value for c in SlaCounting],
        "priorities": [p.value for p in Priority],
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
    state = console_state(request)
    ops = await current_operations(state)
    policy = await load_policy(hours=state.hours, resolution=state.sla)
    schedule = digest.schedule_values(await digest.load_schedule())
    return await _page(request, ops, form_values(ops), {}, sla_values=policy_values(policy), schedule=schedule)


async def settings_save(request: web.Request) -> web.Response:
    user = require_supervisor(request)
    state = console_state(request)
    form = await form_fields(request)
    current = await current_operations(state)
    try:
        ops = parse_form(form, defaults=current)
    except OperationsFormError as problem:
        # Nothing is saved; the form comes back with what was typed, so no input is lost.
        policy = await load_policy(hours=state.hours, resolution=state.sla)
        return await _page(request, current, {**form_values(current), **form,
                                        **{k: "" for k in ("public_holidays",) if k not in form},
                                        **{f"open_{d}": form.get(f"open_{d}", "") for d in range(7)}},
                     problem.errors, params=problem.params, status=400, sla_values=policy_values(policy),
                     schedule=digest.schedule_values(await digest.load_schedule()))
    await save_operations(operations=ops)
    await actions.audit(actor=user, action="settings.operations", data={
        "schedule": {str(d): [f"{a:%H:%M}-{b:%H:%M}" for a, b in ops.hours.periods(d)]
                     for d in range(7) if ops.hours.periods(d)},
        "closed_dates": len(ops.hours.closed_dates),
        "public_holidays": ops.hours.public_holidays,
        "sla_hours": sla_text(ops.sla),
        "message_set": [lang for lang in LANGUAGES if ops.message(lang)],
        "previous_sla_hours": sla_text(current.sla),
    })
    # Open consoles re-read their page, so the queue's time-left colours follow the new target.
    state.broker.publish("settings.updated", {"by": request[USER].id})
    raise web.HTTPSeeOther("/console/admin/settings?notice=notice_saved")


async def sla_save(request: web.Request) -> web.Response:
    user = require_supervisor(request)
    state = console_state(request)
    form = await form_fields(request)
    current = await load_policy(hours=state.hours, resolution=state.sla)
    try:
        policy = parse_policy_form(form, current=current)
        await check_categories(policy)  # by the rule's index, which is its line when every line parsed
    except PolicyError as problem:
        # Nothing is saved; what was typed comes back with every bad field named.
        ops = await current_operations(state)
        typed = {**policy_values(current), **form, "pause_when_waiting": form.get("pause_when_waiting", "")}
        return await _page(request, ops, form_values(ops), {}, status=400, sla_values=typed, sla_errors=problem.errors,
                     schedule=digest.schedule_values(await digest.load_schedule()))
    await save_policy(policy)
    await actions.audit(actor=user, action="settings.sla_policy", data=policy_values(policy))
    state.broker.publish("settings.updated", {"by": request[USER].id})
    raise web.HTTPSeeOther("/console/admin/settings?notice=notice_saved#sla-policy")


async def digest_save(request: web.Request) -> web.Response:
    user = require_supervisor(request)
    form = await form_fields(request)
    current = await digest.load_schedule()
    try:
        schedule = digest.parse_schedule(form)
    except digest.ScheduleFormError as problem:
        # Nothing is saved; the form comes back with what was typed.
        state = console_state(request)
        ops = await current_operations(state)
        policy = await load_policy(hours=state.hours, resolution=state.sla)
        typed = {k: form.get(k, "") for k in digest.schedule_values(current)}
        return await _page(request, ops, form_values(ops), {}, sla_values=policy_values(policy), schedule=typed,
                     schedule_errors=problem.errors, status=400)
    await digest.save_schedule(schedule)
    await actions.audit(actor=user, action="settings.digest", data={
        **digest.schedule_values(schedule), "previous": digest.schedule_values(current)})
    raise web.HTTPSeeOther("/console/admin/settings?notice=notice_saved")


async def telegram_link(request: web.Request) -> web.Response:
    """A new code for the signed-in user's chat, shown once on this answer (never in a URL, never kept)."""
    user = require_supervisor(request)
    state = console_state(request)
    if state.registry.get(ChannelKind.TELEGRAM) is None:
        raise web.HTTPSeeOther("/console/admin/settings#telegram")
    code = await staff_telegram.new_code(user=user, secret_key=state.config.secret_key, now=state.clock())
    await actions.audit(actor=user, action="telegram.link_code", target=user.email)
    ops = await current_operations(state)
    policy = await load_policy(hours=state.hours, resolution=state.sla)
    response = await _page(request, ops, form_values(ops), {}, sla_values=policy_values(policy),
                           schedule=digest.schedule_values(await digest.load_schedule()), code=code)
    response.headers["Cache-Control"] = "no-store"  # the code must not outlive this page
    return response


async def telegram_unlink(request: web.Request) -> web.Response:
    user = require_supervisor(request)
    await staff_telegram.unlink(user=user, actor=user)
    raise web.HTTPSeeOther("/console/admin/settings?notice=notice_telegram_unlinked#telegram")


def add_routes(console: web.Application) -> None:
    router = console.router
    router.add_post("/admin/sla", sla_save, name="sla_save")
    router.add_get("/admin/settings", settings_page, name="settings")
    router.add_post("/admin/settings", settings_save, name="settings_save")
    router.add_post("/admin/settings/digest", digest_save, name="settings_digest_save")
    router.add_post("/admin/settings/telegram/link", telegram_link, name="settings_telegram_link")
    router.add_post("/admin/settings/telegram/unlink", telegram_unlink, name="settings_telegram_unlink")
