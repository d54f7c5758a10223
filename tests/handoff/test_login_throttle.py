"""The sign-in throttle against a real database (SQLite and PostgreSQL), with the clock in the test's hands."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from handoff.login_throttle import ADDRESS, KNOWN_PAIR_FOR, PAIR, LoginLimiter, prune, retry_after_seconds
from models import LoginThrottle, StoredSecret

T0 = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)
OWNER = "ana@cc.test"
HOME, ATTACKER = "198.51.100.7", "203.0.113.9"


async def fail(limiter: LoginLimiter, *, email: str = OWNER, address: str = ATTACKER, now: datetime) -> timedelta:
    """One wrong password: the wait it was refused with, or zero when it was counted."""
    return (await limiter.attempt(email=email, address=address, now=now)).wait


async def test_a_pair_gets_free_failures_then_a_doubling_delay_up_to_the_cap(db: str) -> None:
    limiter = LoginLimiter()
    now = T0
    for _ in range(PAIR.free):
        assert await fail(limiter, now=now) == timedelta(0)
    waits = []
    for _ in range(14):
        wait = await fail(limiter, now=now)
        waits.append(wait)
        now += wait  # the guesser retries as soon as allowed
        assert await fail(limiter, now=now) == timedelta(0)
    assert waits[:5] == [timedelta(seconds=s) for s in (1, 2, 4, 8, 16)]
    assert waits[-1] == PAIR.cap
    # Hammering while slowed counts nothing and does not push the next try further away.
    before = await LoginThrottle.filter(account__not="").values_list("failures", flat=True)
    for _ in range(20):
        assert await fail(limiter, now=now) == PAIR.cap
    assert await LoginThrottle.filter(account__not="").values_list("failures", flat=True) == before
    assert await fail(limiter, now=now + PAIR.cap) == timedelta(0)


async def test_the_owner_from_another_address_is_not_slowed_and_a_success_resets_the_pair(db: str) -> None:
    limiter = LoginLimiter()
    for _ in range(PAIR.free):
        await fail(limiter, now=T0)
    assert await fail(limiter, now=T0) > timedelta(0)
    home = await limiter.attempt(email=OWNER, address=HOME, now=T0)
    assert home.wait == timedelta(0)
    await limiter.succeeded(home, now=T0)
    # The attacker's pair is still slowed; the owner's own pair starts from nothing.
    assert await fail(limiter, now=T0) > timedelta(0)
    for _ in range(PAIR.free):
        assert await fail(limiter, address=HOME, now=T0) == timedelta(0)
    typo_then_right = await limiter.attempt(email=OWNER, address=HOME, now=T0 + timedelta(seconds=1))
    assert typo_then_right.wait == timedelta(0)
    await limiter.succeeded(typo_then_right, now=T0 + timedelta(seconds=1))
    pair = await LoginThrottle.filter(account__not="").order_by("id").values_list("failures", flat=True)
    assert pair == [PAIR.free, 0]  # the attacker's pair, the owner's pair


async def test_failures_are_forgotten_a_day_after_the_last_one(db: str) -> None:
    limiter = LoginLimiter()
    for _ in range(PAIR.free + 3):
        await fail(limiter, now=T0)
    later = T0 + PAIR.forget
    for _ in range(PAIR.free):
        assert await fail(limiter, now=later) == timedelta(0)
    assert await fail(limiter, now=later) == PAIR.base


async def test_one_address_trying_many_accounts_is_slowed_but_never_its_known_pairs(db: str) -> None:
    limiter = LoginLimiter()
    regular = await limiter.attempt(email="sari@cc.test", address=ATTACKER, now=T0)
    await limiter.succeeded(regular, now=T0)  # a colleague signs in from the same office address
    for n in range(ADDRESS.free):
        assert await fail(limiter, email=f"user{n}@cc.test", now=T0) == timedelta(0)
    # Another account never signed in to from here: the address's ceiling slows it...
    assert await fail(limiter, email="new@cc.test", now=T0) == ADDRESS.base
    # ...but not the colleague who signs in from here, nor anyone at another address.
    assert (await limiter.attempt(email="sari@cc.test", address=ATTACKER, now=T0)).wait == timedelta(0)
    assert await fail(limiter, email="new@cc.test", address=HOME, now=T0) == timedelta(0)
    # The ceiling slows with a short cap: it never locks the address out.
    now = T0
    for _ in range(30):
        wait = await fail(limiter, email="new@cc.test", now=now)
        assert timedelta(0) < wait <= ADDRESS.cap
        now += wait
        assert await fail(limiter, email=f"spray-{now.timestamp()}@cc.test", now=now) == timedelta(0)


async def test_a_parallel_burst_gets_no_more_than_the_free_tries(db: str) -> None:
    limiter = LoginLimiter()
    results = await asyncio.gather(*(limiter.attempt(email=OWNER, address=ATTACKER, now=T0) for _ in range(25)))
    assert sum(1 for r in results if r.wait == timedelta(0)) == PAIR.free
    assert await LoginThrottle.filter(account__not="").values_list("failures", flat=True) == [PAIR.free]


async def test_two_limiters_share_the_count_and_store_no_typed_text(db: str) -> None:
    first, second = LoginLimiter(), LoginLimiter()  # as two processes would have
    for _ in range(PAIR.free):
        await fail(first, now=T0)
    assert await fail(second, now=T0) == PAIR.base
    rows = await LoginThrottle.all().values("account", "address")
    stored = " ".join(f"{row['account']} {row['address']}" for row in rows)
    assert OWNER not in stored
    assert ATTACKER not in stored
    assert await StoredSecret.filter(name="login_throttle").count() == 1


async def test_prune_forgets_what_no_longer_counts(db: str) -> None:
    limiter = LoginLimiter()
    known = await limiter.attempt(email=OWNER, address=HOME, now=T0)
    await limiter.succeeded(known, now=T0)
    await fail(limiter, email="old@cc.test", now=T0)
    await fail(limiter, email="recent@cc.test", now=T0 + timedelta(hours=20))
    # Gone: old@'s pair and the home address's tally (its only try was refunded a day ago).
    assert await prune(now=T0 + PAIR.forget + timedelta(minutes=1)) == 2
    assert await LoginThrottle.all().count() == 3  # the known pair, recent@'s pair, the attacker's tally
    await prune(now=T0 + KNOWN_PAIR_FOR + timedelta(minutes=1))
    assert await LoginThrottle.all().count() == 0


def test_retry_after_is_whole_seconds_rounded_up() -> None:
    assert [retry_after_seconds(timedelta(seconds=s)) for s in (0.0, 0.2, 1.0, 1.5, 900)] == [1, 1, 1, 2, 900]
