"""The app through HTTP: web chat, health, body limits, and the API with its tokens."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from bot.app import FLOW, REGISTRY, Role, create_app, follow_active_model
from bot.channels.webchat import WebChatChannel
from bot.config import Settings
from bot.conversation.deps import FlowDeps
from bot.demo import DEMO_DIRECTORY
from bot.directory import DatabaseDirectory, import_records
from handoff.auth import create_api_token
from handoff.delivery import ChannelRegistry
from models import ChannelKind, Ticket, UserRole
from nlp.classifier import Classifier, shipped_model_bytes
from nlp.model import LinearTextModel
from nlp.store import ModelStore
from tests.conftest import ScriptedClassifier, greeting

ClientFactory = Callable[..., Awaitable[TestClient[Any, Any]]]


@pytest.fixture
async def client(aiohttp_client: ClientFactory, db_url: str, tmp_path: Path) -> TestClient[Any, Any]:
    settings = Settings(data_dir=tmp_path, database_url=db_url)
    app = create_app(settings, classifier=ScriptedClassifier(), scheduler=False)
    test_client = await aiohttp_client(app)
    await import_records(DEMO_DIRECTORY)
    return test_client


async def chat(client: TestClient[Any, Any], text: str, message_id: str) -> int:
    response = await client.post("/chat/messages", json={"id": message_id, "text": text})
    return response.status


async def test_healthz_answers_with_version(client: TestClient[Any, Any]) -> None:
    response = await client.get("/healthz")
    assert response.status == 200
    assert (await response.json())["status"] == "ok"


async def test_chat_page_sets_an_httponly_session_cookie(client: TestClient[Any, Any]) -> None:
    response = await client.get("/chat")
    assert response.status == 200
    cookie = response.cookies["cc_chat"]
    assert cookie["httponly"]
    assert cookie["samesite"] == "Lax"
    assert "Care Center Edunex ITB" in await response.text()


async def test_chat_page_in_english(client: TestClient[Any, Any]) -> None:
    response = await client.get("/chat?lang=en")
    assert "Write a message" in await response.text()


async def test_a_web_process_answers_the_web_chat_in_line_through_the_channel_registry(
    aiohttp_client: ClientFactory, db_url: str, tmp_path: Path
) -> None:
    """``serve --no-worker`` runs no provider turn, yet the web chat's POST still returns with its replies in
    the history: the web chat is a registered channel whose messages take the one door in-line."""
    app = create_app(Settings(data_dir=tmp_path, database_url=db_url), classifier=ScriptedClassifier(),
                     scheduler=False, role=Role.WEB)
    client = await aiohttp_client(app)
    assert isinstance(app[REGISTRY].get(ChannelKind.WEBCHAT), WebChatChannel)
    await client.get("/chat")
    assert await chat(client, "halo", "m-web-0001") == 202
    history = await (await client.get("/chat/history")).json()
    assert [(m["sender"], m["text"]) for m in history["messages"]] == [("user", "halo"), ("bot", greeting("id"))]


async def test_whole_conversation_over_http_and_ticket_in_api(client: TestClient[Any, Any]) -> None:
    await client.get("/chat")
    assert await chat(client, "halo", "m-00000001") == 202
    assert await chat(client, "13521045 lupa password", "m-00000002") == 202
    assert await chat(client, "2", "m-00000003") == 202  # not helpful: the next suggestion or a person
    assert await chat(client, "2", "m-00000004") == 202  # a person
    history = await (await client.get("/chat/history")).json()
    senders = [m["sender"] for m in history["messages"]]
    assert senders[0] == "user"
    assert "bot" in senders
    assert "CC-" in history["messages"][-1]["text"]

    _, raw = await create_api_token(name="test", role=UserRole.SUPERVISOR)
    auth = {"Authorization": f"Bearer {raw}"}
    listing = await (await client.get("/api/v1/tickets?status=open&channel=webchat", headers=auth)).json()
    assert listing["total"] == 1
    ticket = listing["items"][0]
    assert ticket["category"] == "reset-password"
    assert ticket["contact"] == {
        "id": ticket["contact"]["id"],
        # A NIM typed in the web chat is a claim (issue 13): the ticket's contact is the chat's own.
        "id_number": None,
        "name": "",
        "role": "other",
        "verified": False,
    }
    one = await (await client.get(f"/api/v1/tickets/{ticket['id']}", headers=auth)).json()
    assert one["number"] == ticket["number"]
    messages = await (
        await client.get(f"/api/v1/conversations/{ticket['conversation_id']}/messages", headers=auth)
    ).json()
    said = [m["text"] for m in messages["items"] if m["sender"] == "user"]
    assert said == ["halo", "13521045 lupa password", "2", "2"]


async def test_retried_chat_message_is_stored_once(client: TestClient[Any, Any]) -> None:
    await client.get("/chat")
    assert await chat(client, "halo", "same-id-123") == 202
    assert await chat(client, "halo", "same-id-123") == 202
    history = await (await client.get("/chat/history")).json()
    assert [m["text"] for m in history["messages"] if m["sender"] == "user"] == ["halo"]


async def test_chat_without_session_is_refused(client: TestClient[Any, Any]) -> None:
    response = await client.post("/chat/messages", json={"text": "halo"})
    assert response.status == 401


async def test_chat_message_of_10000_characters_is_accepted_and_longer_refused(client: TestClient[Any, Any]) -> None:
    await client.get("/chat")
    assert await chat(client, "a" * 10_000, "long-00001") == 202
    response = await client.post("/chat/messages", json={"id": "long-00002", "text": "a" * 10_001})
    assert response.status == 413
    assert "10.000" in (await response.json())["message"]


async def test_invalid_utf8_and_malformed_json_get_400(client: TestClient[Any, Any]) -> None:
    await client.get("/chat")
    response = await client.post(
        "/chat/messages", data=b'{"text": "\xff\xfe"}', headers={"Content-Type": "application/json"}
    )
    assert response.status == 400
    response = await client.post("/chat/messages", data=b"not json", headers={"Content-Type": "application/json"})
    assert response.status == 400
    response = await client.post("/chat/messages", json={"text": 42})
    assert response.status == 400


async def test_body_over_one_mebibyte_is_413(client: TestClient[Any, Any]) -> None:
    await client.get("/chat")
    response = await client.post(
        "/chat/messages", data=io.BytesIO(b"x" * (1024 * 1024 + 1)), headers={"Content-Type": "application/json"}
    )
    assert response.status == 413


async def test_websocket_round_trip(client: TestClient[Any, Any]) -> None:
    await client.get("/chat")
    async with client.ws_connect("/chat/ws") as ws:
        await ws.send_str(json.dumps({"type": "message", "id": "ws-0000001", "text": "halo"}))
        kinds = []
        texts = []
        while len(texts) < 1:  # the one greeting message
            data = await ws.receive_json(timeout=5)
            kinds.append(data["type"])
            if data["type"] == "message":
                texts.append(data["message"]["text"])
        assert texts[0].startswith("Halo!")
        await ws.send_str("{broken")
        while (data := await ws.receive_json(timeout=5))["type"] != "error":
            pass
        assert data["error"] == "bad_request"


async def test_websocket_from_another_origin_is_refused(client: TestClient[Any, Any]) -> None:
    await client.get("/chat")
    response = await client.get(
        "/chat/ws",
        headers={
            "Origin": "https://evil.example",
            "Connection": "Upgrade",
            "Upgrade": "websocket",
            "Sec-WebSocket-Version": "13",
            "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
        },
    )
    assert response.status == 403


@pytest.mark.parametrize("header", [None, "Bearer wrong", "Basic abc", "Bearer "])
async def test_api_refuses_missing_or_wrong_token(client: TestClient[Any, Any], header: str | None) -> None:
    headers = {"Authorization": header} if header is not None else {}
    response = await client.get("/api/v1/tickets", headers=headers)
    assert response.status == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


async def test_api_validates_filters(client: TestClient[Any, Any]) -> None:
    _, raw = await create_api_token(name="t", role=UserRole.AGENT)
    auth = {"Authorization": f"Bearer {raw}"}
    for query in ("status=nope", "channel=fax", "since=yesterday", "limit=0", "limit=abc"):
        response = await client.get(f"/api/v1/tickets?{query}", headers=auth)
        assert response.status == 400, query
    assert (await client.get("/api/v1/tickets/abc", headers=auth)).status == 404
    assert (await client.get("/api/v1/tickets/999", headers=auth)).status == 404
    # A moment with its offset is a valid since (relative to today: a period is at most 366 days long).
    since = (datetime.now(UTC) - timedelta(days=30)).astimezone(timezone(timedelta(hours=7))).isoformat()
    response = await client.get(f"/api/v1/tickets?since={quote(since)}", headers=auth)
    assert response.status == 200


async def test_openapi_document_is_public_and_lists_paths(client: TestClient[Any, Any]) -> None:
    document = await (await client.get("/api/v1/openapi.json")).json()
    assert document["openapi"].startswith("3.")
    # The console adds the ticket actions (tests/handoff/console/test_api_actions.py checks those).
    assert {"/tickets", "/tickets/{id}", "/conversations/{id}/messages"} <= set(document["paths"])


async def test_fresh_database_is_seeded_once(client: TestClient[Any, Any]) -> None:
    from models import AnswerTemplate, Category, User

    assert await Category.all().count() == 13
    assert await AnswerTemplate.all().count() == 26
    supervisor = await User.get()
    assert (supervisor.role, supervisor.must_change_password) == (UserRole.SUPERVISOR, True)
    assert await Ticket.all().count() == 0


async def test_english_page_gets_english_answers(client: TestClient[Any, Any]) -> None:
    await client.get("/chat?lang=en")
    response = await client.post("/chat/messages?lang=en", json={"id": "en-0000001", "text": "halo"})
    assert response.status == 202
    history = await (await client.get("/chat/history")).json()
    assert history["messages"][1]["text"].startswith("Hello!")


async def test_a_worker_process_follows_the_classifier_a_supervisor_activates_or_restores(tmp_path: Path) -> None:
    app = web.Application()
    scripted = ScriptedClassifier()
    app[FLOW] = FlowDeps(registry=ChannelRegistry(), classifier=scripted, directory=DatabaseDirectory())
    following = follow_active_model(app, model_dir=tmp_path, interval=0.02)
    await anext(following)

    async def reloaded(since: object) -> object:
        for _ in range(500):
            if app[FLOW].classifier is not since:
                return app[FLOW].classifier
            await asyncio.sleep(0.01)
        raise AssertionError("the worker did not load the active model")

    # What the console's Activate and Restore do, in another process: change the store on disk.
    store = ModelStore(tmp_path)
    store.activate(store.save(LinearTextModel.from_bytes(shipped_model_bytes()), note="retrained"))
    activated = await reloaded(scripted)
    await asyncio.sleep(0.1)
    assert app[FLOW].classifier is activated  # loaded once, not on every check
    store.restore_previous()
    assert isinstance(await reloaded(activated), Classifier)
    with pytest.raises(StopAsyncIteration):
        await anext(following)
