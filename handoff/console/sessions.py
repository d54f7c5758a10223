"""Console sign-in: server-side sessions, CSRF tokens, password changes (throttling: handoff.login_throttle).

Why a session table rather than a signed cookie: signing out, deactivating a user and changing a
password must end sessions *now*, on every device. A table row we delete does that without extra
dependencies; a signed cookie stays valid until it expires unless we keep a table anyway. Only the
SHA-256 of the cookie is stored, so a copy of the database does not hold usable sessions.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

from handoff.auth import hash_password, password_hash_of, password_matches
from models import ConsoleSession, User

COOKIE = "cc_console"
LOGIN_CSRF_COOKIE = "cc_console_login"
MIN_PASSWORD_CHARS = 10
# Refreshing expiry on every request would write on every click; once a few minutes is enough.
TOUCH_EVERY = timedelta(minutes=5)
# Verified when the e-mail is unknown, so a wrong address costs the same time as a wrong password.
_DUMMY_HASH = hash_password(secrets.token_urlsafe(16))


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def same(a: str, b: str) -> bool:
    return bool(a) and bool(b) and hmac.compare_digest(a.encode(), b.encode())


async def authenticate(*, email: str, password: str) -> User | None:
    user = await User.get_or_none(email=email.strip().lower())
    if user is None or not user.active:
        await password_matches(_DUMMY_HASH, password)
        return None
    return user if await password_matches(user.password_hash, password) else None


async def start_session(*, user: User, now: datetime, ttl: timedelta) -> tuple[ConsoleSession, str]:
    """A new session for this browser; returns it with the raw cookie value (never stored)."""
    raw = secrets.token_urlsafe(32)
    session = await ConsoleSession.create(
        user=user, token_hash=digest(raw), csrf_token=secrets.token_urlsafe(32),
        session_version=user.session_version, last_seen_at=now, expires_at=now + ttl,
    )
    return session, raw


async def load_session(*, raw: str, now: datetime, ttl: timedelta) -> tuple[ConsoleSession, User] | None:
    if not 20 <= len(raw) <= 100:
        return None
    session = await ConsoleSession.get_or_none(token_hash=digest(raw))
    if session is None:
        return None
    user = await User.get_or_none(id=session.user_id)
    if (user is None or not user.active or session.expires_at <= now
            or session.session_version != user.session_version):
        await session.delete()
        return None
    if now - session.last_seen_at > TOUCH_EVERY:
        session.last_seen_at = now
        session.expires_at = now + ttl
        await session.save(update_fields=["last_seen_at", "expires_at"])
    return session, user


async def end_session(*, raw: str) -> None:
    await ConsoleSession.filter(token_hash=digest(raw)).delete()


class PasswordProblemError(ValueError):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


async def change_password(*, user: User, current: str, new: str, confirm: str) -> User:
    """Sign out everywhere: the version bump invalidates every session, including ones not in the table."""
    if not await password_matches(user.password_hash, current):
        raise PasswordProblemError("password_wrong_current")
    if new != confirm:
        raise PasswordProblemError("password_mismatch")
    if len(new) < MIN_PASSWORD_CHARS:
        raise PasswordProblemError("password_too_short")
    if new == current:
        raise PasswordProblemError("password_same")
    user.password_hash = await password_hash_of(new)
    user.session_version += 1
    user.must_change_password = False
    await user.save(update_fields=["password_hash", "session_version", "must_change_password"])
    await ConsoleSession.filter(user_id=user.id).delete()
    return user
