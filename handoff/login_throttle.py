"""Console sign-in throttling that slows a password guesser without locking the owner out.

What it replaces, and why: 5 failures locked an *account* for 15 minutes (so anyone could lock anyone
out, and keep them out with 5 tries every 15 minutes), 20 failures locked every account of an *address*
(behind a reverse proxy, everyone's), and the counts lived in one process's memory.

Now, as Django-axes' ``[username, ip_address]`` lockout parameter and OWASP's "slow down online
guessing" advice suggest, the unit is the pair (account, client address):

* Each pair has a few free failures, then an exponential delay before its next try (``PAIR``); the
  answer in the meantime is 429 with ``Retry-After``, never a server task that sleeps (which an
  attacker could pile up). The owner signing in from another address is a different pair and is not
  slowed at all; a successful sign-in resets its pair.
* Each address also has a much looser ceiling (``ADDRESS``) against one address trying many accounts
  (password spraying). It slows, with a short cap, and never applies to a pair that signed in
  successfully within ``KNOWN_PAIR_FOR``: colleagues behind one office NAT keep signing in while
  someone else sprays from it.
* A try is counted *before* the password is checked and refunded when it was right, with a
  compare-and-set on the count: a burst of parallel requests cannot all slip through while the first
  ones are still being checked.

Rows live in the ``login_throttle`` table (every process and a restart see the same counts) and are
pruned by the scheduler. Keys are HMACs under a per-installation secret, never the typed e-mail (people
type passwords there) or the address.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from tortoise.exceptions import IntegrityError
from tortoise.expressions import F, Q

from models import LoginThrottle, StoredSecret


@dataclass(frozen=True, slots=True)
class Backoff:
    """``free`` failures cost nothing; after the n-th failure beyond them the next try waits
    ``base * 2**(n - free)``, at most ``cap``. A count with no failure for ``forget`` starts again."""

    free: int
    base: timedelta
    cap: timedelta
    forget: timedelta

    def delay(self, failures: int) -> timedelta:
        if failures < self.free:
            return timedelta(0)
        steps = failures - self.free
        # 2**40 seconds is far past any cap; stop doubling before the numbers get silly.
        return self.cap if steps > 40 else min(self.cap, self.base * 2**steps)


# After 5 failures: 1 s, 2 s, 4 s ... then 15 minutes per try (the old lock's length), so a guesser on
# one pair gets about 15 tries in its first 20 minutes, then 4 an hour, and loses the count only after a
# day without failures.
PAIR = Backoff(free=5, base=timedelta(seconds=1), cap=timedelta(minutes=15), forget=timedelta(hours=24))
# One address, any accounts it has not signed in to before: 100 failures a day are free (a campus NAT
# with many people mistyping), then 1 s, 2 s ... at most 5 minutes per try.
ADDRESS = Backoff(free=100, base=timedelta(seconds=1), cap=timedelta(minutes=5), forget=timedelta(hours=24))
# A pair that signed in within this long is the owner's usual place: the address ceiling does not apply.
KNOWN_PAIR_FOR = timedelta(days=30)
# Compare-and-set retries when parallel tries on one row race; after that, the caller is asked to retry.
_CAS_TRIES = 5
_SECRET_NAME = "login_throttle"  # noqa: S105 - the name of the stored secret, not a secret


def retry_after_seconds(wait: timedelta) -> int:
    """The ``Retry-After`` value: whole seconds, rounded up, at least 1."""
    return max(1, math.ceil(wait.total_seconds()))


@dataclass(frozen=True, slots=True)
class LoginAttempt:
    """One sign-in try: ``wait`` > 0 means refused (nothing counted); otherwise it was counted as a failure
    until ``LoginLimiter.succeeded`` refunds it."""

    wait: timedelta
    pair_id: int = 0
    address_id: int | None = None  # the address row charged, None when the pair is known


@dataclass(slots=True)
class LoginLimiter:
    pair: Backoff = PAIR
    address: Backoff = ADDRESS
    known_for: timedelta = KNOWN_PAIR_FOR
    _secret: bytes = field(default=b"", repr=False)

    async def _key(self, kind: str, value: str) -> str:
        if not self._secret:
            self._secret = (await _installation_secret()).encode()
        return hmac.new(self._secret, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()

    async def attempt(self, *, email: str, address: str, now: datetime) -> LoginAttempt:
        """Ask before checking a password. A refused try changes nothing, so hammering a slowed pair
        does not push its next try further away."""
        account = await self._key("account", email)
        place = await self._key("address", address)
        pair_row = await _row(account, place)
        wait = _wait(pair_row, self.pair, now)
        if wait > timedelta(0):
            return LoginAttempt(wait)
        known = pair_row.succeeded_at is not None and now - pair_row.succeeded_at < self.known_for
        address_id = None
        if not known:
            wait, address_id = await _charge("", place, self.address, now)
            if wait > timedelta(0):
                return LoginAttempt(wait)
        wait, pair_id = await _charge(account, place, self.pair, now)
        if wait > timedelta(0):  # a parallel try on this pair won the race: undo the address's count
            if address_id is not None:
                await _refund(address_id)
            return LoginAttempt(wait)
        return LoginAttempt(timedelta(0), pair_id=pair_id, address_id=address_id)

    async def succeeded(self, attempt: LoginAttempt, *, now: datetime) -> None:
        """The password was right: the pair starts again from zero and the address gets its try back."""
        await LoginThrottle.filter(id=attempt.pair_id).update(failures=0, last_failed_at=None, succeeded_at=now)
        if attempt.address_id is not None:
            await _refund(attempt.address_id)


async def _installation_secret() -> str:
    stored = await StoredSecret.get_or_none(name=_SECRET_NAME)
    if stored is None:
        try:
            stored = await StoredSecret.create(name=_SECRET_NAME, value=secrets.token_urlsafe(48))
        except IntegrityError:  # another process made it first: use theirs
            stored = await StoredSecret.get(name=_SECRET_NAME)
    return stored.value


async def _row(account: str, address: str) -> LoginThrottle:
    row = await LoginThrottle.get_or_none(account=account, address=address)
    if row is None:
        try:
            row = await LoginThrottle.create(account=account, address=address)
        except IntegrityError:  # a parallel try created it
            row = await LoginThrottle.get(account=account, address=address)
    return row


def _failures(row: LoginThrottle, rule: Backoff, now: datetime) -> int:
    if row.last_failed_at is None or now - row.last_failed_at >= rule.forget:
        return 0
    return row.failures


def _wait(row: LoginThrottle, rule: Backoff, now: datetime) -> timedelta:
    failures = _failures(row, rule, now)
    if not failures or row.last_failed_at is None:
        return timedelta(0)
    return max(timedelta(0), row.last_failed_at + rule.delay(failures) - now)


async def _charge(account: str, address: str, rule: Backoff, now: datetime) -> tuple[timedelta, int]:
    """Count one failure on the row unless the rule says wait: (wait, row id); zero wait means counted.

    A conditional UPDATE on the count the decision was made from (compare-and-set): of parallel tries
    that read the same count, one is counted and the others read again and decide anew."""
    for _ in range(_CAS_TRIES):
        row = await _row(account, address)
        wait = _wait(row, rule, now)
        if wait > timedelta(0):
            return wait, row.id
        counted = await LoginThrottle.filter(id=row.id, failures=row.failures).update(
            failures=_failures(row, rule, now) + 1, last_failed_at=now
        )
        if counted:
            return timedelta(0), row.id
    return rule.base, 0


async def _refund(row_id: int) -> None:
    await LoginThrottle.filter(id=row_id, failures__gt=0).update(failures=F("failures") - 1)


async def prune(*, now: datetime, pair: Backoff = PAIR, address: Backoff = ADDRESS,
                known_for: timedelta = KNOWN_PAIR_FOR) -> int:
    """Forget rows whose failures no longer count and whose pair is no longer 'known' (scheduler job)."""
    stale_success = Q(succeeded_at=None) | Q(succeeded_at__lt=now - known_for)

    def stale_failures(rule: Backoff) -> Q:
        return Q(last_failed_at=None) | Q(last_failed_at__lt=now - rule.forget)

    pairs = await LoginThrottle.filter(stale_success, stale_failures(pair)).exclude(account="").delete()
    places = await LoginThrottle.filter(stale_failures(address), account="").delete()
    return pairs + places
