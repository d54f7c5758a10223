"""Guessing is expensive (issue 13): limits on identity attempts per channel address and per claimed number.

A number typed anywhere is looked up in the directory at most ``NUMBER_LIMIT`` times a day across every
channel, and one address may try ``ADDRESS_LIMIT`` numbers a day. Over either limit nothing is looked up and
nothing is claimed, and the person hears the same neutral answer as always, so the limit itself tells a
guesser nothing. Rows hold keyed hashes (HMAC-SHA256 with the app's secret), never a number or an address:
the table must not become a list of whose number was tried from where. ``prune`` drops rows older than the
window (handoff.jobs runs it, which is why this lives in handoff: handoff never imports the bot).

The same table counts the wrong staff link codes a Telegram chat sends (handoff.staff_telegram), under a
key of their own (``link_key``) and a shorter window, so guessing a console user's link code is as
expensive as guessing a number.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from handoff.survey import link_secret
from models import ChannelKind, IdentityAttempt

log = logging.getLogger(__name__)

WINDOW = timedelta(days=1)
ADDRESS_LIMIT = 10  # numbers one channel address may try in WINDOW
NUMBER_LIMIT = 5  # look-ups of one number in WINDOW, across all channels and addresses
# The keys are derived from the app's secret for this use alone, so they say nothing anywhere else.
_LABEL = b"carecenter identity attempts v1"


class Outcome(StrEnum):
    LOOKED_UP = "looked_up"
    LINK_FAILED = "link_failed"  # a wrong, expired or used staff link code (handoff.staff_telegram)


# Wrong staff link codes one chat may send in LINK_WINDOW; then even a right one waits. Codes are ten
# characters of 32 (about 10^15), so this only stops a chat from guessing, not a supervisor from mistyping.
LINK_LIMIT = 5
LINK_WINDOW = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class AttemptKeys:
    address_key: str
    number_key: str


async def attempt_keys(*, secret_key: str, channel: ChannelKind, address: str, number: str) -> AttemptKeys:
    key = hmac.new((await link_secret(secret_key)).encode(), _LABEL, hashlib.sha256).digest()

    def keyed(*parts: str) -> str:
        return hmac.new(key, "\x1f".join(parts).encode(), hashlib.sha256).hexdigest()

    return AttemptKeys(address_key=keyed("address", channel.value, address), number_key=keyed("number", number))


async def allowed(keys: AttemptKeys, *, now: datetime) -> bool:
    """Whether this address may look this number up now. Bounded work: attempts over a limit are never
    recorded, so each count reads at most its limit's rows."""
    since = now - WINDOW
    if await IdentityAttempt.filter(address_key=keys.address_key, created_at__gte=since).count() >= ADDRESS_LIMIT:
        log.info("identity attempt refused: this address reached its daily limit")
        return False
    if await IdentityAttempt.filter(number_key=keys.number_key, created_at__gte=since).count() >= NUMBER_LIMIT:
        log.info("identity attempt refused: this number reached its daily limit")
        return False
    return True


async def record(keys: AttemptKeys, *, now: datetime) -> None:
    await IdentityAttempt.create(address_key=keys.address_key, number_key=keys.number_key,
                                 outcome=Outcome.LOOKED_UP.value, created_at=now)


async def link_key(*, secret_key: str, channel: ChannelKind, address: str) -> str:
    """The keyed hash a chat's link attempts are counted under; its own prefix keeps them apart from the
    identity attempts of the same address."""
    keys = await attempt_keys(secret_key=secret_key, channel=channel, address=f"link:{address}", number="")
    return keys.address_key


async def link_allowed(key: str, *, now: datetime) -> bool:
    failed = await IdentityAttempt.filter(address_key=key, outcome=Outcome.LINK_FAILED.value,
                                          created_at__gte=now - LINK_WINDOW).count()
    return failed < LINK_LIMIT


async def record_link_failure(key: str, *, now: datetime) -> None:
    await IdentityAttempt.create(address_key=key, number_key=None, outcome=Outcome.LINK_FAILED.value,
                                 created_at=now)


async def prune(*, now: datetime) -> int:
    """Drop the attempts no limit reads any more. Returns how many."""
    return await IdentityAttempt.filter(created_at__lt=now - WINDOW).delete()
