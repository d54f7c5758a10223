"""The Procfile's split, for real: ``serve --no-worker`` keeps the webhooks' receipts and runs no turn, and
a ``carecenter worker`` process (the real command, in a process of its own) stores and answers them."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient

from bot.app import INBOUND, LIVE, Role, create_app
from bot.config import Settings
from models import Direction, InboxEntry, Message, Ticket
from tests.conftest import ScriptedClassifier
from tests.fakes.twilio import ACCOUNT_SID, AUTH_TOKEN, SENDER, FakeTwilio, fake_twilio

__all__ = ["fake_twilio"]

ROOT = Path(__file__).resolve().parents[2]
WEBHOOK = "/webhooks/twilio/whatsapp"
USERS = [f"whatsapp:+6281200000{n:03d}" for n in range(3)]


async def until(condition: Callable[[], Awaitable[bool]], seconds: float = 60) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not await condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached")
        await asyncio.sleep(0.1)


async def test_the_web_process_keeps_receipts_and_the_worker_process_answers_them(
    aiohttp_client: Callable[..., Awaitable[TestClient[Any, Any]]], db_url: str, tmp_path: Path,
    fake_twilio: FakeTwilio,
) -> None:
    settings = Settings(
        data_dir=tmp_path, database_url=db_url, public_url=fake_twilio.public_url, twilio_account_sid=ACCOUNT_SID,
        twilio_auth_token=AUTH_TOKEN, twilio_whatsapp_from=SENDER, twilio_api_base_url=fake_twilio.base_url,
    )
    client = await aiohttp_client(create_app(settings, classifier=ScriptedClassifier(), scheduler=False, role=Role.WEB))
    forms = []
    for user in USERS:
        fake_twilio.last_inbound[user] = datetime.now(UTC).timestamp()
        forms.append(fake_twilio.inbound_form(user, "halo"))
    for form in [*forms, forms[0]]:  # one delivered twice
        response = await fake_twilio.post_signed(client, f"{fake_twilio.public_url}{WEBHOOK}", form)
        assert response.status == 200
    assert client.app is not None
    await client.app[INBOUND].idle()
    # The web process ran no turn: three receipts, no message, no reply.
    assert await InboxEntry.filter(stored_at=None).count() == len(USERS)
    assert await Message.all().count() == 0
    assert fake_twilio.messages == []

    env = {
        **os.environ, "PYTHONPATH": str(ROOT), "DATA_DIR": str(tmp_path / "worker"), "DATABASE_URL": db_url,
        "PUBLIC_URL": fake_twilio.public_url, "TWILIO_ACCOUNT_SID": ACCOUNT_SID, "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_WHATSAPP_FROM": SENDER, "TWILIO_API_BASE_URL": fake_twilio.base_url,
    }
    worker = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "worker", env=env, cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    try:
        async def answered() -> bool:
            return all(len(fake_twilio.bodies(user)) >= 1 for user in USERS)  # the one greeting

        await until(answered)
        # A receipt kept while the worker runs reaches it too, without a restart.
        late = "whatsapp:+6281200000099"
        fake_twilio.last_inbound[late] = datetime.now(UTC).timestamp()
        response = await fake_twilio.post_signed(
            client, f"{fake_twilio.public_url}{WEBHOOK}", fake_twilio.inbound_form(late, "halo")
        )
        assert response.status == 200

        async def late_answered() -> bool:
            return len(fake_twilio.bodies(late)) >= 1

        await until(late_answered)

        # A hand-off in the worker reaches the web process's consoles (handoff.relay).
        live = client.app[LIVE].subscribe()
        response = await fake_twilio.post_signed(
            client, f"{fake_twilio.public_url}{WEBHOOK}", fake_twilio.inbound_form(late, "mau bicara dengan agen")
        )
        assert response.status == 200
        event = await asyncio.wait_for(live.get(), 30)
        ticket = await Ticket.get()
        assert (event.name, event.data) == ("ticket.opened", {"ticket_id": ticket.id})
    finally:
        worker.send_signal(signal.SIGINT)
        out, err = await asyncio.wait_for(worker.communicate(), 30)
    assert worker.returncode == 0, err.decode()
    assert "worker running" in out.decode()
    # Each message stored once and answered once, and every receipt marked stored.
    assert await Message.filter(direction=Direction.INBOUND).count() == len(USERS) + 2
    assert [len(fake_twilio.bodies(user)) for user in USERS] == [1, 1, 1]  # the one greeting each
    assert await InboxEntry.filter(stored_at=None).count() == 0
