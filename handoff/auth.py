"""Passwords (argon2) and API tokens (random, stored as SHA-256)."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from models import ApiToken, User, UserRole

_hasher = PasswordHasher()
TOKEN_PREFIX = "cc_"  # noqa: S105 - a prefix that makes leaked tokens easy to spot, not a secret


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


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
        password_hash=hash_password(password),
        must_change_password=must_change_password,
    )


def _digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


async def create_api_token(*, name: str, role: UserRole, user: User | None = None) -> tuple[ApiToken, str]:
    """A token bound to ``user`` may act on tickets as that user; it never gets more than the user's role."""
    if user is not None:
        role = user.role
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = await ApiToken.create(name=name, role=role, token_hash=_digest(raw), user=user)
    return token, raw


async def authenticate_token(raw: str) -> ApiToken | None:
    token = await ApiToken.get_or_none(token_hash=_digest(raw), revoked_at=None)
    if token is not None:
        token.last_used_at = datetime.now(UTC)
        await token.save(update_fields=["last_used_at"])
    return token
