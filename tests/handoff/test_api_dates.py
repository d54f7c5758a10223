"""The API's ``since=`` means the moment it names, whatever offset it is written with."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import pytest
from aiohttp.test_utils import TestClient

from bot.app import FLOW, create_app
from bot.channels.base import InboundMessage
from bot.channels.memory import MemoryChannel
from bot.config import Settings
from bot.conversation.inline import handle_inbound
from handoff.auth import create_api_token
from handoff.tickets import open_ticket
from models import ChannelKind, Conversation, HandoffReason, UserRole
from tests.conftest import ScriptedClassifier

ClientFactory = Callable[..., Awaitable[TestClient[Any, Any]]]
WIB = ZoneInfo("Asia/Jakarta")


@pytest.fixture
async def client(aiohttp_client: ClientFactory, db_url: str, tmp_path: Path) -> TestClient[Any, Any]:
    # A fixed clock: the list covers at most 366 days up to now, and these tickets are dated November 2026.
    app = create_app(Settings(data_dir=tmp_path, database_url=db_url), classifier=ScriptedClassifier(),
                     channels=[MemoryChannel(kind=ChannelKind.TELEGRAM)], scheduler=False,
                     clock=lambda: datetime(2026, 11, 25, 5, 0, tzinfo=UTC))
    return await aiohttp_client(app)


async def ticket_opened(client: TestClient[Any, Any], user: str, opened: datetime) -> int:
    assert client.app is not None
    await handle_inbound(InboundMessage(channel=ChannelKind.TELEGRAM, external_id=user, provider_message_id=user,
                                        text="halo", received_at=opened), client.app[FLOW])
    conversation = await Conversation.get(identity__external_id=user)
    # As the product opens tickets: its clock is UTC.
    ticket = await open_ticket(conversation=conversation, reason=HandoffReason.USER_REQUEST, now=opened.astimezone(UTC))
    return ticket.id


@pytest.mark.parametrize("since", ["2026-11-24T00:00:00+07:00", "2026-11-23T17:00:00Z", "2026-11-23T12:00:00-05:00"])
async def test_since_with_any_offset_lists_the_tickets_opened_after_that_moment(
    client: TestClient[Any, Any], since: str
) -> None:
    before = await ticket_opened(client, "1", datetime(2026, 11, 23, 23, 50, tzinfo=WIB))
    night = await ticket_opened(client, "2", datetime(2026, 11, 24, 0, 30, tzinfo=WIB))
    morning = await ticket_opened(client, "3", datetime(2026, 11, 24, 9, 0, tzinfo=WIB))
    _, raw = await create_api_token(name="sync", role=UserRole.SUPERVISOR)

    response = await client.get(f"/api/v1/tickets?since={quote(since)}", headers={"Authorization": f"Bearer {raw}"})

    assert response.status == 200
    listing = await response.json()
    assert [item["id"] for item in listing["items"]] == [morning, night]
    assert listing["total"] == 2
    assert before not in [item["id"] for item in listing["items"]]
