"""Issue 10: one web-chat post must not hold the event loop. Ten anonymous 10 kB posts of word characters
stalled every endpoint for 13.9 s, because the identity parser's e-mail pattern was quadratic in a run of
word characters. Measured against a short message posted in the same run (tests/complexity.py: CPU time of the
loop's thread in one go, wide bound), not as a speed figure."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from bot.app import create_app
from bot.channels.base import MAX_STORED_CHARS
from bot.config import Settings
from bot.conversation.ingest import FULL_TEXT_POSITION
from bot.demo import DEMO_DIRECTORY
from bot.directory import import_records
from models import Attachment, Message
from tests.complexity import LoopWatch
from tests.conftest import ScriptedClassifier

ClientFactory = Callable[..., Awaitable[TestClient[Any, Any]]]


@pytest.fixture
async def client(aiohttp_client: ClientFactory, db_url: str, tmp_path: Path) -> TestClient[Any, Any]:
    app = create_app(Settings(data_dir=tmp_path, database_url=db_url), classifier=ScriptedClassifier(),
                     scheduler=False)
    test_client = await aiohttp_client(app)
    await import_records(DEMO_DIRECTORY)
    return test_client


async def post_as_new_visitor(client: TestClient[Any, Any], text: str, message_id: str) -> int:
    """A first message of a new session: the one the bot parses for an identity."""
    client.session.cookie_jar.clear()
    await client.get("/chat")
    response = await client.post("/chat/messages", json={"id": message_id, "text": text})
    return response.status


@pytest.mark.parametrize(
    ("text", "cut"),
    [("_" * 10_000, True), ("1" * 10_000, True), ("_" * MAX_STORED_CHARS, False), ("1" * MAX_STORED_CHARS, False),
     ("a." * (MAX_STORED_CHARS // 2), False)],
    ids=["underscores", "digits", "underscores-stored-whole", "digits-stored-whole", "dotted"],
)
async def test_a_long_run_of_word_characters_does_not_hold_the_event_loop(
    client: TestClient[Any, Any], text: str, cut: bool
) -> None:
    # The baseline takes the same road as a cut message (a hand-off), once before watching: the first
    # hand-off of a process computes the year's public holidays, a one-off cost unrelated to length.
    assert await post_as_new_visitor(client, "agent", "bounds-warm0") == 202
    async with LoopWatch() as usual:
        assert await post_as_new_visitor(client, "agent", "bounds-usual") == 202
    async with LoopWatch() as long:
        assert await post_as_new_visitor(client, text, "bounds-long01") == 202
    assert long.longest <= 10 * usual.longest + 0.1, (long.longest, usual.longest)
    stored = await Message.get(provider_message_id__endswith=":bounds-long01")
    assert stored.text == text[:MAX_STORED_CHARS]
    assert await Attachment.exists(message_id=stored.id, position=FULL_TEXT_POSITION) == cut
    assert stored.processed_at is not None


async def test_a_lone_surrogate_from_json_is_stored_not_a_server_error(client: TestClient[Any, Any]) -> None:
    """JSON may name a lone surrogate ("\\ud800"); no database stores one, so the anonymous post was a 500."""
    await client.get("/chat")
    response = await client.post("/chat/messages", data=b'{"id": "surrogate-01", "text": "nilai \\ud800 saya"}',
                                 headers={"Content-Type": "application/json"})
    assert response.status == 202
    stored = await Message.get(provider_message_id__endswith=":surrogate-01")
    assert stored.text == "nilai \ufffd saya"
