"""Passwords (argon2) and API tokens (random, stored as SHA-256).

A token is checked in full on every request (revoked, expired, its user still active) and acts with its
user's role of the moment, not the role the user had when the token was made: deactivating or demoting
someone in the console changes what their tokens may do at once, with no token to hunt down.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from tortoise.queryset import QuerySet

from models import ApiToken, AuditLog, User, UserRole

_hasher = PasswordHasher()
TOKEN_PREFIX = "cc_"  # noqa: S105 - a prefix that makes leaked tokens easy to spot, not a secret


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


async def password_hash_of(password: str) -> str:
    """``hash_password`` in a worker thread: argon2 spends tens of milliseconds of CPU on purpose, time the
    event loop owes every other request (a burst of sign-ins must not stall the webhooks)."""
    return await asyncio.to_thread(hash_password, password)


async def password_matches(password_hash: str, password: str) -> bool:
    """``verify_password`` in a worker thread, for the same reason."""
    return await asyncio.to_thread(verify_password, password_hash, password)


def generate_password() -> str:
    return secrets.token_urlsafe(12)


class UserExistsError(ValueError):
    pass


async def create_user(
    *, email: str, role: UserRole, password: str, name: str = "", must_change_password: bool = False
) -> User:
    email = email.strip().lower()
    if "@" not in email or email.startswith("@") or email.endswith("@"):
        raise ValueError(f"{email!r} is not an e-mail address")
    if len(password) < 8:
        raise ValueError("the password must have at least 8 characters")
    if await User.exists(email=email):
        raise UserExistsError(f"a user with e-mail {email} already exists")
    return await User.create(
        email=email,
        role=role,
        name=name or email.split("@")[0],
        password_hash=await password_hash_of(password),
        must_change_password=must_change_password,
    )


def _digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


# "Last used" is for people deciding what to revoke; a write on every API request is not worth that.
TOKEN_TOUCH_EVERY = timedelta(minutes=1)
# Longest expiry accepted at creation: beyond this, "never" says the same more honestly.
MAX_TOKEN_LIFETIME = timedelta(days=5 * 366)
_DURATION = re.compile(r"(\d{1,5})\s*([hdw])")
_UNITS = {"h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}


class TokenRefusal(StrEnum):
    """Why a presented token was refused. Only the holder of the secret learns it, so nothing leaks
    about other people's tokens: a guessed or mistyped secret is simply unknown."""

    UNKNOWN = "unknown"
    REVOKED = "revoked"
    EXPIRED = "expired"
    USER_INACTIVE = "user_inactive"


class TokenRefusedError(Exception):
    def __init__(self, reason: TokenRefusal) -> None:
        super().__init__(reason.value)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class ApiCaller:
    """Who an accepted token acts as: its user (None for a read-only token) and the role in force now."""

    token: ApiToken
    user: User | None
    role: UserRole


class ExpiryError(ValueError):
    """An expiry the user must correct; ``code`` is the console catalogue's key for it."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def parse_expiry(text: str, *, now: datetime, tz: ZoneInfo) -> datetime | None:
    """``90d`` / ``12h`` / ``4w`` from now, or a date (the token works through that day, local time),
    or an ISO date-time; empty: never. Refuses moments in the past and beyond MAX_TOKEN_LIFETIME."""
    text = text.strip().lower()
    if text in ("", "never"):
        return None
    if matched := _DURATION.fullmatch(text):
        moment = now + int(matched.group(1)) * _UNITS[matched.group(2)]
    else:
        try:
            day = date.fromisoformat(text)
        except ValueError:
            day = None
        if day is not None:
            moment = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz)
        else:
            try:
                moment = datetime.fromisoformat(text.upper())
            except ValueError:
                raise ExpiryError(
                    "error_token_expiry_format", f"{text!r}: expected e.g. 90d, 12h, 4w, 2027-01-31 or never"
                ) from None
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=tz)
    if moment <= now:
        raise ExpiryError("error_token_expiry_past", f"{text!r} is not in the future")
    if moment - now > MAX_TOKEN_LIFETIME:
        raise ExpiryError("error_token_expiry_far", f"{text!r} is too far ahead; leave the expiry out instead")
    return moment.astimezone(UTC)


async def create_api_token(
    *, name: str, role: UserRole, user: User | None = None, expires_at: datetime | None = None,
    actor: User | None = None, via: str = "cli",
) -> tuple[ApiToken, str]:
    """A token bound to ``user`` may act on tickets as that user, with that user's role at each request.
    Audited (``actor`` None: the command line)."""
    if user is not None:
        role = user.role
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = await ApiToken.create(name=name, role=role, token_hash=_digest(raw), user=user, expires_at=expires_at)
    await AuditLog.create(actor=actor, action="token.create", target=name[:120], data={
        "id": token.id, "via": via, "user": user.email if user else None, "role": role.value,
        "expires_at": expires_at.isoformat() if expires_at else None,
    })
    return token, raw


async def authenticate_token(raw: str, *, now: datetime) -> ApiCaller:
    """The caller for a presented secret, or TokenRefusedError saying why not."""
    token = await ApiToken.get_or_none(token_hash=_digest(raw))
    if token is None:
        raise TokenRefusedError(TokenRefusal.UNKNOWN)
    if token.revoked_at is not None:
        raise TokenRefusedError(TokenRefusal.REVOKED)
    if token.expires_at is not None and token.expires_at <= now:
        raise TokenRefusedError(TokenRefusal.EXPIRED)
    user = await User.get_or_none(id=token.user_id) if token.user_id else None
    if token.user_id is not None and (user is None or not user.active):
        raise TokenRefusedError(TokenRefusal.USER_INACTIVE)
    if token.last_used_at is None or now - token.last_used_at >= TOKEN_TOUCH_EVERY:
        token.last_used_at = now
        await ApiToken.filter(id=token.id).update(last_used_at=now)
    return ApiCaller(token=token, user=user, role=user.role if user is not None else token.role)


def token_role(token: ApiToken) -> UserRole:
    """The role a token acts with now (its user must be fetched): the user's current one, if it has a user."""
    user: User | None = token.user
    return user.role if user is not None else token.role


def visible_tokens(user: User) -> QuerySet[ApiToken]:
    """A supervisor manages every token; anyone else their own. Other tokens answer as missing."""
    query = ApiToken.all() if user.role == UserRole.SUPERVISOR else ApiToken.filter(user_id=user.id)
    return query.prefetch_related("user").order_by("-id")


async def revoke_api_token(token: ApiToken, *, now: datetime, actor: User | None = None, via: str = "cli") -> bool:
    """Revoke for good, audited; False when it already was (the first revocation's time is kept)."""
    revoked = await ApiToken.filter(id=token.id, revoked_at=None).update(revoked_at=now)
    if revoked:
        token.revoked_at = now
        await AuditLog.create(actor=actor, action="token.revoke", target=token.name[:120],
                              data={"id": token.id, "via": via})
    return bool(revoked)
