"""Console live events across processes, through the database.

The console's ``Broker`` (handoff.live) lives in the web process, with the WebSockets. Turns that
run in the worker process and the clock's sweeps publish events that broker never sees, so those
processes publish through a ``RelayPublisher`` instead: it buffers each event (synchronously, like
``Broker.publish``) and a background flusher writes the buffer to the ``live_events`` table in one INSERT
every ``interval``. In each web process a ``RelayFollower`` reads the rows that are new since it started
and publishes them to the local broker, so every open console gets them as if they had been published
there. A process publishes either locally (the web) or through the relay (worker, clock), never both: a
web process that did both would show its own events twice.

Best-effort, like the broker itself: the console re-reads what it shows from the database on each event,
and the ticket events table is the durable record. So writing never raises into the caller (a failed
batch is retried a few times, then dropped with a warning), the follower outlives database errors, and
rows are deleted after a few minutes. Events carry ids only, so nothing personal reaches a log line even
when a database error quotes a row.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from tortoise.expressions import Q

from models import RelayedEvent

log = logging.getLogger(__name__)

Notify = Callable[[str, dict[str, Any]], None]

FLUSH_INTERVAL = 0.15  # seconds: a turn's burst of events shares one INSERT, and a browser hardly waits
FLUSH_BATCH = 500  # rows per INSERT
MAX_ATTEMPTS = 5  # writes of one batch before it is dropped
MAX_BUFFER = 10_000  # events kept while the database is unreachable; the oldest go first
STOP_TIMEOUT = 5.0  # seconds the last flush may take at shutdown
RETRY_AT_EXIT = 0.1  # seconds between its tries: shutting down is no time for the usual backoff

POLL_INTERVAL = 0.5  # seconds between a follower's reads
POLL_BATCH = 500
# How long a follower waits for a missing id to show up (see RelayFollower). A row becomes visible when
# its INSERT commits, milliseconds after it took its id; seconds cover a loaded server, and a gap that
# is still open after that is an id that will never come (a rolled-back or failed insert).
GAP_WAIT = 10.0  # seconds
MAX_GAPS = 1_000  # missing ids watched at once; a bigger jump is a failed batch, not writers in flight

KEEP = timedelta(minutes=5)  # rows older than this are deleted: followers read them within a second
PRUNE_EVERY = 60.0  # seconds


def _now() -> datetime:
    return datetime.now(UTC)


async def prune(*, now: datetime, keep: timedelta = KEEP) -> int:
    """Delete relayed events older than ``keep``; returns how many went."""
    return await RelayedEvent.filter(created_at__lt=now - keep).delete()


@dataclass(frozen=True, slots=True)
class _Pending:
    name: str
    data: str  # JSON text, encoded when published: the caller may change its dict afterwards
    created_at: datetime


class RelayPublisher:
    """``publish`` for processes without console clients; ``running()`` writes what it buffers.

    ``publish(name, data)`` has ``Broker.publish``'s signature and, like it, returns at once and never
    raises: pass it as ``FlowDeps.notify`` or the scheduler's ``notify``. Events published while
    ``running()`` is not entered stay buffered until it is (or until ``flush()``).
    """

    def __init__(
        self,
        *,
        interval: float = FLUSH_INTERVAL,
        batch: int = FLUSH_BATCH,
        max_attempts: int = MAX_ATTEMPTS,
        max_buffer: int = MAX_BUFFER,
        keep: timedelta = KEEP,
        prune_every: float = PRUNE_EVERY,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self.interval = interval
        self.batch = batch
        self.max_attempts = max_attempts
        self.keep = keep
        self.prune_every = prune_every
        self.clock = clock
        self._buffer: deque[_Pending] = deque(maxlen=max_buffer)
        # The batch being written, kept apart from the buffer so that its retries and its drop concern
        # exactly the rows that failed, and so it goes before anything published since.
        self._inflight: list[_Pending] = []
        self._attempts = 0
        self._overflowed = 0
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        # One write at a time: a flush() called while the flusher writes would send the same batch twice.
        self._writing = asyncio.Lock()
        self._last_prune = time.monotonic()

    @property
    def pending(self) -> int:
        """Events not written yet."""
        return len(self._inflight) + len(self._buffer)

    def publish(self, name: str, data: dict[str, Any]) -> None:
        """Buffer one event; the flusher writes it within ``interval``. Never raises."""
        try:
            text = json.dumps(data)
        except (TypeError, ValueError):
            # The broker would fail the same way at the WebSocket (send_json): a bug in the caller, named.
            log.exception("live event %s not relayed: its data is not JSON", name)
            return
        if len(self._buffer) == self._buffer.maxlen:
            self._overflowed += 1  # the deque drops the oldest; counted, and logged by the flusher
        self._buffer.append(_Pending(name, text, self.clock()))
        self._wake.set()

    async def flush(self) -> bool:
        """Write everything buffered, batch by batch; False when a write failed (what failed is retried
        by the next flush, up to ``max_attempts`` writes, then dropped). Never raises."""
        async with self._writing:
            return await self._flush()

    async def _flush(self) -> bool:
        if self._overflowed:
            log.warning("relay buffer full: %d live event(s) dropped before they were written", self._overflowed)
            self._overflowed = 0
        while self._inflight or self._buffer:
            if not self._inflight:
                self._inflight = [self._buffer.popleft() for _ in range(min(self.batch, len(self._buffer)))]
                self._attempts = 0
            try:
                await RelayedEvent.bulk_create(
                    [RelayedEvent(name=p.name, data=p.data, created_at=p.created_at) for p in self._inflight]
                )
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database's trouble must never reach the turn that published
                self._attempts += 1
                if self._attempts >= self.max_attempts:
                    log.warning("relay: dropped %d live event(s) after %d failed writes (last: %s)",
                                len(self._inflight), self._attempts, exc)
                    self._inflight = []
                else:
                    log.warning("relay: writing %d live event(s) failed (attempt %d of %d): %s",
                                len(self._inflight), self._attempts, self.max_attempts, exc)
                return False
            self._inflight = []
        return True

    async def _prune_if_due(self) -> None:
        if time.monotonic() - self._last_prune < self.prune_every:
            return
        self._last_prune = time.monotonic()
        try:
            await prune(now=self.clock(), keep=self.keep)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the next prune catches up
            log.warning("relay: pruning live events failed: %s", exc)

    async def _pause(self, seconds: float) -> None:
        """Sleep, but wake at once when stopping."""
        with suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    async def _run(self) -> None:
        while True:
            await self._wake.wait()  # set by publish, by a failed write (to retry) and by stopping
            await self._pause(self.interval)  # let the rest of the burst join this INSERT
            if self._stopping.is_set():
                return  # running() writes what is left: one path at exit, with its retries and time limit
            self._wake.clear()  # before writing: an event published meanwhile wakes the next round
            if not await self.flush():
                # Back off a little more after each failure, and come back for the batch on our own.
                await self._pause(self.interval * (2**self._attempts))
                self._wake.set()
            await self._prune_if_due()

    @asynccontextmanager
    async def running(self) -> AsyncIterator[RelayPublisher]:
        """Run the flusher; at exit write what is left (trying each batch up to ``max_attempts`` times,
        for at most ``STOP_TIMEOUT`` seconds)."""
        self._stopping.clear()
        flusher = asyncio.create_task(self._run(), name="relay-flusher")
        try:
            yield self
        finally:
            self._stopping.set()
            self._wake.set()
            # Not cancelled: a write under way finishes, so its batch is neither lost nor written twice.
            await flusher

            async def drain() -> None:
                # Ends: flush() drops a batch once it has failed max_attempts times.
                while True:
                    if await self.flush():
                        return
                    await asyncio.sleep(RETRY_AT_EXIT)

            try:
                await asyncio.wait_for(drain(), STOP_TIMEOUT)
            except TimeoutError:
                log.warning("relay: %d live event(s) not written at shutdown", self.pending)


class RelayFollower:
    """Publishes the relayed events written since it started to ``publish`` (the web's ``Broker.publish``).

    Ids are the order. "Rows with a larger id than the last one read" is not enough on PostgreSQL: a
    sequence hands out ids when rows are inserted, but rows become visible when their transaction
    commits, and two writers (a worker and the clock, or two workers) can commit in the other order. A
    reader that saw id 11 before id 10 committed would never look below 11 again. So the follower keeps
    the ids it skipped over (the gaps below the highest id read) and asks for them by id in each poll for
    ``gap_wait`` seconds; a late row is then delivered after later ones, which suits the console (each
    event only tells it what to re-read). Gaps that never fill (an insert that failed or rolled back after
    taking its id) are forgotten after that. SQLite has one writer at a time, so its ids commit in order
    and no gap is ever waited on for long.
    """

    def __init__(
        self,
        publish: Notify,
        *,
        interval: float = POLL_INTERVAL,
        batch: int = POLL_BATCH,
        gap_wait: float = GAP_WAIT,
        keep: timedelta = KEEP,
        prune_every: float = PRUNE_EVERY,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self._publish = publish
        self.interval = interval
        self.batch = batch
        self.gap_wait = gap_wait
        self.keep = keep
        self.prune_every = prune_every
        self.clock = clock
        self._high: int | None = None  # highest id read; None until the starting point is known
        self._gaps: dict[int, float] = {}  # missing id -> when it was first missed (monotonic)
        self._last_prune = time.monotonic()
        self._failing = False

    @property
    def position(self) -> int | None:
        """The highest id read so far (None before the starting point is known)."""
        return self._high

    async def start(self) -> None:
        """Begin after the newest row present now: events older than this follower are not replayed (nor
        is a row with a smaller id still committing at this moment: it is as old as the ones before it)."""
        newest = await RelayedEvent.all().order_by("-id").only("id").first()
        self._high = newest.id if newest is not None else 0

    async def poll(self) -> int:
        """One read: deliver new rows and gaps that filled; returns how many were delivered. Raises on a
        database error (the loop in ``running()`` logs it and carries on)."""
        if self._high is None:
            await self.start()
            return 0
        now = time.monotonic()
        self._gaps = {gap: since for gap, since in self._gaps.items() if now - since < self.gap_wait}
        wanted = Q(id__gt=self._high)
        if self._gaps:
            wanted |= Q(id__in=sorted(self._gaps))
        rows = await (
            RelayedEvent.filter(wanted).order_by("id").limit(self.batch).values_list("id", "name", "data")
        )
        for row_id, name, text in rows:
            if row_id > self._high:
                first_missing = max(self._high + 1, row_id - MAX_GAPS)
                for missing in range(first_missing, row_id):
                    self._gaps.setdefault(missing, now)
                self._high = row_id
            else:
                self._gaps.pop(row_id, None)
            self._deliver(row_id, name, text)
        return len(rows)

    def _deliver(self, row_id: int, name: str, text: str) -> None:
        try:
            data = json.loads(text)
        except ValueError:
            log.warning("relay: live event %d is not JSON; skipped", row_id)
            return
        if not isinstance(data, dict):
            log.warning("relay: live event %d is not a JSON object; skipped", row_id)
            return
        try:
            self._publish(name, data)
        except Exception:  # one subscriber's bug must not stop the others' updates
            log.exception("relay: publishing live event %d (%s) failed", row_id, name)

    async def _prune_if_due(self) -> None:
        if time.monotonic() - self._last_prune < self.prune_every:
            return
        self._last_prune = time.monotonic()
        try:
            await prune(now=self.clock(), keep=self.keep)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the next prune catches up
            log.warning("relay: pruning live events failed: %s", exc)

    async def _run(self) -> None:
        while True:
            delivered = 0
            try:
                delivered = await self.poll()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a database blip must not end live updates for good
                # Once per outage at WARNING, not twice a second.
                if not self._failing:
                    log.warning("relay: reading live events failed: %s; retrying", exc)
                    self._failing = True
                else:
                    log.debug("relay: reading live events failed again", exc_info=True)
            else:
                if self._failing:
                    log.info("relay: reading live events again")
                    self._failing = False
                await self._prune_if_due()
            if delivered < self.batch:  # a full batch: more are waiting, read on at once
                await asyncio.sleep(self.interval)

    @asynccontextmanager
    async def running(self) -> AsyncIterator[RelayFollower]:
        """Follow until exit. The starting point is read before this yields (when the database answers;
        otherwise the first successful poll reads it)."""
        if self._high is None:
            try:
                await self.start()
            except Exception as exc:
                log.warning("relay: could not read where live events start: %s; retrying", exc)
        follower = asyncio.create_task(self._run(), name="relay-follower")
        try:
            yield self
        finally:
            follower.cancel()
            with suppress(asyncio.CancelledError):
                await follower
