"""The job registry: each job's own trigger decides when it runs, and serve and clock run the same jobs."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from handoff.jobs import DailyAt, Every, Job, JobContext, MonthlyOn, registry
from handoff.scheduler import build_scheduler, running
from models import SchedulerLease

JAKARTA = ZoneInfo("Asia/Jakarta")
NOW = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)  # 10:00 in Jakarta


async def nothing(_now: datetime) -> None:
    return None


def timed(_context: JobContext) -> tuple[Job, ...]:
    return (
        Job("digest", DailyAt(time(7, 30)), nothing),
        Job("monthly_report", MonthlyOn(1, time(6, 0)), nothing),
        Job("sweep", Every(timedelta(minutes=5)), nothing),
    )


def test_each_job_runs_at_its_own_trigger_in_local_time() -> None:
    scheduler = build_scheduler(tz=JAKARTA, holder="test", jobs=timed)
    jobs = {job.id: job for job in scheduler.get_jobs()}
    assert jobs["digest"].trigger.get_next_fire_time(None, NOW) == datetime(2026, 11, 25, 7, 30, tzinfo=JAKARTA)
    assert jobs["monthly_report"].trigger.get_next_fire_time(None, NOW) == datetime(2026, 12, 1, 6, tzinfo=JAKARTA)
    assert jobs["sweep"].trigger.interval == timedelta(minutes=5)
    # The operator's log names each job as the registry does, not as the lease wrapper ("_leased.<locals>.run").
    assert {job.name for job in jobs.values()} == set(jobs)


def test_a_monthly_job_asks_for_a_day_every_month_has() -> None:
    with pytest.raises(ValueError, match="1-28"):
        MonthlyOn(31, time(6, 0))


def test_the_registry_holds_the_minute_sweeps_and_the_monthly_report() -> None:
    # The digests run every minute and read the supervisors' chosen times themselves (handoff.digest).
    assert {(job.name, job.trigger) for job in registry(JobContext())} == {
        (name, Every(timedelta(minutes=1)))
        for name in ("sla_sweep", "whatsapp_window_warnings", "inbox_prune", "login_throttle_prune",
                     "identity_attempts_prune", "digests", "figure_snapshots")
    } | {("monthly_report", MonthlyOn(1, time(6, 0)))}


async def test_running_runs_the_jobs_under_the_lease_and_gives_it_up(db: str) -> None:
    ran = asyncio.Event()

    async def mark(_now: datetime) -> None:
        ran.set()

    def one(_context: JobContext) -> tuple[Job, ...]:
        return (Job("mark", Every(timedelta(hours=1)), mark),)

    async with running(tz=JAKARTA, jobs=one):
        await asyncio.wait_for(ran.wait(), 10)  # an interval job runs once at start
        assert await SchedulerLease.all().count() == 1
    assert await SchedulerLease.all().count() == 0  # released: a clock beside us may take over at once
