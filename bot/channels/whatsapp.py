"""WhatsApp through Twilio: signed webhooks in, the real ``twilio`` client (async HTTP) out.

Inbound: ``POST /webhooks/twilio/whatsapp`` is checked with twilio's ``RequestValidator`` over the public
URL (a proxy in front changes ``request.url``, not what Twilio signed), handed to the flow, which dedupes on
``MessageSid``, and answered with empty TwiML. Outbound: free-form text inside WhatsApp's 24-hour window
(counted from the user's last message), an approved template (``ContentSid`` + ``ContentVariables``)
outside it. ``POST /webhooks/twilio/status`` moves a message's delivery status forward only: callbacks
arrive out of order, and "sent" after "delivered" must not undo it.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import re
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import aiohttp
from aiohttp import web
from twilio.base.exceptions import TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from bot.channels.base import ChannelBase, Downloads, Handler, InboundMessage, split_message
from bot.channels.fetch import (
    HTTPS_PORT,
    Fetched,
    FetchPolicy,
    HostSuffix,
    Origin,
    Rule,
    fetch_file,
    provider_origin,
    stand_in_origin,
)
from bot.config import Settings
from handoff import reply_window
from handoff.attachments import (
    AttachmentStore,
    Refusal,
    content_disposition,
    extension_for,
    normalise_type,
)
from handoff.delivery import (
    Capabilities,
    DeliveryError,
    Lookup,
    OutboundAttachment,
    OutboundMessage,
    Purpose,
    SendResult,
    SentLookup,
    purpose_of,
)
from handoff.reachability import mark_unreachable
from handoff.webinput import InputError, ascii_int, parse_id, provider_key, read_form, text_fields
from models import (
    Attachment,
    ChannelKind,
    Conversation,
    DeliveryStatus,
    Message,
)

log = logging.getLogger(__name__)

INBOUND_PATH = "/webhooks/twilio/whatsapp"
STATUS_PATH = "/webhooks/twilio/status"
# Files we send are fetched by Twilio from here: no session, a signed and expiring token in the path.
MEDIA_PATH = "/webhooks/twilio/media"
MEDIA_URL_TTL = timedelta(hours=2)
SIGNATURE_HEADER = "X-Twilio-Signature"
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'
MAX_BODY = 1600  # Twilio's limit for Body (error 21617)
MAX_TEMPLATE_VARIABLE = 1000
MAX_MEDIA = 10  # Twilio sends at most 10 media items per message
TWILIO_TIMEOUT = 15.0
# The template (Content SID) used outside the window, by purpose; set as TWILIO_TEMPLATE_<PURPOSE>.
TEMPLATE_PURPOSES = ("agent_reply", "ticket_resolved", "survey")
# Which template each purpose goes out as; the bot's own answers share the agent's reply template.
TEMPLATE_FOR: dict[Purpose, str] = {
    Purpose.BOT_ANSWER: "agent_reply",
    Purpose.AGENT_REPLY: "agent_reply",
    Purpose.SURVEY: "survey",
    Purpose.RESOLUTION_NOTICE: "ticket_resolved",
}

# Media the user sends is fetched from Twilio only (bot.channels.fetch), into the attachment store within its
# configured size and type limits. A MediaUrl is a resource of our account on Twilio's API, fetched with the
# account's credentials; Twilio answers it with a redirect to a short-lived URL on its CDN, on
# mms.twiliocdn.com when media need HTTP auth, on s3-external-1.amazonaws.com/media.twiliocdn.com/ for
# media stored before that (Twilio: "Protect Media Access with HTTP Basic Authentication").
TWILIO_API_URL = "https://api.twilio.com"
TWILIO_MEDIA_REDIRECTS: tuple[Rule, ...] = (
    HostSuffix("twiliocdn.com"),
    Origin("https", "s3-external-1.amazonaws.com", HTTPS_PORT, "/media.twiliocdn.com/"),
)

# Error codes after which this address will not receive anything we send.
UNREACHABLE_CODES = frozenset({21211, 21214, 21610, 21614, 63003, 63024})
OUTSIDE_WINDOW = 63016
# Marks a free-form message WhatsApp refused with 63016 (its clock closed the window before ours did),
# queued again so the outbox sends it as a template.
RESEND_AS_TEMPLATE = "twilio 63016: the window had closed; queued again to be sent as a template"
RATE_LIMITED = 20429
# Asking Twilio about a send cut off mid-way (``lookup_sent``): at most this many of the messages to the
# address, newest first, in pages of this size: bounded work per row, and far more than one person is
# sent in the minutes since a claim.
LOOKUP_LIMIT = 100
LOOKUP_PAGE = 50

# Twilio's MessageStatus → ours, and which of our statuses each may replace (never a step backwards).
_STATUS: dict[str, DeliveryStatus] = {
    "sent": DeliveryStatus.SENT,
    "delivered": DeliveryStatus.DELIVERED,
    "read": DeliveryStatus.READ,
    "failed": DeliveryStatus.FAILED,
    "undelivered": DeliveryStatus.FAILED,
    "canceled": DeliveryStatus.FAILED,
}
_REPLACES: dict[DeliveryStatus, tuple[DeliveryStatus, ...]] = {
    DeliveryStatus.SENT: (DeliveryStatus.QUEUED, DeliveryStatus.UNKNOWN),
    DeliveryStatus.DELIVERED: (DeliveryStatus.QUEUED, DeliveryStatus.UNKNOWN, DeliveryStatus.SENT),
    DeliveryStatus.READ: (
        DeliveryStatus.QUEUED, DeliveryStatus.UNKNOWN, DeliveryStatus.SENT, DeliveryStatus.DELIVERED
    ),
    DeliveryStatus.FAILED: (DeliveryStatus.QUEUED, DeliveryStatus.UNKNOWN, DeliveryStatus.SENT),
}

_WHITESPACE = re.compile(r"\s+")
# What Twilio sends as From for WhatsApp: the E.164 number behind "whatsapp:". Anything else (longer than
# the contact's phone column, or not a number) is not a WhatsApp sender we could ever answer.
_SENDER = re.compile(r"whatsapp:\+?[0-9]{1,20}")


class BadFormError(Exception):
    """The webhook body is signed but not a message we can read."""


def whatsapp_address(number: str) -> str:
    number = number.strip()
    return number if number.startswith("whatsapp:") else f"whatsapp:{number}"


def split_body(text: str, limit: int = MAX_BODY) -> list[str]:
    return split_message(text, limit)


def render_buttons(message: OutboundMessage) -> str:
    """Free-form WhatsApp has no buttons: list the answers to type, unless the text already names them."""
    if not message.buttons or all(b.value in message.text for b in message.buttons):
        return message.text
    options = "\n".join(f"{b.value}. {b.label}" for b in message.buttons)
    return f"{message.text}\n\n{options}"


def template_variable(text: str) -> str:
    # Template parameters may not contain new lines, tabs or runs of spaces (Meta rejects them).
    flat = _WHITESPACE.sub(" ", text).strip()
    return flat if len(flat) <= MAX_TEMPLATE_VARIABLE else flat[: MAX_TEMPLATE_VARIABLE - 1] + "…"


class WhatsAppChannel(ChannelBase):
    kind = ChannelKind.WHATSAPP
    capabilities = Capabilities(buttons=True, files=True, reply_window=reply_window.WHATSAPP)

    @classmethod
    def from_settings(cls, settings: Settings, store: AttachmentStore) -> WhatsAppChannel | None:
        if not (settings.twilio_account_sid and settings.twilio_auth_token and settings.twilio_whatsapp_from):
            return None
        return cls(
            account_sid=settings.twilio_account_sid,
            auth_token=settings.twilio_auth_token,
            from_number=settings.twilio_whatsapp_from,
            api_base_url=settings.twilio_api_base_url,
            public_url=settings.public_url,
            templates=settings.twilio_templates,
            store=store,
        )

    def __init__(
        self,
        *,
        account_sid: str,
        auth_token: str,
        from_number: str,
        api_base_url: str = "",
        public_url: str = "",
        templates: Mapping[str, str] | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        timeout: float = TWILIO_TIMEOUT,
        store: AttachmentStore | None = None,
    ) -> None:
        self.account_sid = account_sid
        self._auth_token = auth_token
        self.sender = whatsapp_address(from_number)
        self.api_base_url = api_base_url.rstrip("/")
        self.public_url = public_url.rstrip("/")
        self.templates = dict(templates or {})
        self.clock = clock
        self.timeout = timeout
        self.validator = RequestValidator(auth_token)
        self._handle: Handler | None = None
        self._http: Any = None
        self._client: Any = None
        self.store = store
        self._media_session: aiohttp.ClientSession | None = None
        self._downloads = Downloads("whatsapp")
        self.media_policy = media_policy(account_sid=account_sid, api_base_url=self.api_base_url)

    # -- outbound ---------------------------------------------------------------------------------

    async def send(self, message: OutboundMessage) -> SendResult:
        client = self._client
        if client is None:
            raise DeliveryError("twilio client not started")
        # Delivery tells when the user last wrote and handoff.reply_window judges the window; WhatsApp's own
        # clock may have closed it first, and then the message came back to go as a template.
        in_window = message.can_send_freely(self.clock())
        if in_window and await Message.exists(id=message.message_id, delivery_error=RESEND_AS_TEMPLATE):
            in_window = False
        common: dict[str, Any] = {"to": message.recipient, "from_": self.sender}
        callback = self._status_callback(message.message_id)
        note: str | None = None
        if in_window:
            if message.attachments and not self.public_url:
                raise DeliveryError("files on WhatsApp need PUBLIC_URL (Twilio fetches them from us)", permanent=True)
            text = render_buttons(message)
            bodies: list[dict[str, Any]] = [{"body": part} for part in split_body(text)] if text.strip() else []
            # WhatsApp carries one file per message: each goes as its own message after the words.
            bodies += [{"media_url": [self.media_url(item)]} for item in message.attachments]
            requests = [
                {**common, **body, **({"status_callback": callback} if callback and last_part else {})}
                for body, last_part in ((b, i == len(bodies) - 1) for i, b in enumerate(bodies))
            ]
        else:
            if message.attachments:
                # An approved template carries words only; the agent sees the files were not sent.
                note = f"{len(message.attachments)} file(s) not sent: outside the WhatsApp 24-hour window"
            purpose = TEMPLATE_FOR[message.purpose]
            content_sid = self.templates.get(purpose)
            if not content_sid:
                raise DeliveryError(
                    f"outside the WhatsApp 24-hour window and no template for {purpose!r} "
                    f"(set TWILIO_TEMPLATE_{purpose.upper()})",
                    permanent=True,
                )
            variables = json.dumps({"1": template_variable(message.text)}, ensure_ascii=False)
            requests = [{**common, "content_sid": content_sid, "content_variables": variables,
                         **({"status_callback": callback} if callback else {})}]
        if not requests:
            raise DeliveryError("nothing to send: no text and no file", permanent=True)
        sid: str | None = None
        for params in requests:
            try:
                created = await client.messages.create_async(**params)
            except TwilioRestException as exc:
                if exc.status >= 500 or exc.code == 20500:
                    # Twilio may have created it: recorded as unknown, never blindly sent again.
                    return SendResult(provider_message_id=sid, status=DeliveryStatus.UNKNOWN,
                                      error=f"twilio {exc.status}/{exc.code}")
                error = _delivery_error(exc)
                if sid is not None:
                    # Part of it reached the user: sending it all again would repeat that part.
                    return SendResult(provider_message_id=sid, status=DeliveryStatus.FAILED,
                                      error=f"partly sent: {error.reason}"[:500])
                raise error from None
            except aiohttp.ClientConnectorError as exc:
                if sid is not None:
                    return SendResult(provider_message_id=sid, status=DeliveryStatus.FAILED,
                                      error=f"partly sent: twilio unreachable: {exc.__class__.__name__}")
                raise DeliveryError(f"twilio unreachable: {exc.__class__.__name__}") from None
            except (TimeoutError, aiohttp.ClientError) as exc:
                return SendResult(provider_message_id=sid, status=DeliveryStatus.UNKNOWN,
                                  error=f"no answer from twilio: {exc.__class__.__name__}")
            sid = str(created.sid)
        return SendResult(provider_message_id=sid, status=DeliveryStatus.SENT, error=note)

    async def lookup_sent(self, message: OutboundMessage, *, since: datetime) -> SentLookup:
        """Did Twilio take this message? Asked by the outbox about a row left ``unknown`` (handoff.outbox).

        Twilio's Messages list, filtered by To and From (the recipient and our sender), newest first, at
        most ``LOOKUP_LIMIT`` of them. Not by ``DateSent``: a message Twilio took but has not yet sent has
        no date_sent, and would be missed, then sent twice. Instead a listed message counts when it was
        created at or after ``since`` (our claim less a clock skew), is outbound, and its SID is on no
        other row of ours. The list carries no StatusCallback (our row id) and no ContentSid, so the rule
        is by content:
        - free-form (what ``send`` makes inside the window): every part's Body equal, in order, and a
          media message (empty Body, NumMedia > 0) per file. All parts → found, the last part's SID (as
          ``send`` keeps); some → partly sent; none → try the template;
        - a template (possible when the window is closed now, or the row was queued again after 63016,
          and a template is configured for its purpose): Twilio lists the rendered template, which contains
          the one variable we fill (``template_variable`` of the text) → found.
        Nothing matches → not found, when the list went back past ``since`` (or ended); otherwise (more
        than ``LOOKUP_LIMIT`` messages since) and whenever Twilio does not answer → cannot tell.
        """
        client = self._client
        if client is None:
            return SentLookup.cannot_tell("twilio client not started")
        try:
            listed: list[Any] = await client.messages.list_async(
                to=message.recipient, from_=self.sender, limit=LOOKUP_LIMIT, page_size=LOOKUP_PAGE
            )
        except TwilioRestException as exc:
            return SentLookup.cannot_tell(f"twilio {exc.status}/{exc.code} on the Messages list")
        except (TimeoutError, aiohttp.ClientError) as exc:
            return SentLookup.cannot_tell(f"no answer from twilio: {exc.__class__.__name__}")
        recent = [item for item in listed if item.date_created is None or item.date_created >= since]
        went_back = len(listed) < LOOKUP_LIMIT or len(recent) < len(listed)
        sids = [str(item.sid) for item in recent]
        others = await Message.filter(channel=ChannelKind.WHATSAPP, provider_message_id__in=sids).exclude(
            id=message.message_id).values_list("provider_message_id", flat=True) if sids else []
        taken = {str(sid) for sid in others}
        # Oldest first, so parts are matched in the order they were sent.
        candidates = [item for item in reversed(recent)
                      if str(item.sid) not in taken and str(getattr(item.direction, "value", item.direction))
                      .startswith("outbound")]
        text = render_buttons(message)
        parts: list[str | None] = [*(split_body(text) if text.strip() else []), *(None for _ in message.attachments)]
        matched: list[Any] = []
        for part in parts:
            match = next((item for item in candidates if item not in matched and _is_part(item, part)), None)
            if match is not None:
                matched.append(match)
        if parts and len(matched) == len(parts):
            return _found(matched[-1])
        if matched:
            return SentLookup(Lookup.PARTLY, provider_message_id=str(matched[-1].sid),
                              reason=f"twilio has {len(matched)} of its {len(parts)} parts")
        if await self._template_possible(message):
            variable = template_variable(message.text)
            match = next((item for item in candidates if variable and variable in (item.body or "")), None)
            if match is not None:
                return _found(match)
        if went_back:
            return SentLookup(Lookup.NOT_FOUND)
        return SentLookup.cannot_tell(f"over {LOOKUP_LIMIT} messages to the address since the claim")

    async def _template_possible(self, message: OutboundMessage) -> bool:
        if not self.templates.get(TEMPLATE_FOR[message.purpose]):
            return False  # send refuses it without a template: nothing was created
        # The window only closes as time goes: closed at the claim means closed now.
        return not message.can_send_freely(self.clock()) or await Message.exists(
            id=message.message_id, delivery_error=RESEND_AS_TEMPLATE)

    # -- files Twilio fetches from us -------------------------------------------------------------

    def _media_signature(self, attachment_id: int, expires: int) -> str:
        # The auth token is the secret Twilio and we already share; every process derives the same key.
        key = hashlib.sha256(f"carecenter-media:{self._auth_token}".encode()).digest()
        return hmac.new(key, f"{attachment_id}:{expires}".encode(), hashlib.sha256).hexdigest()

    def media_url(self, item: OutboundAttachment) -> str:
        expires = int((self.clock() + MEDIA_URL_TTL).timestamp())
        signature = self._media_signature(item.id, expires)
        # The name at the end is what WhatsApp shows for a document; it is not part of what is signed.
        return f"{self.public_url}{MEDIA_PATH}/{item.id}/{expires}/{signature}/{quote(item.filename, safe='')}"

    async def _media(self, request: web.Request) -> web.StreamResponse:
        info = request.match_info
        attachment_id = parse_id(info["id"])
        expires = ascii_int(info["expires"], low=0, high=2**63 - 1)
        if attachment_id is None or expires is None:
            raise web.HTTPNotFound(text="not found")
        good = hmac.compare_digest(info["signature"], self._media_signature(attachment_id, expires))
        if not good or expires < self.clock().timestamp():
            log.info("media request for attachment %s refused (%s)", attachment_id, "expired" if good else "bad token")
            raise web.HTTPNotFound(text="not found")
        row = await Attachment.get_or_none(id=attachment_id, message__channel=ChannelKind.WHATSAPP)
        store = self.store
        if row is None or row.storage_key is None or store is None:
            raise web.HTTPNotFound(text="not found")
        path = store.path(row.storage_key)
        if not await asyncio.to_thread(path.is_file):
            raise web.HTTPNotFound(text="not found")
        # The real type: WhatsApp decides image, document... from it; the token keeps it from anyone else.
        return web.FileResponse(path, headers={
            "Content-Type": row.content_type, "Content-Disposition": content_disposition(row.filename),
            "X-Content-Type-Options": "nosniff", "Cache-Control": "no-store",
        })

    def _status_callback(self, message_id: int) -> str | None:
        # Our row id travels in the (signed) callback URL, so a callback that beats the save of the
        # provider id still finds its message.
        return f"{self.public_url}{STATUS_PATH}?m={message_id}" if self.public_url else None

    # -- inbound ----------------------------------------------------------------------------------

    async def _signed_form(self, request: web.Request) -> Mapping[str, str] | web.Response:
        if request.content_type != "application/x-www-form-urlencoded":
            # Twilio posts only url-encoded forms; anything else is not from Twilio.
            return web.Response(status=415, text="expected application/x-www-form-urlencoded")
        try:
            form = await read_form(request)
        except InputError as problem:
            # Unreadable before any signature could be checked: the same answer whoever sent it, and the
            # reason names only what is wrong with the body.
            return web.Response(status=problem.status, text=problem.reason)
        url = f"{self.public_url}{request.rel_url}" if self.public_url else str(request.url)
        signature = request.headers.get(SIGNATURE_HEADER, "")
        if not signature or not self.validator.validate(url, form, signature):
            log.warning("twilio webhook with a bad signature refused on %s", request.path)
            return web.Response(status=403, text="invalid signature")
        return text_fields(form)  # cleaned after the check: Twilio signed what it sent

    async def _inbound(self, request: web.Request) -> web.Response:
        form = await self._signed_form(request)
        if isinstance(form, web.Response):
            return form
        try:
            inbound = self.to_inbound(form)
        except BadFormError as exc:
            return web.Response(status=400, text=str(exc))
        handle = self._handle
        if handle is None:
            raise RuntimeError("WhatsAppChannel.setup() was not called")
        await handle(inbound)  # kept: Twilio may have its answer; the media follow once it is stored
        return web.Response(text=EMPTY_TWIML, content_type="text/xml")

    def fetch_files(self, message: InboundMessage) -> None:
        """The media of a message just stored, downloaded in the background (bot.inbound calls this)."""
        media = list(message.raw.get("media") or [])
        if media and self.store is not None:
            self._downloads.start(self._download_media(message.provider_message_id, media),
                                  provider_message_id=message.provider_message_id)

    async def _download_media(self, message_sid: str, media: list[dict[str, Any]]) -> None:
        row = await Message.get_or_none(channel=ChannelKind.WHATSAPP, provider_message_id=message_sid)
        store = self.store
        if row is None or store is None:
            return
        for index, item in enumerate(media):
            declared = normalise_type(str(item.get("content_type", "")))
            try:
                fetched = await self._fetch_one(dict(item), store)
            except Exception as exc:  # whatever went wrong, the row is written: the agent sees it was not fetched
                fetched = Fetched(None, 0, Refusal.DOWNLOAD_FAILED, why=exc.__class__.__name__)
            if fetched.refused is not None and fetched.why:
                # A refusal is the policy at work; a failed download is something for the operator to look at.
                level = logging.WARNING if fetched.refused == Refusal.DOWNLOAD_FAILED else logging.INFO
                log.log(level, "whatsapp media %d of message %s not fetched: %s (%s)", index, row.id,
                        fetched.refused, fetched.why)
            name = f"whatsapp-{index + 1}{extension_for(declared)}"
            await store.keep(message=row, position=index, filename=name,
                             content_type=declared or "application/octet-stream", data=fetched.data,
                             size=fetched.size, refused=fetched.refused)

    async def _fetch_one(self, item: dict[str, Any], store: AttachmentStore) -> Fetched:
        """The media item's bytes, or why they were not fetched (with the size when Twilio told it)."""
        url = str(item.get("url", ""))
        declared = normalise_type(str(item.get("content_type", "")))
        allowed, why = self.media_policy.admit(url)
        if allowed is None:
            return Fetched(None, 0, Refusal.SOURCE_NOT_ALLOWED, why=why)
        if not store.policy.allows_type(declared):
            return Fetched(None, 0, Refusal.TYPE_NOT_ALLOWED)
        session = self._media_session
        if session is None:
            return Fetched(None, 0, Refusal.DOWNLOAD_FAILED, why="not started")
        token = base64.b64encode(f"{self.account_sid}:{self._auth_token}".encode()).decode()
        return await fetch_file(session, url, policy=self.media_policy, max_bytes=store.policy.max_bytes,
                                credentials={"Authorization": f"Basic {token}"}, expected_type=declared)

    async def settle(self) -> None:
        """Wait for media downloads in flight (tests, and a clean shutdown)."""
        await self._downloads.settle()

    def to_inbound(self, form: Mapping[str, str]) -> InboundMessage:
        sid = form.get("MessageSid") or form.get("SmsMessageSid") or ""
        sender = form.get("From", "")
        if not sid or not sender.startswith("whatsapp:"):
            raise BadFormError("MessageSid and a whatsapp: From are required")
        if not _SENDER.fullmatch(sender):
            raise BadFormError("From is not a WhatsApp number")
        if form.get("AccountSid", self.account_sid) != self.account_sid:
            raise BadFormError("message for another account")
        count = ascii_int(form.get("NumMedia", "0") or "0", low=0, high=MAX_MEDIA)
        if count is None:
            raise BadFormError(f"NumMedia must be a number from 0 to {MAX_MEDIA}")
        media = [
            {"url": form.get(f"MediaUrl{i}", ""), "content_type": form.get(f"MediaContentType{i}", "")}
            for i in range(count)
        ]
        # A tapped quick-reply button carries its value in ButtonPayload; Body holds only its label.
        text = form.get("ButtonPayload") or form.get("Body", "")
        return InboundMessage(
            channel=ChannelKind.WHATSAPP,
            external_id=sender,
            # A MessageSid is 34 characters; a longer one is still stored once (its full text is in raw).
            provider_message_id=provider_key(sid),
            text=text,
            received_at=datetime.now(UTC),
            display_name=form.get("ProfileName", ""),
            phone=sender.removeprefix("whatsapp:"),
            raw={"form": dict(form), "media": media},
        )

    async def _status(self, request: web.Request) -> web.Response:
        form = await self._signed_form(request)
        if isinstance(form, web.Response):
            return form
        try:
            callback = read_status(form, request.query.get("m", ""))
        except BadFormError as exc:
            return web.Response(status=400, text=str(exc))
        new, error_code, code, message_id = (callback.status, callback.error_text, callback.error_code,
                                             callback.message_id)
        if new is None:  # queued, sending, accepted...: nothing we track beyond "sent"
            return web.Response(status=204)
        rows = Message.filter(channel=ChannelKind.WHATSAPP)
        rows = rows.filter(id=message_id) if message_id is not None else rows.filter(provider_message_id=callback.key)
        reported = callback.reported
        changes: dict[str, Any] = {"delivery_status": new}
        if new == DeliveryStatus.FAILED:
            changes["delivery_error"] = f"twilio {reported} {error_code}".strip()[:500]
        # One conditional UPDATE: two callbacks racing can only ever move the status forward.
        updated = await rows.filter(delivery_status__in=_REPLACES[new]).update(**changes)
        unreachable = code in UNREACHABLE_CODES
        if updated and new == DeliveryStatus.FAILED and unreachable:
            row = await rows.first()
            if row is not None:
                conversation = await Conversation.get(id=row.conversation_id)
                await mark_unreachable(identity_id=conversation.identity_id,
                                       reason=f"twilio {reported} {error_code}")
        if updated and new == DeliveryStatus.FAILED and code == OUTSIDE_WINDOW:
            await self._requeue_as_template(rows)
        log.info("twilio status %s for message %s (%s)", reported, message_id or "-",
                 "applied" if updated else "kept")
        return web.Response(status=204)

    async def _requeue_as_template(self, rows: Any) -> None:
        """A free-form message refused for the window is not lost: with a template it goes out again."""
        row: Message | None = await rows.first()
        if row is None:
            return
        purpose = TEMPLATE_FOR[await purpose_of(row, has_buttons=bool(row.buttons))]
        if not self.templates.get(purpose):
            return
        # Safe to send again: Twilio reported this one failed, so the user never received it.
        requeued = await Message.filter(id=row.id, delivery_status=DeliveryStatus.FAILED).update(
            delivery_status=DeliveryStatus.QUEUED, delivery_error=RESEND_AS_TEMPLATE
        )
        if requeued:
            log.info("message %s queued again to go out as the %s template", row.id, purpose)

    # -- aiohttp wiring ---------------------------------------------------------------------------

    def setup(self, app: web.Application, handle: Handler, *, polls: bool = True) -> None:
        # ``polls`` is unused: WhatsApp only ever arrives by webhook.
        self._handle = handle
        app.router.add_post(INBOUND_PATH, self._inbound)
        app.router.add_post(STATUS_PATH, self._status)
        app.router.add_get(MEDIA_PATH + "/{id}/{expires}/{signature}/{name}", self._media)
        app.cleanup_ctx.append(self._lifecycle)

    async def _lifecycle(self, _app: web.Application) -> AsyncIterator[None]:
        await self.start()
        yield
        await self.stop()

    async def start(self) -> None:
        # AsyncTwilioHttpClient opens an aiohttp session, which needs the running loop.
        self._http = AsyncTwilioHttpClient(timeout=self.timeout)
        client = Client(self.account_sid, self._auth_token, http_client=self._http)
        if self.api_base_url:
            client.api.base_url = self.api_base_url
        self._client = client
        if self.store is not None:
            self._media_session = aiohttp.ClientSession()

    async def stop(self) -> None:
        self._client = None
        await self.settle()
        if self._media_session is not None:
            await self._media_session.close()
            self._media_session = None
        if self._http is not None:
            await self._http.close()
            self._http = None
            await asyncio.sleep(0)  # let aiohttp close its connector before the loop ends


def media_policy(*, account_sid: str, api_base_url: str = "") -> FetchPolicy:
    """Where WhatsApp media may be fetched from: our account's media on Twilio's API (or the configured
    stand-in of it), then Twilio's CDN; the credentials go to the API only."""
    prefix = f"/2010-04-01/Accounts/{account_sid}/"
    if not api_base_url:
        api = provider_origin(TWILIO_API_URL, path_prefix=prefix)
        return FetchPolicy(start=(api,), redirects=TWILIO_MEDIA_REDIRECTS, credentials=api)
    stand_in = stand_in_origin(api_base_url, path_prefix=prefix)
    if stand_in is None:
        return FetchPolicy(start=())
    # A stand-in plays the CDN on its own origin too.
    anywhere_on_it = Origin(stand_in.scheme, stand_in.host, stand_in.port)
    return FetchPolicy(start=(stand_in,), redirects=(anywhere_on_it, *TWILIO_MEDIA_REDIRECTS), credentials=stand_in)


@dataclass(frozen=True, slots=True)
class StatusCallback:
    """What a status callback says, read and checked (``read_status``)."""

    reported: str  # Twilio's MessageStatus
    status: DeliveryStatus | None  # ours; None for a status not tracked (queued, sending...)
    key: str  # the provider id as stored (``provider_key``)
    error_code: int | None
    error_text: str  # ErrorCode as sent, for the message's delivery error
    message_id: int | None  # our row id, from the ?m= of the callback URL we gave Twilio


def read_status(form: Mapping[str, str], m: str) -> StatusCallback:
    """A status callback's fields, or BadFormError naming what is wrong. Pure: no I/O."""
    sid = form.get("MessageSid", "")
    reported = form.get("MessageStatus", "")
    if not sid or not reported:
        raise BadFormError("MessageSid and MessageStatus are required")
    message_id = parse_id(m) if m else None
    if m and message_id is None:  # not a callback URL we made (they carry our row id)
        raise BadFormError("m must be a message id")
    error_text = form.get("ErrorCode", "")
    code = ascii_int(error_text, low=0, high=10**9) if error_text else None
    if error_text and code is None:
        raise BadFormError("ErrorCode must be a number")
    return StatusCallback(reported=reported, status=_STATUS.get(reported), key=provider_key(sid), error_code=code,
                          error_text=error_text, message_id=message_id)


def _is_part(item: Any, part: str | None) -> bool:
    """A listed Twilio message is this part: its Body (a text part), or a media message (``None``)."""
    if part is None:
        return not item.body and (ascii_int(str(item.num_media or "0"), low=0, high=MAX_MEDIA) or 0) > 0
    return bool(item.body == part)


def _found(item: Any) -> SentLookup:
    reported = str(getattr(item.status, "value", item.status))
    status = _STATUS.get(reported, DeliveryStatus.SENT)
    error = f"twilio {reported} {item.error_code or ''}".strip() if status == DeliveryStatus.FAILED else ""
    return SentLookup(Lookup.FOUND, provider_message_id=provider_key(str(item.sid)), status=status, reason=error)


def _delivery_error(exc: TwilioRestException) -> DeliveryError:
    code = exc.code
    if exc.status == 429 or code == RATE_LIMITED:
        # Twilio refused before queueing anything and says nothing of how long to wait (no retry_after in
        # its error body): the outbox's default pause applies, and no try is counted.
        return DeliveryError(f"rate limited by twilio ({code})", throttled=True)
    if code == OUTSIDE_WINDOW:
        return DeliveryError("twilio 63016: outside the WhatsApp 24-hour window", permanent=True)
    if code in UNREACHABLE_CODES:
        return DeliveryError(f"twilio {code}: recipient cannot receive WhatsApp messages", permanent=True,
                             unreachable=True)
    if exc.status in (401, 403):
        # Credentials are the operator's to fix; the message waits for that.
        return DeliveryError(f"twilio refused our credentials ({code})")
    return DeliveryError(f"twilio rejected the message ({exc.status}/{code})", permanent=True)
