"""The web chat and malformed input: anonymous visitors get 400/404 and error frames, never a 500 or an
error page written into the socket; the socket accepts only its own site's origin."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient

from bot.app import create_app
from bot.config import Settings
from models import Message
from tests.conftest import ScriptedClassifier
from tests.databases import sqlite_url

__all__ = ["sqlite_url"]

ClientFactory = Callable[..., Awaitable[TestClient[Any, Any]]]
DEEP = "[" * 100_000
DEEP_FRAME = "[" * 30_000  # within the socket's frame limit, far past the parser's recursion limit


async def visitor(aiohttp_client: ClientFactory, url: str, tmp_path: Path) -> TestClient[Any, Any]:
    app = create_app(Settings(data_dir=tmp_path, database_url=url), classifier=ScriptedClassifier(),
                     scheduler=False)
    test_client = await aiohttp_client(app)
    assert (await test_client.get("/chat")).status == 200  # the visitor's session cookie
    return test_client


@pytest.fixture
async def client(aiohttp_client: ClientFactory, db_url: str, tmp_path: Path) -> TestClient[Any, Any]:
    return await visitor(aiohttp_client, db_url, tmp_path)


@pytest.fixture
async def sqlite_client(aiohttp_client: ClientFactory, sqlite_url: str, tmp_path: Path) -> TestClient[Any, Any]:
    """For the socket's origin checks: they hold the same on any database."""
    return await visitor(aiohttp_client, sqlite_url, tmp_path)


def origin(client: TestClient[Any, Any], scheme: str = "http") -> str:
    return f"{scheme}://{client.host}:{client.port}"


@pytest.mark.parametrize("body", [DEEP, '{"text": ' * 5000 + '"x"' + "}" * 5000, '{"text": NaN}', "\ud800"])
async def test_a_body_that_is_no_json_object_is_a_400(
    client: TestClient[Any, Any], body: str, caplog: pytest.LogCaptureFixture
) -> None:
    response = await client.post("/chat/messages", data=body.encode("utf-8", "surrogatepass"),
                                 headers={"Content-Type": "application/json"})
    assert response.status == 400
    assert (await response.json())["error"] == "bad_request"
    assert await Message.all().count() == 0
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.mark.parametrize("attachment", ["99999999999999999999", "²", "٣", "-1", "1e3"])
async def test_an_attachment_id_no_row_can_have_is_a_404(client: TestClient[Any, Any], attachment: str) -> None:
    response = await client.get(f"/chat/attachments/{attachment}")
    assert response.status == 404


async def test_a_deep_frame_gets_an_error_frame_and_the_socket_goes_on(
    client: TestClient[Any, Any], caplog: pytest.LogCaptureFixture
) -> None:
    async with client.ws_connect("/chat/ws", headers={"Origin": origin(client)}) as ws:
        await ws.send_str(DEEP_FRAME)
        error = await ws.receive_json(timeout=10)
        assert (error["type"], error["error"]) == ("error", "bad_request")
        await ws.send_json({"id": "frame-0001", "text": "halo"})
        frames = [await ws.receive_json(timeout=10)]
        while frames[-1]["type"] != "ack":  # the bot's replies come first: the turn runs before the ack
            frames.append(await ws.receive_json(timeout=10))
        assert frames[-1] == {"type": "ack", "id": "frame-0001"}
        assert frames[0]["type"] == "message"
    assert await Message.filter(text="halo").count() == 1
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.mark.parametrize("scheme", ["https", "foo", "ws"])
async def test_the_socket_refuses_the_same_host_under_another_scheme(
    sqlite_client: TestClient[Any, Any], scheme: str
) -> None:
    client = sqlite_client
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await client.ws_connect("/chat/ws", headers={"Origin": origin(client, scheme)})
    assert refused.value.status == 403


async def test_the_socket_refuses_another_port_and_accepts_its_own_origin(sqlite_client: TestClient[Any, Any]) -> None:
    client = sqlite_client
    with pytest.raises(aiohttp.WSServerHandshakeError):
        await client.ws_connect("/chat/ws", headers={"Origin": f"http://{client.host}:{client.port + 1}"})
    async with client.ws_connect("/chat/ws", headers={"Origin": origin(client)}) as ws:
        assert not ws.closed


async def test_with_public_url_the_socket_accepts_that_origin_only(
    aiohttp_client: ClientFactory, sqlite_url: str, tmp_path: Path
) -> None:
    # Behind a proxy the browser's origin is PUBLIC_URL's, not the address the app listens on.
    app = create_app(Settings(data_dir=tmp_path, database_url=sqlite_url, public_url="https://care.example.ac.id"),
                     classifier=ScriptedClassifier(), scheduler=False)
    proxied = await aiohttp_client(app)
    page = await proxied.get("/chat")
    # The cookie is Secure (PUBLIC_URL is https); the proxy would carry it, the test sends it itself.
    cookie = {"Cookie": f"cc_chat={page.cookies['cc_chat'].value}"}
    async with proxied.ws_connect("/chat/ws", headers={"Origin": "https://care.example.ac.id", **cookie}) as ws:
        assert not ws.closed
    for wrong in ("http://care.example.ac.id", origin(proxied), "https://care.example.ac.id:8443"):
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await proxied.ws_connect("/chat/ws", headers={"Origin": wrong, **cookie})
        assert refused.value.status == 403


async def test_text_no_database_stores_is_cleaned_not_a_500(
    client: TestClient[Any, Any], caplog: pytest.LogCaptureFixture
) -> None:
    # PostgreSQL refuses NUL in text; no driver encodes a lone surrogate (both a 500 before, on PostgreSQL).
    response = await client.post("/chat/messages", data=b'{"id": "nul-00000001", "text": "ha\\u0000lo \\ud800"}',
                                 headers={"Content-Type": "application/json"})
    assert response.status == 202
    assert [m.text for m in await Message.filter(sender_kind="user")] == ["halo \ufffd"]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
