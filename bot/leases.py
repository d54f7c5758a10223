"""Person leases: which process runs a person's turns (bot.turns), held one at a time, short and renewed.

A person (a channel and their address on it) has a row in ``turn_leases`` while someone works on their
messages. It is taken by a conditional UPDATE of an expired row, or the INSERT of a missing one (the
primary key decides a race), renewed every ``HEARTBEAT`` seconds while the holder works, and deleted when
the person has nothing left. A dead holder's people are taken over once ``LEASE`` has passed since its
last renewal: seconds, not the minutes a per-message claim used to wait. The same pattern as the
scheduler's single lease (handoff.scheduler), per person.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from tortoise.exceptions import IntegrityError

from models import TurnLease

log = logging.getLogger(__name__)

# Far shorter than the two minutes a dead claim used to wait: a turn takes well under a second, and a
# person whose holder died waits at most this long. Three heartbeats fit in it, so one late renewal
# (a busy event loop, a slow commit) does not lose the lease.
LEASE = timedelta(seconds=15)
HEARTBEAT = 5.0  # seconds
# How often a process that wants a person held by another looks again, when it must wait (in-line turns).
TAKE_POLL = 0.1  # seconds


def person_of(channel: str, address: str) -> str:
    """The lease key: what the inbox receipt and the message's identity both know of the sender."""
    return f"{channel}:{address}"


def new_holder() -> str:
    """This process (and this flow, when a process has several): host, pid and a random part, so a
    restarted process with a recycled pid is not mistaken for the dead one."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class LeaseLostError(Exception):
    """This process no longer holds the person's lease: another took it over; the turn is rolled back."""


@dataclass(slots=True)
class Leases:
    """The person leases one holder takes, renews and gives back."""

    holder: str = field(default_factory=new_holder)

    async def take(self, person: str) -> bool:
        """Take the person's lease if it is free or expired. Atomic per database: of two processes racing,
        one UPDATE (or INSERT) succeeds."""
        now = datetime.now(UTC)
        taken = await TurnLease.filter(person=person, expires_at__lt=now).update(
            holder=self.holder, expires_at=now + LEASE
        )
        if taken:
            return True
        try:
            await TurnLease.create(person=person, holder=self.holder, expires_at=now + LEASE)
        except IntegrityError:  # held, unexpired, by someone (us included: in-process callers lock first)
            return False
        return True

    async def renew(self, person: str) -> bool:
        now = datetime.now(UTC)
        return bool(
            await TurnLease.filter(person=person, holder=self.holder).update(expires_at=now + LEASE)
        )

    async def fence(self, person: str) -> None:
        """Inside a turn's transaction, last: renew, or roll the turn back if the lease was taken over."""
        if not await self.renew(person):
            raise LeaseLostError(person)

    async def release(self, person: str) -> None:
        await TurnLease.filter(person=person, holder=self.holder).delete()

    @asynccontextmanager
    async def holding(self, person: str, *, wait: float = 0.0) -> AsyncIterator[bool]:
        """Hold the person's lease for the block, renewed every HEARTBEAT seconds; yields False (and holds
        nothing) when another holds it, after waiting up to ``wait`` seconds for it."""
        deadline = asyncio.get_running_loop().time() + wait
        while not await self.take(person):
            if asyncio.get_running_loop().time() >= deadline:
                yield False
                return
            await asyncio.sleep(TAKE_POLL)

        async def heartbeat() -> None:
            while True:
                await asyncio.sleep(HEARTBEAT)
                try:
                    if not await self.renew(person):
                        log.warning("turn lease %s lost to another holder", _masked(person))
                        return
                except asyncio.CancelledError:
                    raise
                except Exception:  # a blip: the next beat tries again, and the lease outlives two misses
                    log.exception("renewing a turn lease failed")

        beat = asyncio.create_task(heartbeat(), name="turn-lease-heartbeat")
        try:
            yield True
        finally:
            beat.cancel()
            with suppress(asyncio.CancelledError):
                await beat
            try:
                await self.release(person)
            except Exception:  # left to expire: the next holder waits LEASE at most
                log.exception("releasing a turn lease failed")


def _masked(person: str) -> str:
    """A lease key for a log line: the channel and the last characters of the address (no personal data)."""
    channel, _, address = person.partition(":")
    return f"{channel}:…{address[-3:]}" if len(address) > 3 else f"{channel}:…"
