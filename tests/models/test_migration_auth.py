"""Upgrading a database from 0010 with an API token and a user in it: the token keeps working (no expiry)
and the sign-in throttle's table is there, on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from tortoise.context import TortoiseContext
from tortoise.migrations.api import migrate

from handoff.auth import authenticate_token
from handoff.login_throttle import LoginLimiter
from models import ApiToken, LoginThrottle, UserRole, open_database
from models.db import run_migrations, tortoise_config
from tests.models.test_migrations import empty_db_url, raw_sql

__all__ = ["empty_db_url"]

BEFORE = "models.0010_live_events"
RAW = "cc_upgraded-token-secret"
SEED = f"""
INSERT INTO users (email, name, role, password_hash, active, session_version, must_change_password, capacity,
                   available, created_at)
VALUES ('ana@cc.test', 'Ana', 'supervisor', 'x', TRUE, 1, FALSE, 10, FALSE, '2026-11-20 01:00:00+00:00');
INSERT INTO api_tokens (name, role, token_hash, user_id, created_at, last_used_at, revoked_at)
VALUES ('crm', 'supervisor', '{hashlib.sha256(RAW.encode()).hexdigest()}',
        (SELECT id FROM users), '2026-11-20 01:00:00+00:00', NULL, NULL);
"""


async def test_a_token_from_before_0011_still_works_after_the_upgrade(empty_db_url: str) -> None:
    async with TortoiseContext():
        await migrate(config=tortoise_config(empty_db_url), target=BEFORE)
    async with raw_sql(empty_db_url) as connection:
        await connection.execute_script(SEED)
    await run_migrations(empty_db_url)
    database = await open_database(empty_db_url)
    try:
        token = await ApiToken.get(name="crm")
        assert token.expires_at is None
        caller = await authenticate_token(RAW, now=datetime.now(UTC))
        assert caller.role == UserRole.SUPERVISOR
        attempt = await LoginLimiter().attempt(email="ana@cc.test", address="198.51.100.7", now=datetime.now(UTC))
        assert attempt.wait.total_seconds() == 0
        assert await LoginThrottle.all().count() == 2  # the pair and the address
    finally:
        await database.close()
