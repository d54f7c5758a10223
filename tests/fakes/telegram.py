"""A loopback stand-in for the Telegram Bot API, driven by the real python-telegram-bot.

Every request is checked against the Bot API specification (../shared/specs/telegram/bot_api.json): an
unknown method, an unknown parameter, a missing required one or a wrongly typed value is answered with
400 as Telegram would, and recorded in ``violations`` so the fixture fails the test at teardown.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web

from tests.fakes.spec import check_telegram_request

BOT_ID = 7000001
BOT_USERNAME = "carecenter_test_bot"


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    at: float
    status: int
    result: Any = None


@dataclass
class Upload:
    """A file the product uploaded (sendDocument, sendPhoto), as the fake received it."""

    filename: str
    content_type: str
    data: bytes


@dataclass
class Failure:
    status: int
    description: str
    retry_after: int | None = None
    delay: float = 0.0  # seconds to hang before answering (a timeout, seen from the client)


@dataclass
class FakeTelegram:
    base_url: str = ""
    calls: list[Call] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    webhook: dict[str, Any] = field(default_factory=dict)
    pending_updates: list[dict[str, Any]] = field(default_factory=list)
    # Files users "sent", by file_id: (bytes, file_path); and every download of one, by file_path.
    files: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    downloads: list[str] = field(default_factory=list)
    _failures: dict[str, list[Failure]] = field(default_factory=dict)
    _message_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1000))
    _update_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(500_000))

    # -- scripting ----------------------------------------------------------------------------------

    def fail(self, method: str, status: int, description: str, *, retry_after: int | None = None,
             times: int = 1, delay: float = 0.0) -> None:
        self._failures.setdefault(method, []).extend(
            Failure(status, description, retry_after, delay) for _ in range(times)
        )

    def ok_calls(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method and c.status == 200]

    def texts(self, chat_id: int | None = None) -> list[str]:
        return [
            str(c.params["text"])
            for c in self.ok_calls("sendMessage")
            if chat_id is None or int(c.params["chat_id"]) == chat_id
        ]

    def add_file(self, data: bytes, *, name: str, file_path: str | None = None) -> str:
        """A file on Telegram's servers; returns its file_id (getFile then serves it). ``file_path`` is what
        getFile answers, when a test plays a Bot API server answering something else."""
        file_id = f"FILE{len(self.files) + 1:04d}"
        self.files[file_id] = (data, file_path if file_path is not None else f"documents/{file_id}-{name}")
        return file_id

    def uploads(self, method: str) -> list[Upload]:
        field_name = {"sendDocument": "document", "sendPhoto": "photo"}[method]
        return [c.params[field_name] for c in self.ok_calls(method)]

    # -- updates the "user" sends -------------------------------------------------------------------

    def message_update(self, chat_id: int, text: str | None, *, chat_type: str = "private",
                       first_name: str = "Ana", extra: dict[str, Any] | None = None,
                       kind: str = "message") -> dict[str, Any]:
        message: dict[str, Any] = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": chat_type, **({"first_name": first_name} if chat_type == "private"
                                                          else {"title": "Kelas"})},
            "from": {"id": chat_id if chat_type == "private" else 99, "is_bot": False, "first_name": first_name},
        }
        if text is not None:
            message["text"] = text
        message.update(extra or {})
        return {"update_id": next(self._update_ids), kind: message}

    def callback_update(self, chat_id: int, data: str, *, message_id: int) -> dict[str, Any]:
        return {
            "update_id": next(self._update_ids),
            "callback_query": {
                "id": f"cbq{next(self._message_ids)}",
                "chat_instance": "ci-1",
                "data": data,
                "from": {"id": chat_id, "is_bot": False, "first_name": "Ana"},
                "message": {
                    "message_id": message_id,
                    "date": int(time.time()),
                    "chat": {"id": chat_id, "type": "private", "first_name": "Ana"},
                    "text": "Apakah jawaban ini membantu?",
                },
            },
        }

    def last_message_with_keyboard(self, chat_id: int) -> Call:
        for call in reversed(self.ok_calls("sendMessage")):
            if int(call.params["chat_id"]) == chat_id and "reply_markup" in call.params:
                return call
        raise AssertionError("no message with a keyboard was sent")

    # -- the Bot API --------------------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params: dict[str, Any] = dict(await request.post())
        problem = check_telegram_request(method, params)
        params = {
            k: Upload(v.filename, v.content_type, v.file.read()) if isinstance(v, web.FileField) else v
            for k, v in params.items()
        }
        if problem is not None:
            self.violations.append(problem)
            self.calls.append(Call(method, params, time.monotonic(), 400))
            return web.json_response({"ok": False, "error_code": 400, "description": f"Bad Request: {problem}"},
                                     status=400)
        failures = self._failures.get(method)
        if failures:
            failure = failures.pop(0)
            if failure.delay:
                await asyncio.sleep(failure.delay)
            self.calls.append(Call(method, params, time.monotonic(), failure.status))
            body: dict[str, Any] = {"ok": False, "error_code": failure.status, "description": failure.description}
            if failure.retry_after is not None:
                body["parameters"] = {"retry_after": failure.retry_after}
            return web.json_response(body, status=failure.status)
        call = Call(method, params, time.monotonic(), 200)
        self.calls.append(call)
        call.result = await self._result(method, params)
        if call.result is None:  # getFile of an unknown file_id, as Telegram answers it
            call.status = 400
            return web.json_response({"ok": False, "error_code": 400, "description": "Bad Request: invalid file_id"},
                                     status=400)
        return web.json_response({"ok": True, "result": call.result})

    async def download(self, request: web.Request) -> web.Response:
        """GET /file/bot<token>/<file_path>: the link getFile's answer leads to."""
        path = request.match_info["path"]
        self.downloads.append(path)
        for data, file_path in self.files.values():
            if file_path == path:
                return web.Response(body=data, content_type="application/octet-stream")
        return web.Response(status=404, text="Not Found")

    async def _result(self, method: str, params: dict[str, Any]) -> Any:
        if method == "getMe":
            return {"id": BOT_ID, "is_bot": True, "first_name": "Care Center", "username": BOT_USERNAME}
        if method == "sendMessage":
            result: dict[str, Any] = {
                "message_id": next(self._message_ids),
                "date": int(time.time()),
                "chat": {"id": int(params["chat_id"]), "type": "private", "first_name": "Ana"},
                "from": {"id": BOT_ID, "is_bot": True, "first_name": "Care Center"},
                "text": params["text"],
            }
            return result
        if method in ("sendDocument", "sendPhoto"):
            upload = params["document" if method == "sendDocument" else "photo"]
            sent: dict[str, Any] = {
                "message_id": next(self._message_ids),
                "date": int(time.time()),
                "chat": {"id": int(params["chat_id"]), "type": "private", "first_name": "Ana"},
                "from": {"id": BOT_ID, "is_bot": True, "first_name": "Care Center"},
            }
            unique = f"U{next(self._message_ids)}"
            if method == "sendPhoto":
                sent["photo"] = [{"file_id": f"P{unique}", "file_unique_id": unique, "width": 640, "height": 480,
                                  "file_size": len(upload.data)}]
            else:
                sent["document"] = {"file_id": f"D{unique}", "file_unique_id": unique, "file_name": upload.filename,
                                    "mime_type": upload.content_type, "file_size": len(upload.data)}
            return sent
        if method == "getFile":
            found = self.files.get(str(params["file_id"]))
            if found is None:
                return None
            return {"file_id": params["file_id"], "file_unique_id": f"u-{params['file_id']}",
                    "file_size": len(found[0]), "file_path": found[1]}
        if method == "editMessageReplyMarkup":
            return {"message_id": int(params["message_id"]), "date": int(time.time()),
                    "chat": {"id": int(params["chat_id"]), "type": "private", "first_name": "Ana"}}
        if method == "setWebhook":
            self.webhook = params
            return True
        if method == "getUpdates":
            if self.pending_updates:
                updates, self.pending_updates = self.pending_updates, []
                return updates
            await asyncio.sleep(0.05)
            return []
        # answerCallbackQuery, deleteWebhook...: success without data
        return True


@pytest.fixture
async def fake_telegram() -> AsyncIterator[FakeTelegram]:
    fake = FakeTelegram()
    api = web.Application()
    api.router.add_post("/bot{token}/{method}", fake.handle)
    api.router.add_get("/file/bot{token}/{path:.+}", fake.download)
    runner = web.AppRunner(api)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    fake.base_url = f"http://127.0.0.1:{port}/bot"
    try:
        yield fake
    finally:
        await runner.cleanup()
    assert fake.violations == [], "requests the real Bot API would reject"
