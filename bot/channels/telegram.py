"""Telegram through python-telegram-bot, in webhook mode inside our own aiohttp server.

PTB's ``Application`` is built with ``updater(None)`` when ``PUBLIC_URL`` is set: Telegram posts updates to
``POST /webhooks/telegram`` and the route hands them to the flow itself, so the 200 Telegram waits for is
only sent once the message is stored (Telegram re-delivers on any non-2xx; ``update_id`` is not a usable
dedupe key, so the flow dedupes on ``chat_id:message_id`` or the callback query id). Without ``PUBLIC_URL``
the same application long-polls ``getUpdates`` for development, and the same ``process`` runs per update.

Console users link their own chat here for their notices (handoff.staff_telegram): ``/start <code>`` (the
console's deep link) and ``/link <code>`` are answered by the channel itself, and any message from a linked
staff chat is answered with a note, before anything is stored: a staff chat never becomes a conversation.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import re
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import aiohttp
from aiohttp import web
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram import Message as TelegramMessage
from telegram.constants import ChatType
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.ext import Application, ContextTypes, TypeHandler
from telegram.warnings import PTBDeprecationWarning
from yarl import URL

from bot.channels.base import ChannelBase, Downloads, Handler, InboundMessage, split_message
from bot.channels.fetch import Fetched, FetchPolicy, fetch_file, provider_origin, stand_in_origin
from bot.channels.telegram_limits import ChatRateLimiter
from bot.config import Settings
from bot.i18n import catalog
from handoff import staff_telegram
from handoff.attachments import AttachmentStore, Refusal, normalise_type
from handoff.delivery import Button, Capabilities, DeliveryError, OutboundAttachment, OutboundMessage, SendResult
from handoff.webinput import InputError, clean_json, clean_text, provider_key, read_json
from models import ChannelKind, DeliveryStatus, Message

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/webhooks/telegram"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header name, not a secret
# Only what the flow understands: edited messages, channel posts, polls... are not even sent to us.
ALLOWED_UPDATES = ("message", "callback_query")
MAX_TEXT = 4096  # Bot API limit for sendMessage.text
MAX_CALLBACK_DATA = 64  # bytes, Bot API limit for callback_data
# A 429 asking to wait this long or less is waited out in place; a longer one leaves the message queued
# so a webhook answer is never held for minutes.
MAX_INLINE_WAIT = 10.0
MAX_SEND_ATTEMPTS = 3
# Bot API limits: getFile downloads files up to 20 MB; uploads go up to 10 MB as a photo, 50 MB otherwise.
MAX_DOWNLOAD_BYTES = 20 * 1024 * 1024
MAX_PHOTO_BYTES = 10 * 1024 * 1024
MAX_UPLOAD_BYTES = 50 * 1024 * 1024
PHOTO_TYPES = frozenset({"image/jpeg", "image/png"})
MAX_FILE_PATH = 512
# Relative, in segments of letters, digits and a few marks: what Telegram's file paths are made of.
_FILE_PATH = re.compile(r"[A-Za-z0-9_.~+=@,-]+(?:/[A-Za-z0-9_.~+=@,-]+)*")



def derived_secret(token: str) -> str:
    """The webhook secret when TELEGRAM_WEBHOOK_SECRET is unset: never an open route, stable on restart."""
    return hashlib.sha256(f"carecenter-telegram-webhook:{token}".encode()).hexdigest()


def _file_url(base_url: str) -> str:
    # A self-hosted Bot API server serves files under /file/bot<token>, beside /bot<token>.
    return base_url[: -len("bot")] + "file/bot" if base_url.endswith("/bot") else base_url


def file_policy(base_file_url: str, *, configured: bool) -> FetchPolicy:
    """Files come from the bot's own file directory on Telegram (or on the configured Bot API server),
    never from anywhere its answers might point."""
    prefix = URL(base_file_url).path.rstrip("/") + "/"
    origin = stand_in_origin(base_file_url, path_prefix=prefix) if configured else provider_origin(
        base_file_url, path_prefix=prefix)
    return FetchPolicy(start=(origin,) if origin is not None else ())


def file_path_allowed(path: str) -> str | None:
    """A getFile ``file_path`` as Telegram gives it (``documents/file_12.pdf``), or None: an absolute path
    (a local-mode server's), a ``..`` or ``.`` segment, a scheme, a backslash, percent-encoding or anything
    else a path of Telegram's own never holds."""
    if len(path) > MAX_FILE_PATH or _FILE_PATH.fullmatch(path) is None:
        return None
    if any(segment in (".", "..") for segment in path.split("/")):
        return None
    return path


def retry_after_seconds(exc: RetryAfter) -> float:
    # PTB 22 warns on reading retry_after until it becomes a timedelta for good; both forms are handled.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def split_text(text: str, limit: int = MAX_TEXT) -> list[str]:
    """Cut a long reply into sendMessage-sized parts."""
    return split_message(text, limit)


# Labels up to this long fit side by side on a phone's keyboard row.
SHORT_BUTTON = 12


def keyboard(buttons: tuple[Button, ...]) -> InlineKeyboardMarkup | None:
    if not buttons:
        return None
    keys = [
        InlineKeyboardButton(
            b.label[:64], callback_data=b.value.encode()[:MAX_CALLBACK_DATA].decode(errors="ignore")
        )
        for b in buttons
    ]
    # Short answers (1-5, yes/no) side by side; choices named in words (a clarification's categories) one
    # per row, where a phone shows them whole instead of cut to a few letters.
    if all(len(b.label) <= SHORT_BUTTON for b in buttons):
        return InlineKeyboardMarkup([keys])
    return InlineKeyboardMarkup([[key] for key in keys])


class TelegramChannel(ChannelBase):
    kind = ChannelKind.TELEGRAM
    capabilities = Capabilities(buttons=True, files=True)

    @classmethod
    def from_settings(cls, settings: Settings, store: AttachmentStore) -> TelegramChannel | None:
        if not settings.telegram_bot_token:
            return None
        return cls(
            token=settings.telegram_bot_token,
            webhook_secret=settings.telegram_webhook_secret,
            api_base_url=settings.telegram_api_base_url,
            public_url=settings.public_url,
            store=store,
            secret_key=settings.secret_key,
        )

    def __init__(
        self,
        *,
        token: str,
        webhook_secret: str = "",
        api_base_url: str = "",
        public_url: str = "",
        max_inline_wait: float = MAX_INLINE_WAIT,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rate_limiter: ChatRateLimiter | None = None,
        store: AttachmentStore | None = None,
        secret_key: str = "",
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.public_url = public_url.rstrip("/")
        self.secret_key = secret_key  # what staff link codes are hashed under (handoff.staff_telegram)
        self.clock = clock
        self.store = store
        self._downloads = Downloads("telegram")
        self.secret = webhook_secret or derived_secret(token)
        self.max_inline_wait = max_inline_wait
        self._sleep = sleep
        self._handle: Handler | None = None
        self._polls = True
        # Until this loop.time(), Telegram asked us (429 retry_after) to send nothing at all.
        self._paused_until = 0.0
        self.rate_limiter = rate_limiter or ChatRateLimiter()
        builder = Application.builder().token(token).job_queue(None).rate_limiter(self.rate_limiter)
        if api_base_url:
            builder = builder.base_url(api_base_url).base_file_url(_file_url(api_base_url))
        if self.public_url:
            builder = builder.updater(None)
        # Never local_mode: PTB would then read file paths from our own disk. Files are fetched by us instead.
        self.application = builder.build()
        self.application.add_handler(TypeHandler(Update, self._on_polled_update))
        self.file_policy = file_policy(self.application.bot.base_file_url, configured=bool(api_base_url))
        self._file_session: aiohttp.ClientSession | None = None

    @property
    def webhook_mode(self) -> bool:
        return bool(self.public_url)

    @property
    def bot_username(self) -> str | None:
        """The bot's @name from getMe (the console's deep link), None until getMe has answered."""
        try:
            return self.application.bot.username
        except RuntimeError:  # PTB: "This Bot object has not been initialized"
            return None

    # -- outbound ---------------------------------------------------------------------------------

    async def send(self, message: OutboundMessage) -> SendResult:
        try:
            chat_id = int(message.recipient)
        except ValueError:
            raise DeliveryError("not a Telegram chat id", permanent=True, unreachable=True) from None
        parts = split_text(message.text) if message.text.strip() or not message.attachments else []
        if parts and not parts[-1].strip():
            raise DeliveryError("empty text cannot be sent on Telegram", permanent=True)
        if message.attachments and self.store is None:
            raise DeliveryError("no attachment store for files", permanent=True)
        sends: list[Callable[[], Awaitable[TelegramMessage]]] = [
            self._text_sender(chat_id, part, keyboard(message.buttons) if index == len(parts) - 1 else None)
            for index, part in enumerate(parts)
        ]
        sends += [self._file_sender(chat_id, item) for item in message.attachments]
        provider_id = ""
        for send in sends:
            try:
                sent_id = await self._send_part(send, message.message_id)
            except DeliveryError as exc:
                if not provider_id:
                    raise
                # Part of it reached the user: sending it all again would repeat that part.
                return SendResult(provider_message_id=provider_id, status=DeliveryStatus.FAILED,
                                  error=f"partly sent: {exc.reason}"[:500])
            if sent_id is None:
                # Telegram may or may not have the message: recorded as unknown, never blindly resent.
                return SendResult(provider_message_id=provider_id or None, status=DeliveryStatus.UNKNOWN,
                                  error="timed out waiting for Telegram")
            provider_id = f"{chat_id}:{sent_id}"
        return SendResult(provider_message_id=provider_id, status=DeliveryStatus.SENT)

    async def _wait_out_pause(self, message_id: int) -> None:
        """Honour a 429 for every message, not only the one that got it: nothing reaches Telegram before
        its retry_after is up. A long pause leaves the message queued instead of holding the caller."""
        left = self._paused_until - asyncio.get_running_loop().time()
        if left <= 0:
            return
        if left > self.max_inline_wait:
            # Held back by another message's 429, not refused itself: throttled all the same.
            raise DeliveryError(f"rate limited by Telegram; retry after {left:.0f} s", throttled=True,
                                retry_after=left)
        log.info("telegram paused by a 429; message %s waits %.1f s", message_id, left)
        await self._sleep(left)

    def _text_sender(
        self, chat_id: int, text: str, markup: InlineKeyboardMarkup | None
    ) -> Callable[[], Awaitable[TelegramMessage]]:
        async def send() -> TelegramMessage:
            return await self.application.bot.send_message(chat_id=chat_id, text=text, reply_markup=markup)

        return send

    def _file_sender(self, chat_id: int, item: OutboundAttachment) -> Callable[[], Awaitable[TelegramMessage]]:
        async def send() -> TelegramMessage:
            store = self.store
            assert store is not None
            if item.size > MAX_UPLOAD_BYTES:
                raise DeliveryError(f"file over Telegram's {MAX_UPLOAD_BYTES} bytes", permanent=True)
            try:
                data = await store.read(item.storage_key)
            except OSError:
                raise DeliveryError(f"stored file of attachment {item.id} is missing", permanent=True) from None
            bot = self.application.bot
            if normalise_type(item.content_type) in PHOTO_TYPES and item.size <= MAX_PHOTO_BYTES:
                return await bot.send_photo(chat_id=chat_id, photo=data, filename=item.filename)
            return await bot.send_document(chat_id=chat_id, document=data, filename=item.filename)

        return send

    async def _send_part(self, send: Callable[[], Awaitable[TelegramMessage]], message_id: int) -> int | None:
        for attempt in range(1, MAX_SEND_ATTEMPTS + 1):
            await self._wait_out_pause(message_id)
            try:
                sent = await send()
            except RetryAfter as exc:
                wait = retry_after_seconds(exc)
                loop_now = asyncio.get_running_loop().time()
                self._paused_until = max(self._paused_until, loop_now + wait)
                if wait > self.max_inline_wait or attempt == MAX_SEND_ATTEMPTS:
                    raise DeliveryError(f"rate limited by Telegram; retry after {wait:.0f} s", throttled=True,
                                        retry_after=wait) from None
                log.warning("telegram 429 for message %s; waiting %.1f s", message_id, wait)
                continue
            except Forbidden as exc:
                # "bot was blocked by the user" / "user is deactivated": nothing we send will arrive.
                raise DeliveryError(f"forbidden: {exc.message}", permanent=True, unreachable=True) from None
            except ChatMigrated as exc:
                raise DeliveryError(f"chat migrated: {exc.message}", permanent=True) from None
            except BadRequest as exc:
                unreachable = "chat not found" in exc.message.lower()
                raise DeliveryError(
                    f"rejected: {exc.message}", permanent=True, unreachable=unreachable
                ) from None
            except InvalidToken as exc:
                # The operator must fix TELEGRAM_BOT_TOKEN; the message waits for that.
                raise DeliveryError(f"invalid bot token: {exc.message}") from None
            except TimedOut as exc:
                if exc.message.startswith("Pool timeout"):  # PTB: "Request was *not* sent"
                    raise DeliveryError("connection pool busy") from None
                return None
            except NetworkError as exc:
                if _maybe_sent(exc):
                    return None
                raise DeliveryError(f"telegram unavailable: {exc.message}") from None
            except TelegramError as exc:
                raise DeliveryError(f"telegram error: {exc.message}") from None
            return sent.message_id
        raise AssertionError("unreachable")  # pragma: no cover

    # -- inbound ----------------------------------------------------------------------------------

    async def process(self, update: Update, *, raw: Mapping[str, Any] | None = None) -> str:
        """Turn one update into at most one InboundMessage. Returns what was done, for logs and tests."""
        handle = self._handle
        if handle is None:
            raise RuntimeError("TelegramChannel.setup() was not called")
        # Polled updates were never through webinput's JSON reading: their text is cleaned here too.
        payload = dict(raw) if raw is not None else clean_json(update.to_dict())
        if update.callback_query is not None:
            return await self._callback(update, handle, payload)
        inbound = read_message(update, payload)
        if isinstance(inbound, str):
            return inbound
        staff = await self._staff_message(update, inbound)
        if staff is not None:
            return staff
        result = await handle(inbound)
        if getattr(result, "duplicate", False):
            return "duplicate"
        return "handled"

    async def _staff_message(self, update: Update, inbound: InboundMessage) -> str | None:
        """A link command, or a message from a linked staff chat: answered here, never stored or handed to
        the flow. None for everything else (a student's message, ``/start`` alone)."""
        code = staff_telegram.command_code(inbound.text)
        language = getattr(getattr(update.message, "from_user", None), "language_code", None)
        t = catalog("en" if isinstance(language, str) and language.lower().startswith("en") else "id").t
        if code is not None:
            result = await staff_telegram.link_chat(chat_id=inbound.external_id, code=code,
                                                    secret_key=self.secret_key, now=self.clock())
            key = {staff_telegram.Linked.LINKED: "staff_link_done", staff_telegram.Linked.WRONG: "staff_link_wrong",
                   staff_telegram.Linked.EXPIRED: "staff_link_expired",
                   staff_telegram.Linked.LIMITED: "staff_link_limited",
                   staff_telegram.Linked.ASK: "staff_link_ask"}[result.outcome]
            await self._answer_staff(inbound.external_id, t(key, name=result.name), update)
            return f"staff_link:{result.outcome.value}"
        user = await staff_telegram.linked_user(inbound.external_id)
        if user is None:
            return None
        await self._answer_staff(inbound.external_id, t("staff_chat_only", name=user.name or user.email), update)
        return "staff_chat"

    async def _answer_staff(self, chat_id: str, text: str, update: Update) -> None:
        # Straight to Telegram, not through the outbox: there is no conversation, and a lost answer is
        # only asked again by its reader.
        try:
            await self.application.bot.send_message(chat_id=int(chat_id), text=text)
        except TelegramError as exc:
            log.warning("telegram answer to a staff chat (update %s) not sent: %s", update.update_id, exc)

    def fetch_files(self, message: InboundMessage) -> None:
        """The photo or document of a message just stored, downloaded in the background (bot.inbound
        calls this): no download holds the webhook up, and the files are kept on the stored row."""
        if self.store is None:
            return
        try:
            update = Update.de_json(dict(message.raw), self.application.bot)
            files = _files_of(update.message) if update is not None and update.message is not None else []
        except READ_ERRORS:
            return  # a payload PTB reads only in part (see read_update) has no files we could get
        # PTB checks no types: a file whose id, size, type or name is not what the Bot API promises is skipped.
        files = [f for f in files if isinstance(f["file_id"], str) and type(f["size"]) is int
                 and isinstance(f["content_type"], str) and isinstance(f["filename"], str)]
        if files:
            self._downloads.start(self._download_files(message.provider_message_id, files),
                                  provider_message_id=message.provider_message_id)

    async def _download_files(self, provider_message_id: str, files: list[dict[str, Any]]) -> None:
        store = self.store
        row = await Message.get_or_none(channel=ChannelKind.TELEGRAM, provider_message_id=provider_message_id)
        if row is None or store is None:
            return
        for position, item in enumerate(files):
            kind = normalise_type(item["content_type"])
            size = int(item.get("size") or 0)
            data: bytes | None = None
            refused: str | None = None
            if not store.policy.allows_type(kind):
                refused = Refusal.TYPE_NOT_ALLOWED
            elif size > min(store.policy.max_bytes, MAX_DOWNLOAD_BYTES):
                refused = Refusal.TOO_BIG
            else:
                try:
                    fetched = await self._fetch_file(str(item["file_id"]), min(store.policy.max_bytes,
                                                                                MAX_DOWNLOAD_BYTES))
                except Exception as exc:  # whatever went wrong, the row is written: the agent sees it was not fetched
                    fetched = Fetched(None, 0, Refusal.DOWNLOAD_FAILED, why=exc.__class__.__name__)
                data, refused = fetched.data, fetched.refused
                if refused is not None:
                    # A refusal is the policy at work; a failed download is for the operator to look at.
                    level = logging.WARNING if refused == Refusal.DOWNLOAD_FAILED else logging.INFO
                    log.log(level, "telegram file %d of message %s not fetched: %s (%s)", position, row.id,
                            refused, fetched.why)
            await store.keep(message=row, position=position, filename=item["filename"], content_type=kind,
                             data=data, size=size, refused=refused)

    async def _fetch_file(self, file_id: str, max_bytes: int) -> Fetched:
        """getFile through PTB for the path, then the bytes through our own checked fetch: PTB's
        ``File.download_*`` reads ``file_path`` from our disk when a file of that name exists here."""
        bot = self.application.bot
        try:
            found = await bot.get_file(file_id)
        except TelegramError as exc:
            return Fetched(None, 0, Refusal.DOWNLOAD_FAILED, why=exc.__class__.__name__)
        prefix = bot.base_file_url + "/"
        given = found.file_path or ""
        # PTB leaves a path unprefixed when it names a file on this machine: never read, whatever it is.
        relative = file_path_allowed(given[len(prefix):]) if given.startswith(prefix) else None
        if relative is None:
            return Fetched(None, 0, Refusal.SOURCE_NOT_ALLOWED, why="file_path")
        session = self._file_session
        if session is None:
            return Fetched(None, 0, Refusal.DOWNLOAD_FAILED, why="not started")
        return await fetch_file(session, prefix + quote(relative), policy=self.file_policy, max_bytes=max_bytes)

    async def settle(self) -> None:
        """Wait for file downloads in flight (tests, and a clean shutdown)."""
        await self._downloads.settle()

    async def _callback(self, update: Update, handle: Handler, payload: dict[str, Any]) -> str:
        query = update.callback_query
        assert query is not None
        if isinstance(query.id, str):  # the Bot API's ids are strings; another type is no query to answer
            try:
                await query.answer()  # stops the spinner on the user's button
            except TelegramError as exc:
                # A re-delivered update's query is already answered or too old; the press still counts once.
                log.debug("answerCallbackQuery failed for update %s: %s", update.update_id, exc)
        inbound = read_button_press(update, payload)
        if isinstance(inbound, str):
            return inbound
        chat_id = int(inbound.external_id)
        result = await handle(inbound)
        if getattr(result, "duplicate", False):
            return "duplicate"
        message_id = _integer(getattr(query.message, "message_id", None))
        if message_id is None or message_id <= 0:
            return "handled"
        try:
            # The question was answered: take the buttons away so a second press cannot answer it again.
            await self.application.bot.edit_message_reply_markup(
                chat_id=chat_id, message_id=message_id, reply_markup=None
            )
        except TelegramError as exc:
            log.debug("could not remove the keyboard for update %s: %s", update.update_id, exc)
        return "handled"

    async def _on_polled_update(self, update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        try:
            await self.process(update)
        except Exception:  # polling must survive one bad update
            log.exception("telegram update %s failed", update.update_id)

    # -- aiohttp wiring ---------------------------------------------------------------------------

    def setup(self, app: web.Application, handle: Handler, *, polls: bool = True) -> None:
        self._handle = handle
        self._polls = polls
        app.router.add_post(WEBHOOK_PATH, self._webhook)
        app.cleanup_ctx.append(self._lifecycle)

    async def _webhook(self, request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(given.encode(), self.secret.encode()):
            return web.json_response({"error": "forbidden"}, status=403)
        try:
            data = await read_json(request)
        except InputError as problem:
            # Telegram itself never sends this; whatever sits in between gets told why.
            return web.json_response({"error": "bad_request", "detail": problem.reason}, status=problem.status)
        # From here the sender is Telegram (the secret matched): anything it sends is acknowledged, because
        # it re-delivers an update until it gets a 2xx; what cannot be read is logged and dropped.
        update = read_update(data, self.application.bot)
        if update is None:
            update_id = data.get("update_id") if isinstance(data, dict) else None
            log.warning("telegram update %s could not be read; acknowledged and dropped",
                        update_id if _integer(update_id) is not None else "?")
            return web.json_response({"ok": True, "outcome": "ignored:unreadable"})
        outcome = await self.process(update, raw=data)
        log.debug("telegram update %s: %s", update.update_id, outcome)
        return web.json_response({"ok": True, "outcome": outcome})

    async def _lifecycle(self, _app: web.Application) -> AsyncIterator[None]:
        await self.start()
        yield
        await self.stop()

    async def start(self) -> None:
        if self.store is not None:
            self._file_session = aiohttp.ClientSession()
        try:
            await self.application.initialize()  # getMe: a wrong token stops start-up here
        except InvalidToken:
            raise
        except NetworkError as exc:
            # Telegram unreachable at start-up must not take the web chat down; sends retry later.
            log.error("telegram getMe failed (%s); the channel starts without it", exc)
            return
        if self.webhook_mode:
            url = f"{self.public_url}{WEBHOOK_PATH}"
            try:
                await self.application.bot.set_webhook(
                    url=url, secret_token=self.secret, allowed_updates=list(ALLOWED_UPDATES)
                )
                log.info("telegram webhook set to %s", url)
            except TelegramError as exc:
                log.error("telegram setWebhook failed: %s", exc)
            return
        if not self._polls:
            log.info("telegram: no PUBLIC_URL, so updates are polled, by the worker process")
            return
        updater = self.application.updater
        assert updater is not None
        await self.application.start()
        await updater.start_polling(allowed_updates=list(ALLOWED_UPDATES))
        log.info("telegram polling started (no PUBLIC_URL set)")

    async def stop(self) -> None:
        await self.settle()
        updater = self.application.updater
        if updater is not None and updater.running:
            await updater.stop()
        if self.application.running:
            await self.application.stop()
        await self.application.shutdown()  # a no-op when start() could not initialize
        # After a failed getMe the application never counted as initialized, but its HTTP client is open.
        await self.application.bot.request.shutdown()
        if self._file_session is not None:
            await self._file_session.close()
            self._file_session = None


def _files_of(message: TelegramMessage) -> list[dict[str, Any]]:
    """The photo (its largest size) and document of a message, as the Bot API describes them."""
    files: list[dict[str, Any]] = []
    if message.photo:
        # Sizes grow in the list; the largest one getFile may still download is the one worth keeping.
        sizes = [p for p in message.photo if (p.file_size or 0) <= MAX_DOWNLOAD_BYTES] or list(message.photo[:1])
        best = sizes[-1]
        files.append({"file_id": best.file_id, "size": best.file_size or 0, "content_type": "image/jpeg",
                      "filename": f"photo-{message.message_id}.jpg"})
    if message.document is not None:
        document = message.document
        files.append({"file_id": document.file_id, "size": document.file_size or 0,
                      "content_type": document.mime_type or "application/octet-stream",
                      "filename": document.file_name or ""})
    return files


# What PTB's de_json raises on a payload of the wrong shape: it checks no types, so a string where an
# object belongs, a missing required field or a date out of range surfaces as one of these.
READ_ERRORS = (TypeError, KeyError, ValueError, AttributeError, OverflowError, IndexError)
# The fields of a message (and of a button press) that this channel reads; see read_update.
_MESSAGE_KEYS = ("message_id", "date", "chat", "from", "text", "caption", "contact")
_CALLBACK_KEYS = ("id", "from", "data", "chat_instance", "message")
_PHONE = re.compile(r"\+?[0-9]{1,20}")
# Telegram's dates are Unix seconds; anything outside this is not one (and overflows datetime).
_LATEST_DATE = 2**32


def _integer(value: object) -> int | None:
    """A Telegram id: an integer (not a bool) of at most 64 bits, as the Bot API promises."""
    return value if type(value) is int and -(2**63) <= value < 2**63 else None


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _printable(value: object) -> str:
    return value if isinstance(value, str) and value.isidentifier() else "unexpected"


def _name(user: object) -> str:
    parts = (getattr(user, "first_name", None), getattr(user, "last_name", None))
    return clean_text(" ".join(p for p in parts if isinstance(p, str) and p))


def _core_person(value: object) -> dict[str, Any] | None:
    if not isinstance(value, dict) or _integer(value.get("id")) is None:
        return None
    return {"id": value["id"], "is_bot": value.get("is_bot") is True,
            "first_name": _text(value.get("first_name")), **({"last_name": value["last_name"]}
                                                               if isinstance(value.get("last_name"), str) else {})}


def _core_message(value: object) -> dict[str, Any] | None:
    """A message cut down to the fields this channel reads, each of the type the Bot API gives it."""
    if not isinstance(value, dict) or _integer(value.get("message_id")) is None:
        return None  # without its id a message cannot be told from its re-delivery
    date = value.get("date")
    core: dict[str, Any] = {
        "message_id": value["message_id"],
        "date": date if type(date) is int and 0 <= date < _LATEST_DATE else int(datetime.now(UTC).timestamp()),
    }
    chat = value.get("chat")
    if isinstance(chat, dict) and _integer(chat.get("id")) is not None and isinstance(chat.get("type"), str):
        core["chat"] = {"id": chat["id"], "type": chat["type"]}
    if (person := _core_person(value.get("from"))) is not None:
        core["from"] = person
    for key in ("text", "caption"):
        if isinstance(value.get(key), str):
            core[key] = value[key]
    contact = value.get("contact")
    if isinstance(contact, dict) and isinstance(contact.get("phone_number"), str):
        core["contact"] = {"phone_number": contact["phone_number"], "first_name": _text(contact.get("first_name")),
                           **({"user_id": contact["user_id"]} if _integer(contact.get("user_id")) is not None
                              else {})}
    return core


def read_update(data: Any, bot: Any) -> Update | None:
    """The update PTB makes of ``data``; when some part of it has an unexpected shape (a photo size without
    its id, a string where an object belongs), the same update cut down to the fields this channel reads,
    so the message is still stored and answered. None when not even that is an update."""
    if not isinstance(data, dict) or _integer(data.get("update_id")) is None:
        return None
    try:
        return Update.de_json(data, bot)
    except READ_ERRORS:
        pass
    core: dict[str, Any] = {"update_id": data["update_id"]}
    if (message := _core_message(data.get("message"))) is not None:
        core["message"] = message
    query = data.get("callback_query")
    if isinstance(query, dict) and isinstance(query.get("id"), str) and (
        person := _core_person(query.get("from"))
    ) is not None:
        core["callback_query"] = {"id": query["id"], "from": person,
                                  "chat_instance": _text(query.get("chat_instance")),
                                  **({"data": query["data"]} if isinstance(query.get("data"), str) else {}),
                                  **({"message": m} if (m := _core_message(query.get("message"))) else {})}
    try:
        return Update.de_json(core, bot)
    except READ_ERRORS:
        return None


def read_message(update: Update, payload: Mapping[str, Any]) -> InboundMessage | str:
    """The InboundMessage of a message update, or why there is none ("ignored:..."). Pure: no I/O.

    PTB checks no types (a ``first_name`` of 123 comes back as the int 123), so every field read here is
    checked: a message whose chat, sender or text has an unexpected shape is read as far as it can be,
    and one that cannot be answered at all is acknowledged and logged, never failed on later."""
    message = update.message
    if message is None:
        log.debug("telegram update %s of an unsupported type ignored", update.update_id)
        return "ignored:type"
    chat = message.chat
    chat_type = getattr(chat, "type", None) if chat is not None else ChatType.PRIVATE
    if chat_type != ChatType.PRIVATE:
        # Groups and channels would expose one user's identity and answers to everyone in them.
        log.info("telegram update %s from a %s chat ignored", update.update_id, _printable(chat_type))
        return "ignored:chat"
    user = message.from_user
    if user is None or user.is_bot is not False:
        return "ignored:sender"
    # A private chat's id is its user's id: a message that came without its chat is answered there.
    chat_id = _integer(getattr(chat, "id", None)) if chat is not None else _integer(user.id)
    message_id = _integer(message.message_id)
    if chat_id is None or message_id is None:
        log.warning("telegram update %s: a message without a usable chat or message id; acknowledged, not stored",
                    update.update_id)
        return "ignored:shape"
    phone = None
    contact = message.contact
    if contact is not None and _integer(contact.user_id) == _integer(user.id) and _integer(user.id) is not None:
        number = contact.phone_number
        phone = number if isinstance(number, str) and _PHONE.fullmatch(number) else None
    return InboundMessage(
        channel=ChannelKind.TELEGRAM,
        external_id=str(chat_id),
        provider_message_id=f"{chat_id}:{message_id}",
        # A sticker, photo without caption... arrives as empty text: the flow asks for words instead.
        text=clean_text(_text(message.text) or _text(message.caption)),
        received_at=_aware(message.date) if isinstance(message.date, datetime) else datetime.now(UTC),
        display_name=_name(user),
        phone=phone,
        raw=payload,
    )


def read_button_press(update: Update, payload: Mapping[str, Any]) -> InboundMessage | str:
    """The InboundMessage of a pressed inline button (its value is the text), or why there is none."""
    query = update.callback_query
    message = getattr(query, "message", None)
    chat = getattr(message, "chat", None)
    chat_id = _integer(getattr(chat, "id", None))
    query_id = getattr(query, "id", None)  # a string in the Bot API
    data = getattr(query, "data", None)
    if (getattr(chat, "type", None) != ChatType.PRIVATE or chat_id is None or not isinstance(query_id, str)
            or not query_id or not isinstance(data, str) or not data):
        return "ignored:callback"
    return InboundMessage(
        channel=ChannelKind.TELEGRAM,
        external_id=str(chat_id),
        provider_message_id=provider_key(f"cb:{query_id}"),
        text=clean_text(data),
        received_at=datetime.now(UTC),
        display_name=_name(getattr(query, "from_user", None)),
        raw=payload,
    )


def _maybe_sent(exc: NetworkError) -> bool:
    """True when the request may have reached Telegram: a refused connection did not, a dropped one may."""
    message = exc.message
    refused = message.startswith(("httpx.ConnectError", "httpx.ConnectTimeout"))
    return message.startswith("httpx.") and not refused


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
