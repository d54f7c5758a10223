"""Files from the student in the web chat (issue 14): kept under the same store, limits and refusal rows as
the other channels' inbound files, their type read from their bytes; a refused file is named in the answer
and the text always goes through."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient

from bot.app import create_app
from bot.channels.webchat import FORM_SLACK
from bot.config import Settings
from bot.i18n import catalog
from handoff.attachments import MAX_FILES_PER_MESSAGE
from models import Attachment, ChannelKind, Message, SenderKind
from tests.conftest import ScriptedClassifier

ClientFactory = Callable[..., Awaitable[TestClient[Any, Any]]]
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 200
PDF = b"%PDF-1.7\n" + b"1 0 obj\n" * 20
LIMIT = 4096


@pytest.fixture
async def client(aiohttp_client: ClientFactory, db_url: str, tmp_path: Path) -> TestClient[Any, Any]:
    app = create_app(Settings(data_dir=tmp_path, database_url=db_url, max_attachment_bytes=LIMIT),
                     classifier=ScriptedClassifier(), scheduler=False)
    test_client = await aiohttp_client(app)
    assert (await test_client.get("/chat")).status == 200  # the visitor's session cookie
    return test_client


def form(text: str, *files: tuple[str, bytes, str], message_id: str = "0123456789abcdef") -> aiohttp.FormData:
    data = aiohttp.FormData()
    data.add_field("id", message_id)
    data.add_field("text", text)
    for name, body, declared in files:
        data.add_field("file", body, filename=name, content_type=declared)
    return data


async def test_an_image_and_a_pdf_are_kept_on_the_message_and_served_back(
    client: TestClient[Any, Any], tmp_path: Path
) -> None:
    response = await client.post("/chat/files", data=form("ini tangkapan layarnya", ("layar.png", PNG, "image/png"),
                                                          ("krs.pdf", PDF, "application/pdf")))
    assert response.status == 202
    assert (await response.json())["refused"] == []
    message = await Message.get(text="ini tangkapan layarnya")
    assert message.channel == ChannelKind.WEBCHAT
    assert message.sender_kind == SenderKind.USER
    rows = await Attachment.filter(message_id=message.id).order_by("position")
    assert [(r.filename, r.content_type, r.size, r.refused_reason) for r in rows] == [
        ("layar.png", "image/png", len(PNG), None), ("krs.pdf", "application/pdf", len(PDF), None)]
    key = rows[0].storage_key
    assert key is not None
    assert (tmp_path / "attachments" / key[:2] / key).read_bytes() == PNG
    # The turn ran after the files were kept: the bot answered the message.
    assert await Message.filter(conversation_id=message.conversation_id, sender_kind=SenderKind.BOT).count() > 0
    # The browser's history links the file, and the link serves it to this session only.
    history = await (await client.get("/chat/history")).json()
    (mine,) = [m for m in history["messages"] if m["text"] == "ini tangkapan layarnya"]
    assert [f["name"] for f in mine["attachments"]] == ["layar.png", "krs.pdf"]
    served = await client.get(mine["attachments"][0]["url"])
    assert served.status == 200
    assert await served.read() == PNG
    client.session.cookie_jar.clear()
    assert (await client.get(mine["attachments"][0]["url"])).status == 404


async def test_a_file_whose_bytes_are_no_image_is_refused_by_name_and_the_text_still_goes(
    client: TestClient[Any, Any]
) -> None:
    html = b"<html><script>alert(1)</script></html>"
    response = await client.post("/chat/files", data=form("lihat ini", ("foto.png", html, "image/png")))
    assert response.status == 202
    (refusal,) = (await response.json())["refused"]
    assert refusal["reason"] == "type_not_allowed"
    assert refusal["message"] == catalog("id").t("web_file_type_not_allowed", name="foto.png")
    message = await Message.get(text="lihat ini")
    (row,) = await Attachment.filter(message_id=message.id)
    assert (row.filename, row.storage_key, row.refused_reason) == ("foto.png", None, "type_not_allowed")


async def test_a_file_over_the_limit_is_a_row_without_bytes_and_the_text_goes(client: TestClient[Any, Any]) -> None:
    big = b"%PDF-1.4\n" + b"x" * LIMIT
    response = await client.post("/chat/files?lang=en", data=form("my transcript", ("big.pdf", big, "application/pdf"),
                                                                  ("ok.png", PNG, "image/png")))
    assert response.status == 202
    (refusal,) = (await response.json())["refused"]
    assert refusal["message"] == catalog("en").t("web_file_too_big", name="big.pdf", limit="4.0 KB")
    message = await Message.get(text="my transcript")
    rows = await Attachment.filter(message_id=message.id).order_by("position")
    assert [(r.size, r.refused_reason, r.storage_key is None) for r in rows] == [
        (len(big), "too_big", True), (len(PNG), None, False)]


async def test_a_body_past_every_limit_is_refused_before_reading_and_nothing_is_stored(
    client: TestClient[Any, Any]
) -> None:
    # More than every file at its limit plus the form's room: refused on its Content-Length alone.
    count = (LIMIT * MAX_FILES_PER_MESSAGE + FORM_SLACK) // LIMIT + 1
    files = [(f"f{i}.png", PNG + b"\x00" * LIMIT, "image/png") for i in range(count)]
    response = await client.post("/chat/files", data=form("teks", *files))
    assert response.status == 413
    assert (await response.json())["message"] == catalog("id").t("web_error_files_too_big")
    assert await Message.all().count() == 0


async def test_the_same_upload_twice_is_one_message(client: TestClient[Any, Any]) -> None:
    for _ in range(2):
        response = await client.post("/chat/files", data=form("dua kali", ("a.png", PNG, "image/png")))
        assert response.status == 202
    assert await Message.filter(text="dua kali").count() == 1
    assert await Attachment.all().count() == 1


@pytest.mark.parametrize("body", [b"not multipart", b"--x\r\nbroken"])
async def test_a_broken_form_is_a_400_and_without_a_session_a_401(client: TestClient[Any, Any], body: bytes) -> None:
    response = await client.post("/chat/files", data=body, headers={"Content-Type": "multipart/form-data; boundary=x"})
    assert response.status == 400
    assert await Message.all().count() == 0
    no_file = await client.post("/chat/files", data=form("hanya teks"))
    assert no_file.status == 400
    client.session.cookie_jar.clear()
    anonymous = await client.post("/chat/files", data=form("x", ("a.png", PNG, "image/png")))
    assert anonymous.status == 401
