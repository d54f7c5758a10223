"""Operating hours, extra closed dates, the out-of-hours message and the SLA target, as supervisors set them.

Stored in the ``settings`` table (one JSON row) and read where they are used, so a change made in the
console applies to the next hand-off, queue page and SLA check of every process without a restart. The
environment's values (OPENING_TIME, CLOSING_TIME, SLA_HOURS) are the defaults until a supervisor saves.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, time, timedelta
from typing import Any

from handoff.hours import OperatingHours
from handoff.i18n import LANGUAGES
from handoff.templating import OUT_OF_HOURS, check
from models import Setting

KEY = "operations"
MAX_SLA_HOURS = 24 * 30  # a month: anything longer is a typo, not a target
MAX_CLOSED_DATES = 366
MAX_MESSAGE_CHARS = 1000
_TIME = re.compile(r"^(\d{1,2})[:.](\d{2})$")


@dataclass(frozen=True, slots=True)
class Operations:
    hours: OperatingHours
    sla: timedelta
    # Out-of-hours message per language; empty: the catalogue's own text.
    messages: Mapping[str, str] = field(default_factory=dict)
    # True once a supervisor saved: the bot then describes the hours from the schedule, not the catalogue.
    stored: bool = False

    def message(self, lang: str) -> str:
        return self.messages.get(lang, "").strip()

    @property
    def sla_hours(self) -> float:
        return self.sla.total_seconds() / 3600


class OperationsFormError(ValueError):
    """Bad input on the settings form: ``errors`` maps a field name to a console catalogue key, ``params``
    a field name to the values that key's text names (the placeholder a message got wrong, for one)."""

    def __init__(self, errors: dict[str, str], params: dict[str, dict[str, str]] | None = None) -> None:
        super().__init__(", ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors
        self.params = params or {}


def sla_text(sla: timedelta) -> str:
    """Hours as people write them: 24, 1.5."""
    hours = sla.total_seconds() / 3600
    return str(int(hours)) if hours == int(hours) else f"{hours:g}"


def _to_json(ops: Operations) -> dict[str, Any]:
    return {
        "schedule": [[day, opens.strftime("%H:%M"), closes.strftime("%H:%M")]
                     for day, opens, closes in _schedule_of(ops.hours)],
        "closed_dates": sorted(d.isoformat() for d in ops.hours.closed_dates),
        "public_holidays": ops.hours.public_holidays,
        "messages": {lang: ops.message(lang) for lang in LANGUAGES},
        "sla_hours": ops.sla_hours,
    }


def _schedule_of(hours: OperatingHours) -> list[tuple[int, time, time]]:
    """Every opening period, several a day where there is a break (Friday prayer)."""
    return [(day, *period) for day in range(7) for period in hours.periods(day)]


def _from_json(value: dict[str, Any], defaults: Operations) -> Operations:
    """Read a stored row; a damaged part falls back to the default rather than taking the bot down."""
    try:
        schedule = tuple((int(d), time.fromisoformat(o), time.fromisoformat(c)) for d, o, c in value["schedule"])
        closed = frozenset(date.fromisoformat(d) for d in value.get("closed_dates", []))
        hours = replace(defaults.hours, schedule=schedule, closed_dates=closed,
                        public_holidays=bool(value.get("public_holidays", True)))
    except (KeyError, TypeError, ValueError):
        hours = defaults.hours
    try:
        sla = timedelta(hours=float(value["sla_hours"]))
        if not timedelta(0) < sla <= timedelta(hours=MAX_SLA_HOURS):
            sla = defaults.sla
    except (KeyError, TypeError, ValueError):
        sla = defaults.sla
    raw_messages = value.get("messages")
    messages = {lang: str(raw_messages.get(lang, "")) for lang in LANGUAGES} if isinstance(raw_messages, dict) else {}
    return Operations(hours=hours, sla=sla, messages=messages, stored=True)


async def load_operations(*, defaults: Operations) -> Operations:
    """The values in force now: the stored ones, or ``defaults`` (from the environment) until someone saves."""
    row = await Setting.get_or_none(key=KEY)
    if row is None or not isinstance(row.value, dict):
        return defaults
    return _from_json(row.value, defaults)


async def save_operations(*, operations: Operations) -> Operations:
    value = _to_json(operations)
    updated = await Setting.filter(key=KEY).update(value=value)
    if not updated:
        await Setting.create(key=KEY, value=value)
    return replace(operations, stored=True)


def defaults_from(*, hours: OperatingHours, sla: timedelta) -> Operations:
    return Operations(hours=hours, sla=sla)


def _parse_time(raw: str) -> time | None:
    found = _TIME.match(raw.strip())
    if found is None:
        return None
    hour, minute = int(found.group(1)), int(found.group(2))
    if hour > 23 or minute > 59:
        return None
    return time(hour, minute)


def _check_message(text: str) -> tuple[str, dict[str, str]] | None:
    """An error key and its values when the message is too long or names anything but its fields."""
    if len(text) > MAX_MESSAGE_CHARS:
        return "error_message_too_long", {}
    problem = check(OUT_OF_HOURS, text)
    return (problem.code, problem.params()) if problem is not None else None


def _with_break(form: Mapping[str, str], day: int, opens: time, closes: time,
                errors: dict[str, str]) -> list[tuple[int, time, time]]:
    """The day's periods: one, or two around a break (``break_from_<d>`` to ``break_until_<d>``, both or
    neither, inside the day's hours): Friday 08:00-16:00 with a break 11:30-13:00 for Friday prayer."""
    raw_from, raw_until = form.get(f"break_from_{day}", "").strip(), form.get(f"break_until_{day}", "").strip()
    if not raw_from and not raw_until:
        return [(day, opens, closes)]
    start, end = _parse_time(raw_from), _parse_time(raw_until)
    if start is None:
        errors[f"break_from_{day}"] = "error_bad_time"
    if end is None:
        errors[f"break_until_{day}"] = "error_bad_time"
    if start is None or end is None:
        return []
    if not opens < start < end < closes:
        errors[f"break_until_{day}"] = "error_break_outside"
        return []
    return [(day, opens, start), (day, end, closes)]


def parse_form(form: Mapping[str, str], *, defaults: Operations) -> Operations:
    """The settings form as Operations, or OperationsFormError naming every bad field (nothing is saved then).

    Fields: ``open_<d>`` (checkbox), ``opens_<d>`` / ``closes_<d>`` (HH:MM) for weekday d = 0..6, and an
    optional break ``break_from_<d>`` / ``break_until_<d>``,
    ``public_holidays`` (checkbox), ``closed_dates`` (one YYYY-MM-DD per line or comma-separated),
    ``message_id`` / ``message_en``, ``sla_hours``.
    """
    errors: dict[str, str] = {}
    params: dict[str, dict[str, str]] = {}
    schedule: list[tuple[int, time, time]] = []
    for day in range(7):
        if form.get(f"open_{day}") != "1":
            continue
        opens = _parse_time(form.get(f"opens_{day}", ""))
        closes = _parse_time(form.get(f"closes_{day}", ""))
        if opens is None:
            errors[f"opens_{day}"] = "error_bad_time"
        if closes is None:
            errors[f"closes_{day}"] = "error_bad_time"
        if opens is not None and closes is not None:
            if closes <= opens:
                errors[f"closes_{day}"] = "error_end_before_start"
            else:
                schedule += _with_break(form, day, opens, closes, errors)
    closed: set[date] = set()
    for raw in re.split(r"[\s,;]+", form.get("closed_dates", "")):
        if not raw:
            continue
        try:
            closed.add(date.fromisoformat(raw))
        except ValueError:
            errors["closed_dates"] = "error_bad_date"
            break
    if len(closed) > MAX_CLOSED_DATES:
        errors["closed_dates"] = "error_too_many_dates"
    raw_sla = form.get("sla_hours", "").strip().replace(",", ".")
    sla = defaults.sla
    try:
        value = float(raw_sla)
    except ValueError:
        errors["sla_hours"] = "error_sla_number"
    else:
        if not 0 < value <= MAX_SLA_HOURS:  # also refuses nan and inf
            errors["sla_hours"] = "error_sla_range"
        else:
            sla = timedelta(hours=value)
    messages: dict[str, str] = {}
    for lang in LANGUAGES:
        text = form.get(f"message_{lang}", "").replace("\r\n", "\n").strip()
        problem = _check_message(text)
        if problem is not None:
            errors[f"message_{lang}"], params[f"message_{lang}"] = problem
        messages[lang] = text
    if errors:
        raise OperationsFormError(errors, params)
    hours = replace(defaults.hours, schedule=tuple(schedule), closed_dates=frozenset(closed),
                    public_holidays=form.get("public_holidays") == "1")
    return Operations(hours=hours, sla=sla, messages=messages, stored=True)


def form_values(ops: Operations) -> dict[str, str]:
    """The form's fields filled from ``ops`` (the page shows these, or what was posted after an error)."""
    values: dict[str, str] = {}
    for day in range(7):
        span = ops.hours.span(day)
        values[f"open_{day}"] = "1" if span else ""
        values[f"opens_{day}"] = span[0].strftime("%H:%M") if span else "08:00"
        values[f"closes_{day}"] = span[1].strftime("%H:%M") if span else "16:00"
        # A break: the gap after the first period (the form edits one; more stay until the form is saved).
        periods = ops.hours.periods(day)
        values[f"break_from_{day}"] = periods[0][1].strftime("%H:%M") if len(periods) > 1 else ""
        values[f"break_until_{day}"] = periods[1][0].strftime("%H:%M") if len(periods) > 1 else ""
    values["public_holidays"] = "1" if ops.hours.public_holidays else ""
    values["closed_dates"] = "\n".join(sorted(d.isoformat() for d in ops.hours.closed_dates))
    values["sla_hours"] = sla_text(ops.sla)
    for lang in LANGUAGES:
        values[f"message_{lang}"] = ops.message(lang)
    return values


def describe_spans(hours: OperatingHours) -> list[tuple[list[int], time, time]]:
    """Consecutive weekdays with the same hours grouped: [([0..4], 08:00, 16:00), ([5], 08:00, 12:00)]."""
    groups: list[tuple[list[int], time, time]] = []
    for day, opens, closes in _schedule_of(hours):
        if groups and groups[-1][0][-1] == day - 1 and groups[-1][1:] == (opens, closes):
            groups[-1][0].append(day)
        else:
            groups.append(([day], opens, closes))
    return groups
