"""The supervisors' scheduled mails (handoff.digest) on the hand-built November of the reports, with a frozen
clock, on SQLite and PostgreSQL: the daily digest's counts, links and figures worked out by hand; each mail
once across runs and schedulers; opted out gets nothing; no address is a WARNING naming the user id only;
the weekly moment follows the console's setting; the monthly report goes out with its PDF attached; the
outbox sends them to a real SMTP server (aiosmtpd)."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from handoff import digest
from handoff.digest import DigestKind, Schedule, ScheduleFormError, due_period, parse_schedule, send_due
from handoff.escalation_mail import drain
from handoff.jobs import JobContext, registry
from handoff.reports.period import Period
from models import DeliveryStatus, DigestDelivery, EscalationMail, User, UserRole
from tests.fakes.mail import SmtpSink, smtp_sink
from tests.handoff.reports_data import WIB, build_supervisor_month, wib
from tests.handoff.test_escalation_mail import closed_port, mailer

__all__ = ["smtp_sink"]

URL = "https://cc.example.ac.id"
SEVEN = wib(2026, 12, 1, 7, 0)  # Tuesday 1 December, 07:00 WIB: yesterday is Monday 30 November


# The supervisors of these tests have been with the care center since January (digests cover periods
# that end after a supervisor's account was made).
SINCE_JANUARY = wib(2026, 1, 5)


async def supervisor(email: str, *, created_at: datetime = SINCE_JANUARY, **choices: Any) -> User:
    return await User.create(email=email, name=email.partition("@")[0], role=UserRole.SUPERVISOR,
                             password_hash="-", created_at=created_at, **choices)


def _send_all(now: datetime) -> asyncio.Future[list[int]]:
    return asyncio.gather(*(send_due(now=now, tz=WIB, public_url=URL) for _ in range(3)))


async def test_the_daily_digest_counts_links_and_figures(db: str, smtp_sink: SmtpSink) -> None:
    t = await build_supervisor_month()
    await supervisor("kepala@cc.test")
    # 06:59: the daily digest is not due yet, but last week's summary is (Monday's moment has passed and
    # nobody got it: the latest period is still sent when a scheduler comes back).
    assert await send_due(now=SEVEN - timedelta(minutes=1), tz=WIB, public_url=URL) == 1
    assert [r.kind for r in await EscalationMail.all()] == ["digest_weekly"]
    assert await send_due(now=SEVEN, tz=WIB, public_url=URL) == 1
    row = await EscalationMail.get(kind="digest_daily")
    assert (row.ticket_id, row.recipients) == (None, "kepala@cc.test")
    # Exceptions of the ticket page's default period, 2 November to 1 December (its last 30 days):
    # U and T7 (00:10 today) unassigned over 30 minutes; T4 past target; T1 and T6 closed unconfirmed;
    # R1 back within a week; T2 rated 2; E escalated and unanswered; two conversations left with the bot.
    assert row.subject == "[Care Center] Ringkasan harian Senin, 30 Nov 2026: 10 perlu dilihat"
    indonesian, english = row.body.split("\n\n-----\n\n")
    assert "- Belum diambil lebih dari 30 menit: 2" in indonesian
    assert "- Unassigned for over 30 minutes: 2" in english
    counts = dict(line[2:].rsplit(": ", 1) for line in english.splitlines() if line.startswith("- ")
                  and line.rsplit(": ", 1)[-1].isdigit())
    assert {k: v for k, v in counts.items() if k.startswith(("Unassigned", "Near", "Closed", "Back", "Rated",
                                                              "Escalations", "Conversations"))} == {
        "Unassigned for over 30 minutes": "2", "Near or past the target": "1",
        "Closed without a confirmed category": "2", "Back within 7 days of closing": "1", "Rated 1–2": "1",
        "Escalations the developers have not answered": "1", "Conversations abandoned with the bot": "2",
    }
    links = [line.strip() for line in english.splitlines() if line.strip().startswith(URL)]
    assert len(links) == 7
    first = urlsplit(links[0])
    assert first.path == "/console/admin/tickets"
    assert parse_qs(first.query) == {"since": ["2026-11-02"], "until": ["2026-12-02"], "exception": ["unassigned"]}
    assert urlsplit(links[-1]).path == "/console/admin/dashboard"
    # Yesterday's figures (the reports' code), beside Sunday 29 November, which had none: U and T5 opened,
    # neither resolved; T5 answered after 100 minutes; nobody rated.
    assert "- Tickets: 2 (previous period: 0)" in english
    assert "- Resolved: 0 (previous period: 0)" in english
    assert "- Median first response (minutes): 100 (previous period: —)" in english
    assert "- Ratings: 0 (previous period: 0)" in english
    # Counts and links only: no contact, agent, NIM or message text.
    for personal in ("Rina", "13521099", "Person", "Ani", "Budi", "care.test", "TUGAS", str(t["T1"].number)):
        assert personal not in row.body
        assert personal not in (row.html or "")
    # The outbox sends it: both parts, the links clickable in the HTML one.
    assert await drain(mailer=mailer(smtp_sink.port), now=datetime.now(UTC) + timedelta(minutes=2)) == 2
    assert smtp_sink.envelopes == [("care@cc.test", ["kepala@cc.test"])] * 2
    mail = smtp_sink.received[1]
    plain, rich = mail.get_body(preferencelist=("plain",)), mail.get_body(preferencelist=("html",))
    assert plain is not None
    assert rich is not None
    assert "Unassigned for over 30 minutes: 2" in str(plain.get_content())
    assert f'href="{URL}/console/admin/tickets?since=2026-11-02&amp;until=2026-12-02&amp;exception=unassigned"' in str(
        rich.get_content())
    assert (await EscalationMail.get(id=row.id)).status == DeliveryStatus.SENT


async def test_each_mail_once_across_runs_and_schedulers_and_only_to_who_wants_it(
    db: str, caplog: pytest.LogCaptureFixture
) -> None:
    await build_supervisor_month()
    wants = await supervisor("kepala@cc.test")
    await supervisor("wakil@cc.test", digest_daily=False, digest_weekly=False)
    nomail = await supervisor("kosong@cc.test")
    await User.filter(id=nomail.id).update(email="bukan alamat")
    await User.create(email="ana@cc.test", role=UserRole.AGENT, password_hash="-")  # agents get no digest
    with caplog.at_level(logging.WARNING, logger="handoff.notify"):
        assert sum(await _send_all(SEVEN)) == 2  # three schedulers at once: one daily, one weekly
        assert await send_due(now=SEVEN + timedelta(hours=5), tz=WIB, public_url=URL) == 0  # later that day
    assert sorted((r.kind, r.recipients) for r in await EscalationMail.all()) == [
        ("digest_daily", "kepala@cc.test"), ("digest_weekly", "kepala@cc.test")]
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    # Claimed once, so one warning per mail (not one a minute), naming the user id and not the address.
    assert warnings == [f"digest_daily mail skipped: supervisor {nomail.id} has no usable e-mail address",
                        f"digest_weekly mail skipped: supervisor {nomail.id} has no usable e-mail address"]
    assert await DigestDelivery.filter(kind="daily").count() == 2  # kepala and kosong
    # The next day is another digest; last week's summary is not sent again.
    assert await send_due(now=SEVEN + timedelta(days=1), tz=WIB, public_url=URL) == 1
    assert await EscalationMail.filter(kind="digest_weekly").count() == 1
    assert [r.recipients for r in await EscalationMail.filter(kind="digest_daily")] == [wants.email] * 2


def test_the_moments_follow_the_schedule() -> None:
    default = Schedule()
    monday = wib(2026, 11, 30, 7, 0)
    assert due_period(DigestKind.WEEKLY, default, now=monday - timedelta(minutes=1), tz=WIB) is None
    assert due_period(DigestKind.WEEKLY, default, now=monday, tz=WIB) == Period(
        wib(2026, 11, 23).astimezone(WIB).date(), wib(2026, 11, 30).astimezone(WIB).date(), WIB)
    # Still last week's on Sunday night (sent once by its claim), never the week in progress.
    sunday = wib(2026, 12, 6, 23, 59)
    assert due_period(DigestKind.WEEKLY, default, now=sunday, tz=WIB) == due_period(
        DigestKind.WEEKLY, default, now=monday, tz=WIB)
    friday = Schedule(daily_at=time(6, 30), weekly_day=4, weekly_at=time(17, 0))
    assert due_period(DigestKind.WEEKLY, friday, now=monday, tz=WIB) is None
    assert due_period(DigestKind.WEEKLY, friday, now=wib(2026, 12, 4, 17, 0), tz=WIB) is not None
    # 23:30 UTC on 30 November is already 06:30 on 1 December in Jakarta.
    assert due_period(DigestKind.DAILY, friday, now=datetime(2026, 11, 30, 23, 30, tzinfo=UTC), tz=WIB) == Period(
        wib(2026, 11, 30).astimezone(WIB).date(), wib(2026, 12, 1).astimezone(WIB).date(), WIB)


@pytest.mark.parametrize(("form", "errors"), [
    ({"digest_daily_at": "7", "digest_weekly_day": "0", "digest_weekly_at": "07:00"},
     {"digest_daily_at": "error_bad_time"}),
    ({"digest_daily_at": "07:00", "digest_weekly_day": "7", "digest_weekly_at": "24:00"},
     {"digest_weekly_day": "error_digest_day", "digest_weekly_at": "error_bad_time"}),
    ({}, {"digest_daily_at": "error_bad_time", "digest_weekly_day": "error_digest_day",
          "digest_weekly_at": "error_bad_time"}),
])
def test_a_bad_schedule_is_refused_field_by_field(form: dict[str, str], errors: dict[str, str]) -> None:
    with pytest.raises(ScheduleFormError) as refused:
        parse_schedule(form)
    assert refused.value.errors == errors


async def test_a_saved_schedule_moves_the_daily_digest(db: str) -> None:
    await supervisor("kepala@cc.test")
    await digest.save_schedule(parse_schedule({"digest_daily_at": "08.15", "digest_weekly_day": "2",
                                               "digest_weekly_at": "09:00"}))
    assert await digest.load_schedule() == Schedule(time(8, 15), 2, time(9, 0))
    # Tuesday: the weekly summary waits for Wednesday 09:00, the daily digest for 08:15.
    assert await send_due(now=wib(2026, 12, 1, 8, 14), tz=WIB, public_url=URL) == 0
    assert await send_due(now=wib(2026, 12, 1, 8, 15), tz=WIB, public_url=URL) == 1  # an empty day still reports
    assert await send_due(now=wib(2026, 12, 2, 9, 0), tz=WIB, public_url=URL) == 2


async def test_the_monthly_report_is_mailed_with_its_pdf_once(db: str, smtp_sink: SmtpSink) -> None:
    await build_supervisor_month()
    await supervisor("kepala@cc.test")
    await supervisor("wakil@cc.test", digest_monthly=False)
    job = next(j for j in registry(JobContext(tz=WIB, public_url=URL)) if j.name == "monthly_report")
    await job.run(wib(2026, 12, 1, 6, 0))
    await job.run(wib(2026, 12, 1, 6, 5))  # a second run (or scheduler) mails nothing more
    rows = await EscalationMail.filter(kind="digest_monthly")
    assert [r.recipients for r in rows] == ["kepala@cc.test"]
    assert rows[0].subject == "[Care Center] Laporan Care Center November 2026"
    assert f"{URL}/console/admin/reports" in rows[0].body
    assert await drain(mailer=mailer(smtp_sink.port), now=datetime.now(UTC) + timedelta(minutes=2)) == 1
    mail = smtp_sink.received[0]
    attached = list(mail.iter_attachments())
    assert [(a.get_content_type(), a.get_filename()) for a in attached] == [
        ("application/pdf", "laporan-care-center-2026-11-id.pdf")]
    assert bytes(attached[0].get_content()).startswith(b"%PDF")


async def test_no_stored_report_means_no_monthly_mail(db: str, caplog: pytest.LogCaptureFixture) -> None:
    await supervisor("kepala@cc.test")
    with caplog.at_level(logging.WARNING, logger="handoff.digest"):
        assert await digest.send_monthly(now=wib(2026, 12, 1, 6, 0), tz=WIB, public_url=URL) == 0
    assert [r.getMessage() for r in caplog.records] == ["monthly report mail for 2026-11 not sent: no stored PDF"]


async def test_a_digest_the_server_refuses_stays_queued_for_a_retry(db: str, caplog: pytest.LogCaptureFixture) -> None:
    await supervisor("kepala@cc.test")
    assert await send_due(now=SEVEN, tz=WIB, public_url=URL) == 2  # yesterday's digest and last week's summary
    with caplog.at_level(logging.WARNING, logger="handoff.escalation_mail"):
        assert await drain(mailer=mailer(closed_port()), now=datetime.now(UTC) + timedelta(minutes=2)) == 2
    rows = await EscalationMail.all()
    # About no ticket: no ticket event to write, the row's status and attempts are the record.
    assert [(r.status, r.attempts, r.ticket_id) for r in rows] == [(DeliveryStatus.QUEUED, 1, None)] * 2
    assert all("for no ticket" in r.getMessage() and "kepala" not in r.getMessage() for r in caplog.records)


async def test_a_new_supervisor_gets_no_mail_about_days_before_their_account(db: str) -> None:
    # A first start at 09:00 on Tuesday makes the supervisor: neither yesterday's digest nor last week's
    # summary is about their time; the next morning's digest is.
    await supervisor("baru@cc.test", created_at=SEVEN + timedelta(hours=2))
    assert await send_due(now=SEVEN + timedelta(hours=3), tz=WIB, public_url=URL) == 0
    assert await DigestDelivery.all().count() == 0
    assert await send_due(now=SEVEN + timedelta(days=1), tz=WIB, public_url=URL) == 1
    assert [(r.kind, r.period_start) for r in await DigestDelivery.all()] == [("daily", date(2026, 12, 1))]
    # The next Monday's summary covers the week they joined in.
    assert await send_due(now=SEVEN + timedelta(days=6), tz=WIB, public_url=URL) == 2
    assert {(r.kind, r.period_start) for r in await DigestDelivery.filter(kind="weekly")} == {
        ("weekly", date(2026, 11, 30))}
