"""A signed identity from the campus LMS (issue 13), as Chatwoot's "identity validation" does it.

The LMS page that embeds the web chat opens it as
``/chat?identifier=<NIM, NIP, staff number or campus e-mail>&expires=<unix seconds>&signature=<hex>`` with
``signature = hex(HMAC-SHA256(WEBCHAT_IDENTITY_SECRET, f"{identifier}.{expires}"))``, computed on the LMS's
server for the person signed in through SSO. A valid signature proves the chat session to be that person's
(``ProofMethod.LMS``); anything else (no secret configured, a forged or expired signature, an expiry more
than ``MAX_AHEAD`` away, an identifier the directory does not list or not active) proves nothing, is logged
at INFO without the identifier, and the chat works as for anyone.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
from collections.abc import Mapping
from datetime import datetime, timedelta
from enum import StrEnum

from bot.channels.webchat import session_address
from bot.conversation.deps import FlowDeps
from bot.conversation.ingest import address_identity
from bot.directory import is_active
from bot.identity import Identity, parse_identity
from handoff.contacts import Person, is_proven, prove
from models import ChannelIdentity, ChannelKind, ProofMethod

log = logging.getLogger(__name__)

MAX_AHEAD = timedelta(hours=24)  # an expiry further away is refused: a leaked link must not live for ever
_EXPIRES = re.compile(r"\d{1,12}")
_SIGNATURE = re.compile(r"[0-9a-fA-F]{64}")


class Rejected(StrEnum):
    NOT_CONFIGURED = "not_configured"
    MALFORMED = "malformed"
    EXPIRED = "expired"
    TOO_FAR = "expiry_too_far"
    FORGED = "forged"
    NOT_AN_IDENTITY = "not_an_identity"


def sign(secret: str, identifier: str, expires: int) -> str:
    """What the LMS computes (the README's snippet does the same); the tests sign with it."""
    return hmac.new(secret.encode(), f"{identifier}.{expires}".encode(), hashlib.sha256).hexdigest()


def verify(*, secret: str, identifier: str, expires: str, signature: str, now: datetime,
           campus_domains: tuple[str, ...]) -> Identity | Rejected:
    """The identity a valid signature vouches for, or why it is refused. Pure and constant-time in the
    signature (hmac.compare_digest); the identifier must be one identity and nothing else."""
    if not secret:
        return Rejected.NOT_CONFIGURED
    if len(identifier) > 254 or not _EXPIRES.fullmatch(expires) or not _SIGNATURE.fullmatch(signature):
        return Rejected.MALFORMED
    expiry = int(expires)
    if expiry <= now.timestamp():
        return Rejected.EXPIRED
    if expiry > (now + MAX_AHEAD).timestamp():
        return Rejected.TOO_FAR
    if not hmac.compare_digest(sign(secret, identifier, expiry), signature.lower()):
        return Rejected.FORGED
    parsed = parse_identity(identifier, today=now.date(), campus_domains=campus_domains)
    if parsed.identity is None or parsed.remainder:
        return Rejected.NOT_AN_IDENTITY
    return parsed.identity


async def open_signed(*, token: str | None, query: Mapping[str, str], secret: str, deps: FlowDeps) -> str | None:
    """The web chat page's hook (bot.channels.webchat): a refused signature is logged at INFO with its
    reason, never the identifier, and changes nothing."""
    signed = verify(secret=secret, identifier=query.get("identifier", ""), expires=query.get("expires", ""),
                    signature=query.get("signature", ""), now=deps.clock(), campus_domains=deps.campus_domains)
    if isinstance(signed, Rejected):
        log.info("LMS signature refused: %s", signed.value)
        return None
    return await open_session(token=token, signed=signed, deps=deps)


async def open_session(*, token: str | None, signed: Identity, deps: FlowDeps) -> str | None:
    """The chat session for a valid signature: the browser's own when it is already proven to be this
    person's, otherwise a new one proven theirs (the browser's may be another person's on a shared
    computer, or an anonymous chat of anyone's). Returns its token, or None when the directory has no
    active entry for the signed identifier (the chat then goes on anonymously)."""
    now = deps.clock()
    record = await deps.directory.lookup(signed)  # before any transaction: the directory may be HTTP
    if record is None or not is_active(record):
        log.info("LMS signature refused: no active directory entry for it")
        return None
    if token is not None:
        current = await ChannelIdentity.get_or_none(channel=ChannelKind.WEBCHAT, external_id=session_address(token))
        if current is not None and is_proven(current) and current.claimed_number == record.id_number:
            return token
    token = secrets.token_urlsafe(32)
    identity = await address_identity(ChannelKind.WEBCHAT, session_address(token), now)
    person = Person(id_number=record.id_number, name=record.name, email=record.email, role=record.role,
                    faculty=record.faculty, program=record.program)
    await prove(identity=identity, person=person, method=ProofMethod.LMS, now=now)
    log.info("web chat identity %s proven by an LMS signature", identity.id)
    return token
