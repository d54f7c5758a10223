"""The scheduler (APScheduler 3): SLA sweep, WhatsApp window warnings, and later digests and reports.

Exactly one process may run the jobs: each run first takes or renews a lease row in the database, so a
second ``serve`` or a ``clock`` process beside one that already schedules does nothing.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from tortoise.exceptions import IntegrityError

from handoff import login_throttle, sla, whatsapp_window
from models import InboxEntry, SchedulerLease

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


def _leased(job: Callable[[datetime], Awaitable[object]], holder: str) -> Callable[[], Awaitable[None]]:
    async def run() -> None:
        now = datetime.now(UTC)
        try:
            if not await take_lease(holder=holder, now=now):
                log.debug("another process holds the scheduler lease; skipping %s", job.__name__)
                return
            await job(now)
        except Exception:  # one failing run must not stop the schedule
            log.exception("scheduled job %s failed", job.__name__)

    run.__name__ = job.__name__
    return run


async def sla_sweep(now: datetime) -> int:
    return await sla.sweep(now=now)


# Webhook receipts are the door's dedupe: Telegram re-delivers for up to a day and Twilio within seconds,
# so a week is ample; anything later still meets the messages table's own unique key.
INBOX_KEEP = timedelta(days=7)


async def inbox_prune(now: datetime) -> int:
    """Forget receipts stored long ago. Rows never stored (failed ones the operator should see) stay."""
    return await InboxEntry.filter(stored_at__lt=now - INBOX_KEEP).delete()


async def login_throttle_prune(now: datetime) -> int:
    """Sign-in failures that no longer slow anyone, and pairs no longer recently signed in from."""
    return await login_throttle.prune(now=now)


def build_scheduler(
    *,
    tz: ZoneInfo,
    holder: str | None = None,
    window_warning: timedelta = whatsapp_window.DEFAULT_LEAD,
    notify: whatsapp_window.Notify | None = None,
) -> AsyncIOScheduler:
    """``notify`` is the console's live broker when the scheduler runs in the web process; a separate
    ``clock`` process has none, and the console shows its warnings from the ticket events instead."""
    holder = holder or holder_id()
    scheduler = AsyncIOScheduler(timezone=tz)

    async def window_warnings(now: datetime) -> list[whatsapp_window.WindowWarning]:
        return await whatsapp_window.sweep(now=now, lead=window_warning, notify=notify)

    jobs: dict[str, Callable[[datetime], Awaitable[object]]] = {
        "sla_sweep": sla_sweep,
        "whatsapp_window_warnings": window_warnings,
        "inbox_prune": inbox_prune,
        "login_throttle_prune": login_throttle_prune,
    }
    for job_id, job in jobs.items():
        scheduler.add_job(
            _leased(job, holder),
            "interval",
            minutes=1,
            id=job_id,
            coalesce=True,
            max_instances=1,
            next_run_time=datetime.now(UTC),
        )
    return scheduler
