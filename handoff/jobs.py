"""The scheduler's job registry: every periodic job, each with its own trigger.

A job is a name, a trigger and ``run(now)``. ``serve`` (in-process) and ``clock`` (a process of its own)
both start the scheduler from ``registry`` through ``handoff.scheduler.running``, so a new job (a
scheduled mail, the monthly report) is one entry here whatever process runs it. Triggers read the
installation's time zone: ``DailyAt(time(7, 0))`` is 07:00 local time.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from handoff import digest, identity_limits, login_throttle, notify, proof_codes, sla, whatsapp_window
from handoff.hours import OperatingHours
from handoff.reports import archive, snapshots
from models import GeneratedReport, InboxEntry


@dataclass(frozen=True)
class Every:
    """Run every ``interval``, and once as soon as the scheduler starts."""

    interval: timedelta


@dataclass(frozen=True)
class DailyAt:
    at: time


@dataclass(frozen=True)
class MonthlyOn:
    """Run on ``day`` (1-28, so every month has it) at ``at``."""

    day: int
    at: time

    def __post_init__(self) -> None:
        if not 1 <= self.day <= 28:
            raise ValueError(f"MonthlyOn(day={self.day}): choose 1-28, a day every month has")


Trigger = Every | DailyAt | MonthlyOn


@dataclass(frozen=True)
class JobContext:
    """What jobs may need from the process that runs them.

    ``notify`` is the console's live broker when the scheduler runs in the web process; a separate
    ``clock`` process passes its relay publisher, and the console shows its warnings from there.
    """

    window_warning: timedelta = whatsapp_window.DEFAULT_LEAD
    notify: whatsapp_window.Notify | None = None
    tz: ZoneInfo = field(default_factory=lambda: ZoneInfo("Asia/Jakarta"))  # the scheduler's, from TZ
    # The environment's operating hours and SLA_HOURS: the SLA policy's defaults until a supervisor saves
    # others (handoff.sla.load_policy); PUBLIC_URL for the links in breach mails.
    hours: OperatingHours | None = None
    sla: timedelta | None = None
    public_url: str = ""


@dataclass(frozen=True)
class Job:
    name: str
    trigger: Trigger
    run: Callable[[datetime], Awaitable[object]]


# Webhook receipts are the door's dedupe: Telegram re-delivers for up to a day and Twilio within seconds,
# so a week is ample; anything later still meets the messages table's own unique key.
INBOX_KEEP = timedelta(days=7)


async def inbox_prune(now: datetime) -> int:
    """Forget receipts stored long ago. Rows never stored (failed ones the operator should see) stay."""
    return await InboxEntry.filter(stored_at__lt=now - INBOX_KEEP).delete()


async def login_throttle_prune(now: datetime) -> int:
    """Sign-in failures that no longer slow anyone, and pairs no longer recently signed in from."""
    return await login_throttle.prune(now=now)


async def identity_attempts_prune(now: datetime) -> int:
    """Identity attempts older than the guessing limits' window (handoff.identity_limits), and one-time
    codes no limit or pause reads any more (handoff.proof_codes): the same kind of housekeeping."""
    return await identity_limits.prune(now=now) + await proof_codes.prune(now=now)


MINUTELY = Every(timedelta(minutes=1))
# The SOP's monthly recap: early on the 1st, local time, when last month's figures are complete.
MONTHLY_REPORT = MonthlyOn(day=1, at=time(6, 0))


def registry(context: JobContext) -> tuple[Job, ...]:
    """Every job the scheduler runs. A new job is one line here, with its trigger."""

    async def sla_sweep(now: datetime) -> int:
        """SLA warnings and breaches: a ticket event and a live alert each, breach mails to supervisors."""
        policy = await sla.load_policy(hours=context.hours, resolution=context.sla)
        return await sla.sweep(now=now, policy=policy, publish=context.notify,
                               on_notice=notify.breach_mails(public_url=context.public_url))

    async def window_warnings(now: datetime) -> list[whatsapp_window.WindowWarning]:
        return await whatsapp_window.sweep(now=now, lead=context.window_warning, notify=context.notify)

    async def monthly_report(now: datetime) -> list[GeneratedReport]:
        """Last month's report, stored for the console (idempotent: a second run stores nothing), then mailed
        to the supervisors who want it. The mail follows the stored PDF, not this run's ``stored``: when another
        scheduler stored it first, this run still mails whoever that one's crash left unclaimed."""
        stored = await archive.generate_previous_month(now=now, tz=context.tz)
        await digest.send_monthly(now=now, tz=context.tz, public_url=context.public_url)
        return stored

    async def digests(now: datetime) -> int:
        """The daily digest and weekly summary, at the times supervisors set (read every minute: a change
        applies without a restart; handoff.digest says why not a DailyAt trigger)."""
        return await digest.send_due(now=now, tz=context.tz, public_url=context.public_url)

    return (
        Job("sla_sweep", MINUTELY, sla_sweep),
        Job("whatsapp_window_warnings", MINUTELY, window_warnings),
        Job("inbox_prune", MINUTELY, inbox_prune),
        Job("login_throttle_prune", MINUTELY, login_throttle_prune),
        Job("identity_attempts_prune", MINUTELY, identity_attempts_prune),
        Job("monthly_report", MONTHLY_REPORT, monthly_report),
        Job("digests", MINUTELY, digests),
        # The dashboard's stored figures, read again while supervisors look at them (handoff.reports.snapshots).
        Job("figure_snapshots", MINUTELY, snapshots.refresh),
    )
