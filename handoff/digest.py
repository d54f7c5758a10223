"""Scheduled mails to supervisors: the daily digest, the weekly summary and the monthly report (issue 12).

When. One job runs every minute (``handoff.jobs``) and asks ``due_period`` whether a kind's moment has come
at the times supervisors set in the console (the ``digest`` setting; daily 07:00, weekly Monday 07:00 by
default, local time). A fixed ``DailyAt`` trigger would need the scheduler restarted to follow a change.
Only the latest period is ever due (yesterday, last week): a scheduler down at 07:00 sends when it comes
back that day, and one down for the whole day skips it (a digest of the day before yesterday helps nobody).
A supervisor gets mails about periods that end after their account was made: a new installation (its
first start makes the supervisor) or a new supervisor begins with the next day, week or month, not with a
mail about days before they were there.
The monthly report's mail is sent by the job that stores the report on the 1st (``send_monthly``).

Exactly once. Each (kind, period, supervisor) is a ``DigestDelivery`` row whose unique key is inserted in
the transaction that queues the mail: a second run, or a second scheduler, fails the insert and queues
nothing. A supervisor without a usable address is claimed too (one WARNING naming the user id, not a
warning a minute), so they get the next period's mail once they have one.

What. Counts and links only, no personal data. The exception counts are ``handoff.ticket_search``'s, over
the supervisor ticket page's default period (the last 30 days: what falls through is the backlog, not one
day's tickets), each linked to that page filtered to it, so the number in the mail is the number the link
shows. The figures are the reports' (``compare_figures``) for yesterday or last week, beside the period
before. Both languages, Indonesian first, as ``handoff.notify``'s mails (a supervisor has no language).

How. Through ``handoff.notify.queue_supervisor_mail``: rows of the helpdesk's mail outbox, sent and
retried by ``handoff.escalation_mail``. A supervisor who linked a Telegram chat (handoff.staff_telegram)
also gets it there, queued by ``queue_supervisor_telegram`` in the same claiming transaction, so it too
goes once: a shorter plain text (``telegram_text``: the counts, the figures, one link to the ticket page),
since a message is read on a phone and Telegram caps one at 4,096 characters.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import jinja2
from babel.dates import format_date
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from handoff import notify
from handoff.i18n import LANGUAGES, console_catalog
from handoff.operations import _parse_time as parse_time
from handoff.reports.archive import ARCHIVE_LANG, previous_month
from handoff.reports.figures import Comparison, Figures, compare_figures
from handoff.reports.period import Period
from handoff.reports.summary import Kind, Row, shown, shown_change
from handoff.reports.text import ReportText, report_text
from handoff.ticket_search import ExceptionCounts, Flag, TicketSearch, default_period, exception_counts
from models import DigestDelivery, GeneratedReport, Setting, User, UserRole

log = logging.getLogger(__name__)

SETTING_KEY = "digest"
DEFAULT_DAILY_AT = time(7, 0)
DEFAULT_WEEKLY_DAY = 0  # Monday: weeks start on Monday (handoff.reports.period)
DEFAULT_WEEKLY_AT = time(7, 0)
ABANDONED = "abandoned"  # the one exception that is not a ticket filter: it links to the dashboard


class DigestKind(StrEnum):
    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"


# Each kind's opt-in column on ``users`` (migration 0021).
CHOICE = {DigestKind.DAILY: "digest_daily", DigestKind.WEEKLY: "digest_weekly", DigestKind.MONTHLY: "digest_monthly"}


@dataclass(frozen=True, slots=True)
class Schedule:
    daily_at: time = DEFAULT_DAILY_AT
    weekly_day: int = DEFAULT_WEEKLY_DAY  # 0 Monday .. 6 Sunday
    weekly_at: time = DEFAULT_WEEKLY_AT


class ScheduleFormError(ValueError):
    """Bad input on the settings form: ``errors`` maps a field to a console catalogue key."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(", ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def _from_json(value: Mapping[str, Any]) -> Schedule:
    """A stored schedule; a value that cannot be read (edited by hand) falls back to the default."""
    daily = parse_time(str(value.get("daily_at", ""))) or DEFAULT_DAILY_AT
    weekly = parse_time(str(value.get("weekly_at", ""))) or DEFAULT_WEEKLY_AT
    day = value.get("weekly_day")
    return Schedule(daily, day if isinstance(day, int) and 0 <= day <= 6 else DEFAULT_WEEKLY_DAY, weekly)


async def load_schedule() -> Schedule:
    row = await Setting.get_or_none(key=SETTING_KEY)
    return _from_json(row.value) if row is not None else Schedule()


async def save_schedule(schedule: Schedule) -> Schedule:
    value = {"daily_at": schedule.daily_at.strftime("%H:%M"), "weekly_day": schedule.weekly_day,
             "weekly_at": schedule.weekly_at.strftime("%H:%M")}
    await Setting.update_or_create(key=SETTING_KEY, defaults={"value": value})
    return schedule


def parse_schedule(form: Mapping[str, str]) -> Schedule:
    """The settings form's three fields: ``digest_daily_at``, ``digest_weekly_day`` (0-6), ``digest_weekly_at``."""
    errors: dict[str, str] = {}
    daily = parse_time(form.get("digest_daily_at", ""))
    weekly = parse_time(form.get("digest_weekly_at", ""))
    raw_day = form.get("digest_weekly_day", "").strip()
    day = int(raw_day) if raw_day in {str(d) for d in range(7)} else None
    if daily is None:
        errors["digest_daily_at"] = "error_bad_time"
    if weekly is None:
        errors["digest_weekly_at"] = "error_bad_time"
    if day is None:
        errors["digest_weekly_day"] = "error_digest_day"
    if errors or daily is None or weekly is None or day is None:
        raise ScheduleFormError(errors)
    return Schedule(daily, day, weekly)


def schedule_values(schedule: Schedule) -> dict[str, str]:
    return {"digest_daily_at": schedule.daily_at.strftime("%H:%M"), "digest_weekly_day": str(schedule.weekly_day),
            "digest_weekly_at": schedule.weekly_at.strftime("%H:%M")}


def due_period(kind: DigestKind, schedule: Schedule, *, now: datetime, tz: ZoneInfo) -> Period | None:
    """The period a daily or weekly mail is due for at ``now``, or None before this day's/week's moment."""
    local = now.astimezone(tz)
    today = local.date()
    if kind == DigestKind.DAILY:
        if local.time() < schedule.daily_at:
            return None
        return Period(today - timedelta(days=1), today, tz)
    if kind == DigestKind.WEEKLY:
        monday = today - timedelta(days=today.weekday())
        moment = datetime.combine(monday + timedelta(days=schedule.weekly_day), schedule.weekly_at, tzinfo=tz)
        if local < moment:
            return None
        return Period(monday - timedelta(days=7), monday, tz)
    raise ValueError(f"{kind}: the monthly mail follows the stored report (send_monthly)")


@dataclass(frozen=True, slots=True)
class ExceptionLine:
    key: str  # a Flag's value, or ABANDONED
    count: int
    url: str  # "" without PUBLIC_URL


# The figures of the period (the reports' catalogue labels; "resolved" is the digest's own).
_FIGURES: tuple[tuple[str, Kind, Any], ...] = (
    ("tickets", Kind.COUNT, lambda f: f.tickets),
    ("resolved", Kind.COUNT, lambda f: f.resolved),
    ("target_met", Kind.COUNT, lambda f: f.resolution_target.met),
    ("target_share", Kind.SHARE, lambda f: f.resolution_target.met_share),
    ("first_response_median", Kind.MINUTES, lambda f: None if f.first_response.median is None
     else f.first_response.median / 60),
    ("csat_average", Kind.AVERAGE, lambda f: f.csat.average),
    ("csat_count", Kind.COUNT, lambda f: f.csat.count),
)


@dataclass(frozen=True, slots=True)
class Digest:
    kind: DigestKind
    period: Period  # what the figures are about
    backlog: Period  # what the exception counts are about (the ticket page's default period)
    exceptions: tuple[ExceptionLine, ...]
    figures: tuple[Row, ...]
    tickets_url: str = ""  # the supervisor ticket page over ``backlog`` ("" without PUBLIC_URL)

    @property
    def flagged(self) -> int:
        return sum(line.count for line in self.exceptions)


def _figure_rows(both: Comparison) -> tuple[Row, ...]:
    def get(figures: Figures, read: Any) -> float | None:
        value = read(figures)
        return None if value is None else float(value)

    return tuple(Row(label, kind, get(both.current, read), get(both.previous, read)) for label, kind, read in _FIGURES)


def exception_lines(counts: ExceptionCounts, backlog: Period, *, public_url: str) -> tuple[ExceptionLine, ...]:
    """Each exception with the link to the supervisor ticket page filtered to it, over the same period."""
    search = TicketSearch(period=backlog)
    lines = []
    for flag in Flag:
        url = f"{public_url}/console/admin/tickets?{urlencode(search.query_string(exception=flag.value))}"
        lines.append(ExceptionLine(flag.value, counts.counts[flag], url if public_url else ""))
    # Abandoned conversations have no ticket to list: the dashboard shows them for a custom period.
    query = urlencode({"period": "custom", "since": backlog.start.isoformat(), "until": backlog.end.isoformat()})
    lines.append(ExceptionLine(ABANDONED, counts.abandoned,
                               f"{public_url}/console/admin/dashboard?{query}" if public_url else ""))
    return tuple(lines)


async def build_digest(kind: DigestKind, period: Period, *, now: datetime, public_url: str) -> Digest:
    backlog = default_period(now=now, tz=period.tz)
    counts = await exception_counts(backlog, now=now)
    both = await compare_figures(period=period, now=now)
    query = urlencode(TicketSearch(period=backlog).query_string())
    return Digest(kind, period, backlog, exception_lines(counts, backlog, public_url=public_url),
                  _figure_rows(both), f"{public_url}/console/admin/tickets?{query}" if public_url else "")


_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("handoff", "templates"),
    autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
    undefined=jinja2.StrictUndefined,
)


@dataclass(frozen=True, slots=True)
class Section:
    """One language's part of a mail, every text already written."""

    lang: str
    title: str
    intro: str
    exceptions_title: str
    exceptions: tuple[tuple[str, str, str], ...]  # label, count, url
    figures_title: str
    figures_head: tuple[str, str, str, str]
    figures: tuple[tuple[str, str, str, str], ...]  # label, this period, the period before, change
    footer: str


def _span(period: Period, text: ReportText) -> str:
    """A day as a day ("Senin, 30 Nov 2026"), a week as its range."""
    if len(period.days) == 1:
        return format_date(period.start, console_catalog(text.lang)("digest_day_format"), locale=text.lang)
    return text.period(period)


def _section(digest: Digest, lang: str) -> Section:
    t, text = console_catalog(lang), report_text(lang)
    span = _span(digest.period, text)
    backlog = text.period(digest.backlog)
    return Section(
        lang=lang,
        title=t(f"digest_title_{digest.kind}", period=span),
        intro=t("digest_intro", backlog=backlog),
        exceptions_title=t("digest_exceptions", backlog=backlog),
        exceptions=tuple((t(f"exception_{line.key}"), text.number(line.count), line.url)
                         for line in digest.exceptions),
        figures_title=t(f"digest_figures_{digest.kind}", period=span),
        figures_head=(text("label.figure"), text("label.current"), text("label.previous"), text("label.change")),
        figures=tuple((t("digest_resolved") if row.label == "resolved" else text(f"label.{row.label}"),
                       shown(row.kind, row.current, text), shown(row.kind, row.previous, text),
                       shown_change(row, text)) for row in digest.figures),
        footer=t("digest_footer"),
    )


def _plain(section: Section) -> str:
    lines = [section.title, "", section.intro, "", section.exceptions_title]
    lines += [f"- {label}: {count}" + (f"\n  {url}" if url else "") for label, count, url in section.exceptions]
    lines += ["", section.figures_title]
    lines += [f"- {label}: {current} ({section.figures_head[2].lower()}: {previous}{', ' + moved if moved else ''})"
              for label, current, previous, moved in section.figures]
    lines += ["", section.footer]
    return "\n".join(lines)


def telegram_text(digest: Digest) -> str:
    """The digest as one Telegram message, Indonesian then English: every count and figure of the mail, and
    one link (the ticket page) instead of one per line."""
    parts = []
    for lang in LANGUAGES:
        section = _section(digest, lang)
        lines = [section.title, "", section.exceptions_title]
        lines += [f"- {label}: {count}" for label, count, _url in section.exceptions]
        lines += ["", section.figures_title]
        lines += [f"- {label}: {current} ({section.figures_head[2].lower()}: {previous})"
                  for label, current, previous, _moved in section.figures]
        if digest.tickets_url:
            lines += ["", console_catalog(lang)("digest_telegram_link", url=digest.tickets_url)]
        parts.append("\n".join(lines))
    return "\n\n-----\n\n".join(parts)


def render(digest: Digest) -> tuple[str, str, str]:
    """(subject, plain text, HTML), Indonesian then English."""
    sections = [_section(digest, lang) for lang in LANGUAGES]
    subject = console_catalog(LANGUAGES[0])(f"digest_subject_{digest.kind}",
                                            period=_span(digest.period, report_text(LANGUAGES[0])),
                                            flagged=digest.flagged)
    plain = "\n\n-----\n\n".join(_plain(s) for s in sections)
    rich = _ENV.get_template("digest_mail.html").render(sections=sections, title=subject)
    return subject[:200], plain, rich


async def _waiting(kind: DigestKind, period: Period) -> list[User]:
    """Active supervisors who want this mail, whose account existed before the period ended, and who have not
    been claimed for this period yet."""
    claimed = DigestDelivery.filter(kind=kind.value, period_start=period.start).values_list("user_id", flat=True)
    return list(await User.filter(role=UserRole.SUPERVISOR, active=True, created_at__lt=period.end_utc,
                                  **{CHOICE[kind]: True})
                .exclude(id__in=await claimed).order_by("id"))


async def _deliver(kind: DigestKind, period_start: date, supervisors: list[User], *, now: datetime, subject: str,
                   body: str, html: str, telegram: str, report_id: int | None = None) -> int:
    """Claim each supervisor's mail for the period and queue it, with its Telegram message when they linked a
    chat; returns to how many supervisors this call queued something."""
    queued = 0
    for supervisor in supervisors:
        try:
            async with in_transaction():
                await DigestDelivery.create(kind=kind.value, period_start=period_start, user_id=supervisor.id,
                                            created_at=now)
                mail = await notify.queue_supervisor_mail(supervisor=supervisor, kind=f"digest_{kind}",
                                                          subject=subject, body=body, html=html,
                                                          report_id=report_id)
                chat = await notify.queue_supervisor_telegram(supervisor=supervisor, kind=f"digest_{kind}",
                                                              text=telegram)
        except IntegrityError:  # another run claimed it first: theirs is the one sent
            continue
        queued += mail is not None or chat is not None
    if queued:
        log.info("%s mail for %s queued for %d supervisor(s)", kind.value, period_start.isoformat(), queued)
    return queued


async def send_due(*, now: datetime, tz: ZoneInfo, public_url: str) -> int:
    """The minute job: queue every daily and weekly mail that is due and not yet claimed."""
    schedule = await load_schedule()
    queued = 0
    for kind in (DigestKind.DAILY, DigestKind.WEEKLY):
        period = due_period(kind, schedule, now=now, tz=tz)
        if period is None:
            continue
        supervisors = await _waiting(kind, period)
        if not supervisors:  # the cheap answer of nearly every minute
            continue
        built = await build_digest(kind, period, now=now, public_url=public_url)
        subject, body, html = render(built)
        queued += await _deliver(kind, period.start, supervisors, now=now, subject=subject, body=body, html=html,
                                 telegram=telegram_text(built))
    return queued


async def send_monthly(*, now: datetime, tz: ZoneInfo, public_url: str) -> int:
    """Last month's stored report to the supervisors who want it: its PDF attached (a report is tens of KB,
    referenced by the mail row rather than copied), and the console's download page linked."""
    period = previous_month(now, tz)
    report = await GeneratedReport.filter(month=period.start, format="pdf", lang=ARCHIVE_LANG).only("id").first()
    if report is None:
        log.warning("monthly report mail for %s not sent: no stored PDF", period.start.isoformat()[:7])
        return 0
    supervisors = await _waiting(DigestKind.MONTHLY, period)
    if not supervisors:
        return 0
    url = f"{public_url}/console/admin/reports" if public_url else ""
    subjects, plain, sections = [], [], []
    for lang in LANGUAGES:
        t = console_catalog(lang)
        month = report_text(lang).month(period.start)
        subjects.append(t("monthly_mail_subject", month=month))
        body = t("monthly_mail_body", month=month, url=url or "-")
        plain.append(body)
        sections.append(body)
    html = _ENV.get_template("monthly_mail.html").render(sections=sections, url=url, title=subjects[0])
    text = "\n\n-----\n\n".join(plain)
    return await _deliver(DigestKind.MONTHLY, period.start, supervisors, now=now, subject=subjects[0][:200],
                          body=text, html=html, telegram=text, report_id=report.id)
