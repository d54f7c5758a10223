"""Proof by a one-time code (issue 13): a 6-digit code mailed to the campus address on record for a number.

Possession of the mailbox is the proof. The code is drawn with ``secrets``, kept only as a keyed hash
(HMAC-SHA256 under a key derived from the app's secret, as handoff.identity_limits does), bound to one
channel address and one number (a code made for another never matches: the row is per address and
number), valid ``VALIDITY``, dead after ``MAX_TRIES`` wrong tries (then the address waits ``PAUSE``), and
dead when a newer one is made. The mail is a row in the helpdesk's retried outbox (handoff.escalation_mail,
kind ``proof_code``), queued in the caller's transaction: a crash neither loses nor doubles it, and the
outbox drops the code from the row once it is sent.

Every answer is neutral: asking for a code for a number the directory does not know (or one without an
address) makes a code nobody receives, which fails like any wrong code, so the replies never tell whether
a number exists. The limits (``PER_ADDRESS``/``PER_NUMBER`` codes an hour) are the same for both.
Lives in handoff because the outbox and its worker do; the bot decides when to call it.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from handoff.survey import link_secret
from models import ChannelIdentity, DeliveryStatus, EscalationMail, ProofCode

log = logging.getLogger(__name__)

DIGITS = 6
VALIDITY = timedelta(minutes=10)  # a mail the outbox could not send by then is given up (STALE_AFTER)
MAX_TRIES = 5
PAUSE = timedelta(minutes=15)  # after MAX_TRIES wrong tries, this address may not try or ask again
HOUR = timedelta(hours=1)
PER_ADDRESS = 3  # codes one channel address may ask for in an hour
PER_NUMBER = 3  # codes made for one number in an hour, across every address
KIND = "proof_code"
CODE = re.compile(rf"^\s*(\d{{{DIGITS}}})\s*$")
_LABEL = b"carecenter proof codes v1"


class Verdict(StrEnum):
    PROVEN = "proven"
    WRONG = "wrong"  # tries left
    DEAD = "dead"  # expired, used, replaced, or tried too often: ask for a new one
    PAUSED = "paused"  # too many wrong tries a moment ago


@dataclass(frozen=True, slots=True)
class Check:
    verdict: Verdict
    number: str = ""  # the number proven (PROVEN only)
    left: int = 0  # tries left (WRONG only)


class Issued(StrEnum):
    QUEUED = "queued"  # a code exists (mailed only when the directory has an address)
    PAUSED = "paused"
    TOO_MANY = "too_many"  # this address asked too often this hour


def as_code(text: str) -> str | None:
    """The code in a message that is one: six digits, alone."""
    match = CODE.match(text)
    return match.group(1) if match else None


async def keyed_hash(secret_key: str, label: bytes, *parts: str) -> str:
    """HMAC-SHA256 of ``parts`` under a key derived from the app's secret for ``label``'s use alone: how every
    one-time code is kept (these, and handoff.staff_telegram's link codes)."""
    key = hmac.new((await link_secret(secret_key)).encode(), label, hashlib.sha256).digest()
    return hmac.new(key, "\x1f".join(parts).encode(), hashlib.sha256).hexdigest()


async def _hash(secret_key: str, identity: ChannelIdentity, number: str, code: str) -> str:
    # The address and the number are in the message: a code is worth nothing for any other pair.
    return await keyed_hash(secret_key, _LABEL, identity.channel.value, identity.external_id, number, code)


async def paused_until(identity: ChannelIdentity, *, now: datetime) -> datetime | None:
    """When this address may try again, if a code of its died of wrong tries within ``PAUSE``."""
    dead = await ProofCode.filter(identity_id=identity.id, tries__gte=MAX_TRIES,
                                  expires_at__gt=now - PAUSE).order_by("-expires_at").first()
    return dead.expires_at + PAUSE if dead is not None else None


SUPERSEDED = "(not sent: a newer code replaced it; the content is not kept)"


async def issue(*, identity: ChannelIdentity, number: str, email: str, secret_key: str, now: datetime,
                compose: Callable[[str], tuple[str, str, str]]) -> Issued:
    """Make a new code for ``identity`` and ``number`` (the old ones die) and queue its mail to ``email``,
    written by ``compose(code)`` as (subject, plain text, HTML): the bot's words (handoff never imports it).
    ``number``/``email`` empty: the directory does not know the number, or has no address: the code is
    made all the same and mailed to nobody, so the person sees what anyone sees."""
    if await paused_until(identity, now=now) is not None:
        return Issued.PAUSED
    if await ProofCode.filter(identity_id=identity.id, created_at__gte=now - HOUR).count() >= PER_ADDRESS:
        log.info("proof code refused: identity %s asked too often this hour", identity.id)
        return Issued.TOO_MANY
    # Any code still alive for this address dies: only the newest may prove it.
    await ProofCode.filter(identity_id=identity.id, used_at__isnull=True, expires_at__gt=now).update(expires_at=now)
    code = f"{secrets.randbelow(10**DIGITS):0{DIGITS}d}"
    await ProofCode.create(identity_id=identity.id, number=number, code_hash=await _hash(secret_key, identity,
                           number, code), expires_at=now + VALIDITY, created_at=now)
    # Over the number's limit nothing is mailed, and the person is told the same as always: refusing
    # aloud would tell a guesser that the number has an address (the number's owner is not flooded).
    recent = await ProofCode.filter(number=number, created_at__gte=now - HOUR).count() if number else 0
    # A mail of this address's earlier code still waiting for the server (SMTP down, retrying) holds a code
    # that just died: it is dropped and its body not kept, so the person never gets a dead code after the
    # live one. Only this address's: another chat claiming the same number must not cancel it.
    dropped = await EscalationMail.filter(kind=KIND, identity_id=identity.id, status=DeliveryStatus.QUEUED).update(
        status=DeliveryStatus.FAILED, last_error=SUPERSEDED, body=SUPERSEDED, html=None)
    if dropped:
        log.info("proof code for identity %s: %d waiting mail(s) of older codes dropped", identity.id, dropped)
    if number and email and recent <= PER_NUMBER:
        subject, body, rich = compose(code)
        await EscalationMail.create(ticket_id=None, identity_id=identity.id, recipients=email, subject=subject[:200],
                                    body=body, html=rich, kind=KIND, status=DeliveryStatus.QUEUED)
        log.info("proof code for identity %s queued for mailing", identity.id)
    else:
        log.info("proof code for identity %s made, not mailed", identity.id)
    return Issued.QUEUED


async def check(*, identity: ChannelIdentity, code: str, secret_key: str, now: datetime) -> Check:
    """A try: the newest code of this address. Right → used (a replay is DEAD); wrong → one try less."""
    if await paused_until(identity, now=now) is not None:
        return Check(Verdict.PAUSED)
    row = await ProofCode.filter(identity_id=identity.id).order_by("-id").first()
    if row is None or row.used_at is not None or row.expires_at <= now or row.tries >= MAX_TRIES:
        return Check(Verdict.DEAD)
    if row.number and hmac.compare_digest(row.code_hash, await _hash(secret_key, identity, row.number, code)):
        # Conditional, so two tries racing with the same code prove once.
        if await ProofCode.filter(id=row.id, used_at__isnull=True).update(used_at=now):
            return Check(Verdict.PROVEN, number=row.number)
        return Check(Verdict.DEAD)
    tries = row.tries + 1
    # The last wrong try kills the code at once: ``paused_until`` counts the pause from its expiry.
    await ProofCode.filter(id=row.id).update(tries=tries, **({"expires_at": now} if tries >= MAX_TRIES else {}))
    log.info("wrong proof code for identity %s (try %d)", identity.id, tries)
    if tries >= MAX_TRIES:
        return Check(Verdict.PAUSED)
    return Check(Verdict.WRONG, left=MAX_TRIES - tries)


async def prune(*, now: datetime) -> int:
    """Drop codes no rule reads any more (older than the hour of the limits and the pause)."""
    return await ProofCode.filter(created_at__lt=now - max(HOUR, VALIDITY + PAUSE)).delete()
