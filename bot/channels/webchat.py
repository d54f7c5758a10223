"""The embedded web chat at /chat: the default channel, so the product works with no provider account.

A channel like the others (``bot.channels.base.ChannelBase``, listed in ``bot.channels.registry``), always
on, entering the flow by the same door (``Handler``), in-line: it answers once the turn has run, so its
replies are in /chat/history when a POST returns. What it needs from the app around it beyond the settings
(the LMS's signed identity, the header's hours sentence, the page's framing rule) the app puts on itself
as ``WEBCHAT_HOOKS``; without them the chat still works, with neither.

The browser's identity is an HttpOnly session cookie; only its SHA-256 is stored as the channel address,
so the database never holds a usable session. Messages travel over a WebSocket; POST /chat/messages is
the same entry point for clients without WebSockets.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import secrets
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp_jinja2
from aiohttp import BodyPartReader, WSMsgType, web
from aiohttp.http_exceptions import HttpProcessingError

from bot.channels.base import ChannelBase, Handler, InboundMessage
from bot.i18n import catalog
from handoff.attachments import (
    MAX_FILES_PER_MESSAGE,
    SNIFFED_TYPES,
    AttachmentStore,
    Refusal,
    content_disposition,
    human_size,
    normalise_type,
    serve_type,
    sniff_type,
)
from handoff.delivery import Capabilities, OutboundMessage, SendResult
from handoff.i18n import choose_language
from handoff.webinput import InputError, own_origin, parse_id, parse_json, read_json, same_origin
from models import Attachment, ChannelIdentity, ChannelKind, DeliveryStatus, Message

if TYPE_CHECKING:
    from bot.config import Settings

log = logging.getLogger(__name__)

COOKIE = "cc_chat"
MAX_MESSAGE_CHARS = 10_000
HISTORY_LIMIT = 200
WIDGET_JS = Path(__file__).resolve().parent.parent / "static" / "widget.js"

# Room for the form's text and id fields (and the parts' headers) beside the files themselves.
FORM_SLACK = 4 * MAX_MESSAGE_CHARS + 64 * 1024
READ_CHUNK = 64 * 1024
# The header's service hours in a language (bot.conversation.replies's sentence from the supervisor's settings).
HoursText = Callable[[str], Awaitable[str]]
# A signed identity from the page's query (bot.lms): given the browser's session token (or None) and the
# query, the token the browser should use from now on, or None to go on as before.
SignedOpener = Callable[[str | None, Mapping[str, str]], Awaitable[str | None]]


@dataclass(frozen=True, slots=True)
class WebChatHooks:
    """What the web chat asks of the app around it (bot.app provides them; a channel cannot import the app)."""

    signed: SignedOpener | None = None  # None: a signed query is ignored
    hours: HoursText | None = None  # None: the header's subtitle without the hours
    # The page's framing rule (bot.app.chat_frame_headers); empty: the app's default headers.
    frame_headers: Mapping[str, str] = field(default_factory=dict)


WEBCHAT_HOOKS = web.AppKey("webchat_hooks", WebChatHooks)


def session_address(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()[:40]


class WebChatChannel(ChannelBase):
    kind = ChannelKind.WEBCHAT
    # Links stay relative: the user reads every message on our own page.
    capabilities = Capabilities(buttons=True, files=True, absolute_links=False)
    # Its send cannot fail: a browser not connected reads the message in the history when it comes back.
    retried = False

    @classmethod
    def from_settings(cls, settings: Settings, store: AttachmentStore) -> WebChatChannel:
        # Always on: the default channel, which needs no provider account.
        return cls(store=store, public_url=settings.public_url,
                   secure_cookies=settings.public_url.startswith("https://"))

    def __init__(self, *, store: AttachmentStore | None = None, public_url: str = "",
                 secure_cookies: bool = False) -> None:
        """``store``: where the student's files are kept; None: the chat takes no files."""
        self.store = store
        self.public_url = public_url
        self.secure_cookies = secure_cookies
        self._sockets: dict[str, set[web.WebSocketResponse]] = defaultdict(set)

    def setup(self, app: web.Application, handle: Handler, *, polls: bool = True) -> None:
        """Mount /chat and its routes; ``polls`` does not apply (the browser comes to us). The app's
        ``WEBCHAT_HOOKS`` are read as each page is served, so the order the app sets them in does not matter."""
        _mount(app, channel=self, handle=handle)
        app.cleanup_ctx.append(self._lifecycle)

    async def _lifecycle(self, _app: web.Application) -> AsyncIterator[None]:
        yield
        await self.close()

    def attach(self, address: str, ws: web.WebSocketResponse) -> None:
        self._sockets[address].add(ws)

    def detach(self, address: str, ws: web.WebSocketResponse) -> None:
        sockets = self._sockets.get(address)
        if sockets is not None:
            sockets.discard(ws)
            if not sockets:
                del self._sockets[address]

    async def send(self, message: OutboundMessage) -> SendResult:
        payload = {
            "type": "message",
            "message": {
                "id": message.message_id,
                "sender": message.sender_kind.value,
                "text": message.text,
                "buttons": [{"label": b.label, "value": b.value} for b in message.buttons],
                "attachments": [_file_json(a.id, a.filename, a.size) for a in message.attachments],
            },
        }
        delivered = False
        for ws in list(self._sockets.get(message.recipient, ())):
            try:
                await ws.send_json(payload)
                delivered = True
            except (ConnectionResetError, RuntimeError):
                self.detach(message.recipient, ws)
        # Not connected: the message waits in the history the page loads when it comes back.
        return SendResult(
            provider_message_id=f"web-{message.message_id}",
            status=DeliveryStatus.DELIVERED if delivered else DeliveryStatus.SENT,
        )

    async def close(self) -> None:
        for sockets in list(self._sockets.values()):
            for ws in list(sockets):
                await ws.close()
        self._sockets.clear()


def _lang(request: web.Request) -> str:
    # Indonesian unless asked: most students' browsers say English, yet they write to the bot in Indonesian.
    # Its first two letters, so "en-US" is English; anything else is the default.
    return choose_language(request.query.get("lang", "").lower()[:2] or None)


def _token(request: web.Request) -> str | None:
    token = request.cookies.get(COOKIE)
    return token if token and 20 <= len(token) <= 100 else None


def _set_cookie(request: web.Request, response: web.StreamResponse, token: str, secure: bool) -> None:
    response.set_cookie(
        COOKIE, token, max_age=60 * 60 * 24 * 90, httponly=True, samesite="Lax", secure=secure, path="/chat"
    )


def _error(code: str, lang: str, status: int) -> web.Response:
    return web.json_response({"error": code, "message": catalog(lang).t(f"web_error_{code}")}, status=status)


# Route closures share the channel and the handler; splitting them would only add plumbing.
def _mount(app: web.Application, *, channel: WebChatChannel, handle: Handler) -> None:  # noqa: PLR0915
    store, public_url, secure_cookies = channel.store, channel.public_url, channel.secure_cookies
    files_on = store is not None

    def hooks() -> WebChatHooks:
        return app.get(WEBCHAT_HOOKS) or WebChatHooks()
    # The kinds the web chat takes: images and PDF the store also allows, each checked by its bytes.
    web_types = sorted(SNIFFED_TYPES & store.policy.allowed_types) if store is not None else []

    async def page(request: web.Request) -> web.StreamResponse:
        lang = _lang(request)
        cat = catalog(lang)
        strings = {
            k: cat.t(k)
            for k in (
                "web_title",
                "web_subtitle",
                "web_placeholder",
                "web_send",
                "web_you",
                "web_bot",
                "web_offline",
                "web_reconnecting",
                "web_other_language",
                "web_welcome",
                "web_attach",
                "web_error_files_too_big",
            )
        }
        hours = hooks().hours
        if hours is not None:
            strings["web_subtitle"] = cat.t("web_subtitle_hours", hours=await hours(lang))
        # The page refuses what the server would, before uploading it; "{name}" is filled in by the page.
        limit = human_size(store.policy.max_bytes) if store is not None else ""
        for reason in (Refusal.TOO_BIG, Refusal.TYPE_NOT_ALLOWED, Refusal.TOO_MANY):
            strings[f"web_file_{reason}"] = cat.t(f"web_file_{reason}", name="{name}", limit=limit)
        response = aiohttp_jinja2.render_template(
            "chat.html",
            request,
            {
                "lang": lang,
                "t": strings,
                "other_lang": "id" if lang == "en" else "en",
                # '<' escaped so no text can close the script
                "strings_json": json.dumps(strings).replace("<", "\\u003c"),
                "files_on": files_on,
                "accept": ",".join(web_types),
                "max_bytes": store.policy.max_bytes if store is not None else 0,
                "max_files": MAX_FILES_PER_MESSAGE,
            },
        )
        token = _token(request)
        signed = hooks().signed
        if signed is not None and "signature" in request.query:
            opened = await signed(token, request.query)
            if opened is not None and opened != token:
                _set_cookie(request, response, opened, secure_cookies)
                token = opened
        if token is None:
            _set_cookie(request, response, secrets.token_urlsafe(32), secure_cookies)
        response.headers.update(hooks().frame_headers)
        response.headers["Cache-Control"] = "no-store"
        # The signed query must not travel further (Referer) or stay in a shared history longer than needed.
        response.headers["Referrer-Policy"] = "no-referrer"
        return response

    async def history(request: web.Request) -> web.Response:
        token = _token(request)
        if token is None:
            return web.json_response({"messages": []})
        identity = await ChannelIdentity.get_or_none(channel=ChannelKind.WEBCHAT, external_id=session_address(token))
        if identity is None:
            return web.json_response({"messages": []})
        rows = await Message.filter(conversation__identity=identity).order_by("-id").limit(HISTORY_LIMIT)
        files: dict[int, list[dict[str, Any]]] = defaultdict(list)
        kept = Attachment.filter(message_id__in=[m.id for m in rows], storage_key__not_isnull=True)
        for a in await kept.order_by("position"):
            files[a.message_id].append(_file_json(a.id, a.filename, a.size))
        messages = [_message_json(m, files.get(m.id, [])) for m in reversed(rows)]
        return web.json_response({"messages": messages}, headers={"Cache-Control": "no-store"})

    async def _accept(request: web.Request, token: str, body: Any) -> web.Response | None:
        lang = _lang(request)
        if not isinstance(body, dict) or not isinstance(body.get("text"), str):
            return _error("bad_request", lang, 400)
        text: str = body["text"]
        if len(text) > MAX_MESSAGE_CHARS:
            return _error("too_long", lang, 413)
        await handle(_inbound(request, token, text, body.get("id")), in_line=True)
        return None

    async def post_files(request: web.Request) -> web.Response:
        """A message with files (multipart: ``text``, ``id``, one ``file`` part per file). Each file is kept
        under the store's policy, its type read from its bytes; a refused one is still a row with its reason
        (the agent sees it was sent) and the answer names it, so the chat says why. The text always goes."""
        token = _token(request)
        lang = _lang(request)
        if token is None:
            return _error("no_session", lang, 401)
        if store is None:
            return _error("files_off", lang, 404)
        bound = store.policy.max_bytes * MAX_FILES_PER_MESSAGE + FORM_SLACK
        if request.content_length is None or request.content_length > bound:
            # Refused before a byte is read; the page keeps the text in its box.
            return _error("files_too_big", lang, 413)
        try:
            form = await _read_form(request, max_text=4 * MAX_MESSAGE_CHARS, max_file=store.policy.max_bytes)
        except (ValueError, AssertionError, KeyError, HttpProcessingError):  # not multipart, or broken on the wire
            return _error("bad_request", lang, 400)
        if len(form.text) > MAX_MESSAGE_CHARS:
            return _error("too_long", lang, 413)
        if not form.files:
            return _error("bad_request", lang, 400)
        kept: list[tuple[int, _Upload, str | None]] = []
        for position, upload in enumerate(form.files):
            kept.append((position, upload, _refusal(upload, position, web_types)))

        async def keep(message_id: int) -> None:
            assert store is not None
            for position, upload, refused in kept:
                await store.keep(message=message_id, position=position, filename=upload.filename,
                                 content_type=upload.content_type, data=upload.data, size=upload.size,
                                 refused=refused)

        # Stored, its files kept on the row, then its turn, as a Telegram photo's (bot.inbound), but in-line.
        await handle(_inbound(request, token, form.text, form.client_id), in_line=True, keep=keep)
        cat = catalog(lang)
        refusals = [{"name": upload.filename, "reason": refused,
                     "message": cat.t(f"web_file_{refused}", name=upload.filename,
                                      limit=human_size(store.policy.max_bytes))}
                    for _, upload, refused in kept if refused is not None]
        return web.json_response({"ok": True, "refused": refusals}, status=202)

    async def post_message(request: web.Request) -> web.Response:
        token = _token(request)
        lang = _lang(request)
        if token is None:
            return _error("no_session", lang, 401)
        try:
            body = await read_json(request)
        except InputError as unreadable:
            return _error("too_long" if unreadable.status == 413 else "bad_request", lang, unreadable.status)
        problem = await _accept(request, token, body)
        return problem or web.json_response({"ok": True}, status=202)

    async def websocket(request: web.Request) -> web.StreamResponse:
        token = _token(request)
        origin = request.headers.get("Origin")
        if origin is not None and not same_origin(origin, own_origin(request, public_url)):
            # A page on another site (or the same host under another scheme or port) must not speak for
            # this browser's session.
            raise web.HTTPForbidden(text="cross-origin WebSocket refused")
        if token is None:
            raise web.HTTPUnauthorized(text="open /chat first to get a session")
        ws = web.WebSocketResponse(heartbeat=30, max_msg_size=4 * MAX_MESSAGE_CHARS + 1024)
        await ws.prepare(request)
        address = session_address(token)
        channel.attach(address, ws)
        lang = _lang(request)
        try:
            async for frame in ws:
                if frame.type != WSMsgType.TEXT:
                    continue
                try:
                    body = parse_json(frame.data)
                except InputError:
                    answer = {"type": "error", "error": "bad_request",
                              "message": catalog(lang).t("web_error_bad_request")}
                else:
                    problem = await _accept(request, token, body)
                    answer = ({"type": "error", **json.loads(problem.text or "{}")} if problem is not None
                              else {"type": "ack", "id": body.get("id")})
                try:
                    await ws.send_json(answer)
                except ConnectionResetError:  # the browser left while its message was answered: it is stored
                    break
        finally:
            channel.detach(address, ws)
        return ws

    async def attachment(request: web.Request) -> web.StreamResponse:
        """A file of this browser's own chat: the session cookie is the only key; anyone else gets 404."""
        token = _token(request)
        attachment_id = parse_id(request.match_info["id"])
        if attachment_id is None or token is None or store is None:
            raise web.HTTPNotFound(text="not found")
        row = await Attachment.get_or_none(
            id=attachment_id,
            storage_key__not_isnull=True,
            message__channel=ChannelKind.WEBCHAT,
            message__conversation__identity__channel=ChannelKind.WEBCHAT,
            message__conversation__identity__external_id=session_address(token),
        )
        if row is None or row.storage_key is None:
            raise web.HTTPNotFound(text="not found")
        path = store.path(row.storage_key)
        if not await asyncio.to_thread(path.is_file):
            raise web.HTTPNotFound(text="not found")
        return web.FileResponse(path, headers={
            "Content-Type": serve_type(row.content_type), "Content-Disposition": content_disposition(row.filename),
            "X-Content-Type-Options": "nosniff", "Cache-Control": "no-store",
        })

    async def widget(_request: web.Request) -> web.StreamResponse:
        """The LMS's script: a launcher that opens /chat in a frame (the page's frame_headers decide where)."""
        return web.FileResponse(WIDGET_JS, headers={"Content-Type": "text/javascript; charset=utf-8",
                                                    "Cache-Control": "public, max-age=3600"})

    app.router.add_get("/chat/attachments/{id}", attachment)
    app.router.add_get("/chat", page)
    app.router.add_get("/chat/", page)
    app.router.add_get("/chat/history", history)
    app.router.add_get("/chat/widget.js", widget)
    app.router.add_post("/chat/messages", post_message)
    app.router.add_post("/chat/files", post_files)
    app.router.add_get("/chat/ws", websocket)


def _inbound(request: web.Request, token: str, text: str, client_id: object) -> InboundMessage:
    if not isinstance(client_id, str) or not (8 <= len(client_id) <= 64):
        client_id = uuid.uuid4().hex
    return InboundMessage(
        channel=ChannelKind.WEBCHAT,
        external_id=session_address(token),
        # The browser's own id for the message: a retry after a dropped connection is not doubled.
        provider_message_id=f"{session_address(token)[:16]}:{client_id}",
        text=text,
        received_at=datetime.now(UTC),
        language_hint=_lang(request) if request.query.get("lang") else None,
    )


@dataclass(frozen=True, slots=True)
class _Upload:
    filename: str
    content_type: str  # what its bytes are (sniff_type), else what the browser declared
    data: bytes | None  # None: over the size limit, not kept in memory
    size: int


@dataclass(slots=True)
class _Form:
    text: str = ""
    client_id: str | None = None
    files: list[_Upload] = field(default_factory=list)


async def _read_part(part: BodyPartReader, limit: int) -> tuple[bytes | None, int]:
    """Up to ``limit`` bytes of a part, and its size; past the limit the rest is counted, not kept."""
    data = bytearray()
    size = 0
    while chunk := await part.read_chunk(READ_CHUNK):
        size += len(chunk)
        if size <= limit:
            data.extend(chunk)
    return (bytes(data) if size <= limit else None), size


async def _read_form(request: web.Request, *, max_text: int, max_file: int) -> _Form:
    """The upload form, streamed: the whole body is bounded by its Content-Length (checked before), each
    file by the policy's size; no part is ever held beyond its limit."""
    form = _Form()
    reader = await request.multipart()
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader):
            raise ValueError("nested multipart")
        if part.filename is not None and part.name == "file":
            data, size = await _read_part(part, max_file)
            declared = normalise_type(part.headers.get("Content-Type", ""))
            kind = (sniff_type(data) if data is not None else None) or declared or "application/octet-stream"
            form.files.append(_Upload(filename=part.filename, content_type=kind, data=data, size=size))
        elif part.name in ("text", "id"):
            raw, _ = await _read_part(part, max_text)
            if raw is None:
                form.text = "x" * (MAX_MESSAGE_CHARS + 1)  # over the limit: the caller answers too_long
                continue
            value = raw.decode("utf-8", errors="replace")
            if part.name == "text":
                form.text = value
            else:
                form.client_id = value
        else:
            await _read_part(part, 0)  # an unknown part is skipped, its bytes counted, not kept
    return form


def _refusal(upload: _Upload, position: int, web_types: list[str]) -> str | None:
    """Why the web chat does not keep this file, or None (the store's policy still checks it)."""
    if position >= MAX_FILES_PER_MESSAGE:
        return Refusal.TOO_MANY
    if upload.data is None:
        return Refusal.TOO_BIG
    if upload.size == 0:
        return Refusal.EMPTY
    if sniff_type(upload.data) not in web_types:
        # Whatever its name or declared type: only bytes that are an image or a PDF are kept.
        return Refusal.TYPE_NOT_ALLOWED
    return None


def _file_json(attachment_id: int, filename: str, size: int) -> dict[str, Any]:
    url = f"/chat/attachments/{attachment_id}"
    return {"id": attachment_id, "name": filename, "size": human_size(size), "url": url}


def _message_json(message: Message, files: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "id": message.id,
        "sender": message.sender_kind.value,
        "text": message.text,
        "buttons": message.buttons or [],
        "attachments": files,
        "created_at": message.created_at.isoformat(),
    }
