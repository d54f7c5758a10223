"""API tokens at /api/v1: every request checks the token's revocation, expiry and its user's state."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from bot.app import create_app
from bot.config import Settings
from handoff.auth import (
    ExpiryError,
    create_api_token,
    create_user,
    parse_expiry,
    revoke_api_token,
)
from models import ApiToken, AuditLog, UserRole
from tests.conftest import ScriptedClassifier

ClientFactory = Callable[..., Awaitable[TestClient[Any, Any]]]
JAKARTA = Settings().tz


@pytest.fixture
async def client(aiohttp_client: ClientFactory, db_url: str, tmp_path: Path) -> TestClient[Any, Any]:
    app = create_app(Settings(data_dir=tmp_path, database_url=db_url), classifier=ScriptedClassifier(),
                     scheduler=False)
    return await aiohttp_client(app)


async def tickets(client: TestClient[Any, Any], raw: str) -> tuple[int, dict[str, Any], str]:
    response = await client.get("/api/v1/tickets", headers={"Authorization": f"Bearer {raw}"})
    return response.status, await response.json(), response.headers.get("WWW-Authenticate", "")


async def test_a_deactivated_users_token_reads_nothing_and_works_again_when_reactivated(
    client: TestClient[Any, Any],
) -> None:
    user = await create_user(email="ana@cc.test", role=UserRole.SUPERVISOR, password="x" * 12)
    _, raw = await create_api_token(name="crm", role=UserRole.AGENT, user=user)
    assert (await tickets(client, raw))[0] == 200
    user.active = False
    await user.save(update_fields=["active"])
    status, body, challenge = await tickets(client, raw)
    assert status == 401
    assert (body["error"], body["reason"]) == ("unauthorized", "user_inactive")
    assert 'error="invalid_token"' in challenge
    user.active = True
    await user.save(update_fields=["active"])
    assert (await tickets(client, raw))[0] == 200


async def test_an_expired_token_is_refused_and_says_so(client: TestClient[Any, Any]) -> None:
    now = datetime.now(UTC)
    _, fresh = await create_api_token(name="fresh", role=UserRole.AGENT, expires_at=now + timedelta(hours=1))
    _, stale = await create_api_token(name="stale", role=UserRole.AGENT, expires_at=now - timedelta(seconds=1))
    assert (await tickets(client, fresh))[0] == 200
    status, body, _ = await tickets(client, stale)
    assert (status, body["reason"], body["detail"]) == (401, "expired", "the token has expired")


async def test_revoked_unknown_and_missing_tokens_are_told_apart_without_naming_anyone(
    client: TestClient[Any, Any],
) -> None:
    token, raw = await create_api_token(name="old", role=UserRole.SUPERVISOR)
    assert await revoke_api_token(token, now=datetime.now(UTC))
    assert not await revoke_api_token(token, now=datetime.now(UTC))  # once is enough
    status, body, _ = await tickets(client, raw)
    assert (status, body["reason"]) == (401, "revoked")
    status, body, _ = await tickets(client, raw[:-4] + "AAAA")
    assert (status, body["reason"]) == (401, "unknown")
    response = await client.get("/api/v1/tickets")
    body = await response.json()
    assert (response.status, body["reason"]) == (401, "missing")
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="carecenter"'
    assert "old" not in str(body)
    assert await AuditLog.filter(action="token.revoke").count() == 1


async def test_last_used_is_recorded_without_a_write_on_every_request(client: TestClient[Any, Any]) -> None:
    token, raw = await create_api_token(name="crm", role=UserRole.AGENT)
    assert token.last_used_at is None
    await tickets(client, raw)
    first = (await ApiToken.get(id=token.id)).last_used_at
    assert first is not None
    await tickets(client, raw)
    assert (await ApiToken.get(id=token.id)).last_used_at == first


def test_expiry_is_a_duration_a_date_or_never() -> None:
    now = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)
    assert parse_expiry("90d", now=now, tz=JAKARTA) == now + timedelta(days=90)
    assert parse_expiry(" 12h ", now=now, tz=JAKARTA) == now + timedelta(hours=12)
    assert parse_expiry("4w", now=now, tz=JAKARTA) == now + timedelta(weeks=4)
    # A date: the token works through that day, local time (midnight WIB is 17:00 UTC the day before).
    assert parse_expiry("2027-01-31", now=now, tz=JAKARTA) == datetime(2027, 1, 31, 17, 0, tzinfo=UTC)
    assert parse_expiry("2027-01-31T08:00:00Z", now=now, tz=JAKARTA) == datetime(2027, 1, 31, 8, 0, tzinfo=UTC)
    assert parse_expiry("", now=now, tz=JAKARTA) is None
    assert parse_expiry("never", now=now, tz=JAKARTA) is None
    for text, code in (("soon", "error_token_expiry_format"), ("2026-11-01", "error_token_expiry_past"),
                       ("0d", "error_token_expiry_past"), ("99999w", "error_token_expiry_far")):
        with pytest.raises(ExpiryError) as problem:
            parse_expiry(text, now=now, tz=JAKARTA)
        assert problem.value.code == code, text
