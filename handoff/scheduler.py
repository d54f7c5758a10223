"""The scheduler (APScheduler 3) that runs the job registry (``handoff.jobs``), in ``serve`` or ``clock``.

Exactly one process may run the jobs: each run first takes or renews a lease row in the database, so a
second ``serve`` or a ``clock`` process beside one that already schedules does nothing.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from tortoise.exceptions import IntegrityError

from handoff import whatsapp_window
from handoff.hours import OperatingHours
from handoff.jobs import DailyAt, Every, Job, JobContext, MonthlyOn, Trigger, registry
from models import SchedulerLease

log = logging.getLogger(__name__)

LEASE_NAME = "scheduler"
LEASE_TTL = timedelta(minutes=3)


def holder_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


async def take_lease(*, holder: str, now: datetime, ttl: timedelta = LEASE_TTL) -> bool:
    """Take the lease if it is free or expired, or renew it if we hold it. Atomic per database."""
    renewed = await SchedulerLease.filter(name=LEASE_NAME, holder=holder).update(expires_at=now + ttl)
    if renewed:
        return True
    taken = await SchedulerLease.filter(name=LEASE_NAME, expires_at__lt=now).update(holder=holder, expires_at=now + ttl)
    if taken:
        return True
    try:
        await SchedulerLease.create(name=LEASE_NAME, holder=holder, expires_at=now + ttl)
    except IntegrityError:
        return False
    return True


async def release_lease(*, holder: str) -> None:
    await SchedulerLease.filter(name=LEASE_NAME, holder=holder).delete()


def _leased(job: Job, holder: str) -> Callable[[], Awaitable[None]]:
    async def run() -> None:
        now = datetime.now(UTC)
        try:
            if not await take_lease(holder=holder, now=now):
                log.debug("another process holds the scheduler lease; skipping %s", job.name)
                return
            await job.run(now)
        except Exception:  # one failing run must not stop the schedule
            log.exception("scheduled job %s failed", job.name)

    run.__name__ = job.name
    return run


def _apscheduler_trigger(trigger: Trigger, tz: ZoneInfo) -> BaseTrigger:
    match trigger:
        case Every(interval=interval):
            return IntervalTrigger(seconds=interval.total_seconds(), timezone=tz)
        case DailyAt(at=at):
            return CronTrigger(hour=at.hour, minute=at.minute, second=at.second, timezone=tz)
        case MonthlyOn(day=day, at=at):
            return CronTrigger(day=day, hour=at.hour, minute=at.minute, second=at.second, timezone=tz)


# A daily or monthly run that the process missed by less than this (busy, restarting) still runs once;
# later than that it waits for its next turn rather than firing at a surprising hour.
MISFIRE_GRACE = timedelta(hours=1)


def build_scheduler(
    *,
    tz: ZoneInfo,
    holder: str | None = None,
    window_warning: timedelta = whatsapp_window.DEFAULT_LEAD,
    notify: whatsapp_window.Notify | None = None,
    jobs: Callable[[JobContext], Iterable[Job]] = registry,
    hours: OperatingHours | None = None,
    sla: timedelta | None = None,
    public_url: str = "",
) -> AsyncIOScheduler:
    """The scheduler for the jobs of ``jobs`` (the registry, ``handoff.jobs.registry``), each run under
    the lease."""
    holder = holder or holder_id()
    context = JobContext(window_warning=window_warning, notify=notify, tz=tz, hours=hours, sla=sla,
                         public_url=public_url)
    scheduler = AsyncIOScheduler(timezone=tz)
    for job in jobs(context):
        repeating = isinstance(job.trigger, Every)
        scheduler.add_job(
            _leased(job, holder),
            _apscheduler_trigger(job.trigger, tz),
            id=job.name,
            name=job.name,  # the log says "Added job \"sla_sweep\"", not the wrapper's name
            coalesce=True,
            max_instances=1,
            misfire_grace_time=int(MISFIRE_GRACE.total_seconds()),
            # Sweeps run once at start (nothing waits a minute after a restart); timed jobs keep their hour.
            **({"next_run_time": datetime.now(UTC)} if repeating else {}),
        )
    return scheduler


@contextlib.asynccontextmanager
async def running(
    *,
    tz: ZoneInfo,
    window_warning: timedelta = whatsapp_window.DEFAULT_LEAD,
    notify: whatsapp_window.Notify | None = None,
    jobs: Callable[[JobContext], Iterable[Job]] = registry,
    hours: OperatingHours | None = None,
    sla: timedelta | None = None,
    public_url: str = "",
) -> AsyncIterator[AsyncIOScheduler]:
    """Run the registry's jobs until the block ends, then give the lease up so another process may
    take over at once. ``serve`` (in its cleanup context) and ``clock`` both start the scheduler here."""
    holder = holder_id()
    scheduler = build_scheduler(tz=tz, holder=holder, window_warning=window_warning, notify=notify, jobs=jobs,
                                hours=hours, sla=sla, public_url=public_url)
    scheduler.start()
    try:
        yield scheduler
    finally:
        scheduler.shutdown(wait=False)
        await release_lease(holder=holder)
