"""A console user's own Telegram chat for their notices (issue 12): linked with a one-time code, kept per user.

Linking. The console makes a code (``new_code``): ten characters drawn with ``secrets`` from an alphabet
without look-alikes, kept only as a keyed hash (handoff.proof_codes' ``keyed_hash``), valid ``VALIDITY``,
used once, and dead when the same user makes a newer one. The user sends it to the bot (``/start <code>``
through the deep link, or ``/link <code>``); the Telegram channel hands it to ``link_chat`` before anything
reaches the student flow, so a staff chat never becomes a conversation. A wrong, expired or used code
counts toward a small limit per chat (handoff.identity_limits' ``LINK_LIMIT``); over it, nothing is checked.
A chat links to one user and a user has one chat: linking again moves the link. The same code sent again
from the chat it linked (Telegram re-delivering the update) answers "linked" again and counts nothing.

Delivery. Notices go through the staff outbox (handoff.escalation_mail, ``channel`` telegram, the chat id
as recipient) with its claim, retries and exactly-once rule; ``queue`` skips a user without a working link.
When Telegram refuses for good (403: the bot was blocked), the outbox calls ``mark_broken``: the console
shows it, nothing more is queued or retried for that chat, and the chat writing to the bot again (it was
unblocked) or a new link mends it.

Every link, unlink and break is an audit row. Logs name user ids only, never a chat id or a code.
"""

from __future__ import annotations

import logging
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol, runtime_checkable

from tortoise.transactions import in_transaction

from handoff import identity_limits
from handoff.audit_log import audit
from handoff.proof_codes import keyed_hash
from models import ChannelKind, DeliveryStatus, EscalationMail, StaffLinkCode, StaffTelegramLink, User

log = logging.getLogger(__name__)

VALIDITY = timedelta(minutes=10)
ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no I, O, 0 or 1: a code is read off a screen and typed
LENGTH = 10
_LABEL = b"carecenter staff telegram link v1"
# "/start CODE" (the deep link), "/link CODE", and "/link" alone (asked how); "@bot" as Telegram adds it in
# groups. ``/start`` alone is a student's first message and is not ours.
_COMMAND = re.compile(r"^\s*/(start|link)(?:@[A-Za-z0-9_]{1,64})?(?:\s+(\S{1,64}))?\s*$", re.IGNORECASE)


@runtime_checkable
class NamedBot(Protocol):
    """A channel that knows its bot's username (Telegram, from getMe): what the console's deep link needs."""

    @property
    def bot_username(self) -> str | None: ...


class Linked(StrEnum):
    LINKED = "linked"
    WRONG = "wrong"  # no such code
    EXPIRED = "expired"  # too old, used, or replaced by a newer one
    LIMITED = "limited"  # this chat sent too many wrong codes lately
    ASK = "ask"  # "/link" without a code: tell how


@dataclass(frozen=True, slots=True)
class LinkResult:
    outcome: Linked
    name: str = ""  # the linked user's name (LINKED only)


def command_code(text: str) -> str | None:
    """The code in a link command, "" for ``/link`` without one, None when the text is no link command."""
    match = _COMMAND.match(text)
    if match is None:
        return None
    verb, code = match.group(1).lower(), match.group(2)
    if verb == "start" and code is None:
        return None
    return code or ""


def deep_link(username: str, code: str) -> str:
    return f"https://t.me/{username}?start={code}"


async def _hash(secret_key: str, code: str) -> str:
    return await keyed_hash(secret_key, _LABEL, code.strip().upper())


async def new_code(*, user: User, secret_key: str, now: datetime) -> str:
    """A new code for ``user``; their older ones die. Returned once, to be shown, never stored."""
    code = "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))
    async with in_transaction():
        await StaffLinkCode.filter(user_id=user.id, used_at__isnull=True, expires_at__gt=now).update(expires_at=now)
        await StaffLinkCode.create(user_id=user.id, code_hash=await _hash(secret_key, code), expires_at=now + VALIDITY,
                                   created_at=now)
    log.info("telegram link code made for user %s", user.id)
    return code


async def link_chat(*, chat_id: str, code: str, secret_key: str, now: datetime) -> LinkResult:
    """A code sent from ``chat_id``: link the chat to the code's user, or say why not."""
    if not code:
        return LinkResult(Linked.ASK)
    limit_key = await identity_limits.link_key(secret_key=secret_key, channel=ChannelKind.TELEGRAM, address=chat_id)
    if not await identity_limits.link_allowed(limit_key, now=now):
        return LinkResult(Linked.LIMITED)
    row = await StaffLinkCode.get_or_none(code_hash=await _hash(secret_key, code))
    user = await User.get_or_none(id=row.user_id, active=True) if row is not None else None
    if row is not None and user is not None and row.used_at is not None and await StaffTelegramLink.exists(
            user_id=user.id, chat_id=chat_id):
        return LinkResult(Linked.LINKED, user.name or user.email)  # the same update again: already done
    if row is None or user is None:
        await identity_limits.record_link_failure(limit_key, now=now)
        log.info("telegram link refused: unknown code")
        return LinkResult(Linked.WRONG)
    if row.used_at is not None or row.expires_at <= now:
        await identity_limits.record_link_failure(limit_key, now=now)
        log.info("telegram link refused for user %s: the code expired or was used", user.id)
        return LinkResult(Linked.EXPIRED)
    async with in_transaction():
        # Conditional, so two updates racing with the same code link once.
        if not await StaffLinkCode.filter(id=row.id, used_at__isnull=True).update(used_at=now):
            return LinkResult(Linked.EXPIRED)
        moved = await StaffTelegramLink.filter(chat_id=chat_id).exclude(user_id=user.id).values_list("user_id",
                                                                                                      flat=True)
        await StaffTelegramLink.filter(chat_id=chat_id).exclude(user_id=user.id).delete()
        await StaffTelegramLink.filter(user_id=user.id).delete()
        await StaffTelegramLink.create(user_id=user.id, chat_id=chat_id, linked_at=now)
        await audit(actor=user, action="telegram.link", target=user.email,
                    data={"moved_from_user": moved[0]} if moved else None)
    log.info("telegram chat linked for user %s", user.id)
    return LinkResult(Linked.LINKED, user.name or user.email)


async def unlink(*, user: User, actor: User) -> bool:
    """Forget ``user``'s chat; their notices stop going there. False when there was none."""
    async with in_transaction():
        gone = await StaffTelegramLink.filter(user_id=user.id).delete()
        if gone:
            await audit(actor=actor, action="telegram.unlink", target=user.email)
    if gone:
        log.info("telegram chat unlinked for user %s", user.id)
    return bool(gone)


async def link_of(user: User) -> StaffTelegramLink | None:
    return await StaffTelegramLink.get_or_none(user_id=user.id)


async def linked_user(chat_id: str) -> User | None:
    """The console user whose chat this is; a broken link is mended, since the chat is writing to us again."""
    link = await StaffTelegramLink.get_or_none(chat_id=chat_id)
    if link is None:
        return None
    if link.broken_at is not None and await StaffTelegramLink.filter(id=link.id).update(broken_at=None,
                                                                                       broken_reason=None):
        log.info("telegram link of user %s works again: the chat wrote to the bot", link.user_id)
    return await User.get_or_none(id=link.user_id)


async def mark_broken(*, chat_id: str, reason: str, now: datetime) -> bool:
    """Telegram refused this chat for good: its link shows broken and nothing more is sent to it."""
    link = await StaffTelegramLink.get_or_none(chat_id=chat_id, broken_at__isnull=True)
    if link is None or not await StaffTelegramLink.filter(id=link.id, broken_at__isnull=True).update(
            broken_at=now, broken_reason=reason[:200]):
        return False
    user = await User.get_or_none(id=link.user_id)
    await audit(actor=None, action="telegram.broken", target=user.email if user else str(link.user_id),
                data={"reason": reason[:200]})
    log.warning("telegram link of user %s is broken: %s", link.user_id, reason[:200])
    return True


async def working_chat(chat_id: str) -> bool:
    """Whether a notice queued for this chat may still go: still linked, and not broken."""
    return await StaffTelegramLink.exists(chat_id=chat_id, broken_at__isnull=True)


async def queue(*, user: User, kind: str, text: str, ticket_id: int | None = None) -> EscalationMail | None:
    """One notice to ``user``'s linked chat through the staff outbox, or None when they have no working link.
    Called inside the caller's claiming transaction, as the mails are: the notice exists exactly when it does."""
    link = await StaffTelegramLink.get_or_none(user_id=user.id, broken_at__isnull=True)
    if link is None:
        return None
    return await EscalationMail.create(ticket_id=ticket_id, recipients=link.chat_id, subject=kind[:200], body=text,
                                       html=None, kind=kind, channel=ChannelKind.TELEGRAM,
                                       status=DeliveryStatus.QUEUED)
