"""The provider stand-ins, one fixture each, on 127.0.0.1 port 0."""

from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from bot.app import INBOUND
from tests.fakes.listener import listener
from tests.fakes.mail import dovecot, smtp_sink
from tests.fakes.telegram import fake_telegram
from tests.fakes.twilio import fake_twilio

__all__ = ["dovecot", "fake_telegram", "fake_twilio", "listener", "smtp_sink"]


@pytest.fixture(autouse=True)
def _ptb_timedelta(monkeypatch: pytest.MonkeyPatch) -> None:
    # PTB 22 warns (an error under -W error) whenever a RetryAfter is built unless the future timedelta
    # behaviour is opted into; the channel reads retry_after in both forms.
    monkeypatch.setenv("PTB_TIMEDELTA", "true")


async def poll(app: web.Application, channel: Any) -> int:
    """One IMAP poll and the turns it queued: polling stores each mail, its turn runs in the inbound worker."""
    count: int = await channel.poll_once()
    await app[INBOUND].idle()
    return count


async def settle(client: TestClient[Any, Any]) -> None:
    """Wait for the turns raw webhook posts queued (the webhook answers once a message is stored)."""
    assert client.app is not None
    await client.app[INBOUND].idle()
