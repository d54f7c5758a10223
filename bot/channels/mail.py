"""E-mail: a mailbox polled over IMAP (aioimaplib), replies over SMTP (aiosmtplib), threaded by Message-ID.

A mail is handed to the flow before it is flagged \\Seen, so a crash in between re-reads it and the flow's
dedupe on Message-ID keeps it single. Auto-replies, bounces and bulk mail are flagged and never answered
(RFC 3834), and the bot's own replies carry ``Auto-Submitted: auto-replied``: two robots never loop.
Replies thread with ``In-Reply-To``/``References`` on the user's last mail, so they land in the same
conversation in the user's mail client too.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import ssl
from collections.abc import AsyncIterator, Mapping
from contextlib import suppress
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import make_msgid, parseaddr
from typing import Any

import aiosmtplib
from aiohttp import web
from aioimaplib import IMAP4, IMAP4_SSL
from lxml import etree
from lxml import html as lxml_html

from bot.channels.base import ChannelBase, Handler, InboundMessage
from bot.config import ConfigError, Settings
from handoff.attachments import AttachmentStore, NewFile, normalise_type
from handoff.delivery import Capabilities, DeliveryError, OutboundMessage, SendResult
from handoff.escalation_mail import MailError
from handoff.webinput import clean_text, provider_key
from models import Attachment, ChannelKind, DeliveryStatus, Direction, Message, SenderKind

log = logging.getLogger(__name__)

MAX_MAIL_BYTES = 10 * 1024 * 1024
# RFC 5321: a path is at most 256 octets with its angle brackets. A longer From cannot be answered (no
# server would take it as a recipient), so such a mail is skipped, not stored under a cut address.
MAX_ADDRESS_CHARS = 254
MAX_PARTS = 100  # a MIME bomb nests thousands of parts; a real mail has a handful
MAX_PER_POLL = 50
DEFAULT_POLL_SECONDS = 30.0
DEFAULT_SUBJECT = "Care Center Edunex ITB"
_ROBOT_SENDERS = ("mailer-daemon", "postmaster", "no-reply", "noreply", "do-not-reply", "donotreply")
_QUOTE_HEADER = re.compile(
    r"^(on .{3,200} wrote:|pada .{3,200} menulis:|-{2,} ?original message ?-{2,}|-{2,} ?pesan asli ?-{2,}"
    r"|from: .+)$",
    re.IGNORECASE,
)
_BLANK_LINES = re.compile(r"\n{3,}")



_BLOCKS = frozenset({"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "blockquote"})
_SKIPPED = frozenset({"script", "style", "head"})
# libxml2's HTML parser: time linear in the markup. The standard library's HTMLParser is quadratic on
# unfinished tags (100,000 "<a" took 68 s, "</" or "<?" as many seconds), and an HTML-only mail reaches it.
_HTML = lxml_html.HTMLParser(encoding="utf-8", remove_comments=True, remove_pis=True, no_network=True)


def html_to_text(html: str) -> str:
    try:
        root = lxml_html.document_fromstring(html.encode("utf-8", "replace"), parser=_HTML)
    except (etree.ParserError, ValueError):  # nothing in it but markup, or not markup at all
        return ""
    parts: list[str] = []
    walk = etree.iterwalk(root, events=("start", "end"))
    for event, element in walk:
        tag = element.tag.lower() if isinstance(element.tag, str) else ""
        if event == "start":
            if tag in _SKIPPED:
                walk.skip_subtree()  # its end still comes, with the text after it
                continue
            if tag in _BLOCKS:
                parts.append("\n")
            parts.append(element.text or "")
        else:
            if tag in _BLOCKS and tag != "br":  # a void element: one line break, not two
                parts.append("\n")
            if element is not root:
                parts.append(element.tail or "")
    lines = [" ".join(line.split()) for line in "".join(parts).splitlines()]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


def strip_quoted(text: str) -> str:
    """The user's new words only: mail clients append the whole thread under the reply."""
    kept: list[str] = []
    for line in text.splitlines():
        stripped = line.strip()
        if _QUOTE_HEADER.match(stripped):
            break
        if stripped.startswith(">"):
            continue
        kept.append(line.rstrip())
    return _BLANK_LINES.sub("\n\n", "\n".join(kept)).strip()


@dataclass(frozen=True, slots=True)
class ParsedMail:
    sender: str
    name: str
    message_id: str
    subject: str
    text: str
    in_reply_to: str
    references: str
    attachments: list[dict[str, Any]] = field(default_factory=list)
    skip: str | None = None  # why this mail must not be answered, if it must not
    # The attachments' bytes, for the store; kept apart from ``attachments``, which goes in the payload.
    files: list[NewFile] = field(default_factory=list, repr=False, compare=False)


def _skip_reason(msg: EmailMessage, sender: str, own_address: str) -> str | None:
    if len(sender) > MAX_ADDRESS_CHARS:
        return "sender address longer than an address can be"
    auto = str(msg.get("Auto-Submitted", "no")).strip().lower()
    if auto and auto != "no":
        return f"auto-submitted ({auto})"
    if str(msg.get("Precedence", "")).strip().lower() in ("bulk", "junk", "list"):
        return "bulk mail"
    if msg.get("X-Autoreply") or msg.get("X-Autorespond") or msg.get("X-Auto-Response-Suppress", "").strip():
        return "auto-reply"
    if msg.get_content_type() == "multipart/report":
        return "delivery report"
    if sender.split("@", 1)[0] in _ROBOT_SENDERS:
        return "robot sender"
    if own_address and sender == own_address:
        return "our own mail"
    return None


def parse_mail(raw: bytes, *, own_address: str = "") -> ParsedMail | None:
    """None when the bytes are not a mail we can read at all."""
    if len(raw) > MAX_MAIL_BYTES:
        return None
    try:
        msg = BytesParser(policy=policy.default).parsebytes(raw)
        if not isinstance(msg, EmailMessage):
            return None
        name, sender = parseaddr(str(msg.get("From", "")))
        sender = sender.strip().lower()
        if "@" not in sender:
            return None
        subject = " ".join(str(msg.get("Subject", "")).split())[:200]
        message_id = str(msg.get("Message-ID", "")).strip()
        if not message_id:  # rare, but the dedupe key must exist and be stable
            message_id = f"<{hashlib.sha256(raw).hexdigest()[:40]}@no-message-id>"
        parts = list(msg.walk())
        if len(parts) > MAX_PARTS:
            return _cleaned(ParsedMail(sender, name, message_id, subject, "", "", "", skip="too many MIME parts"))
        body = msg.get_body(preferencelist=("plain", "html"))
        text = ""
        if body is not None:
            content = body.get_content()
            text = html_to_text(content) if body.get_content_type() == "text/html" else str(content)
        files = [
            NewFile(filename=part.get_filename() or "", content_type=part.get_content_type(),
                    data=_payload_bytes(part))
            for part in msg.iter_attachments()
            if isinstance(part, EmailMessage)
        ]
        attachments = [{"filename": f.filename, "content_type": f.content_type, "size": len(f.data)} for f in files]
        return _cleaned(ParsedMail(
            sender=sender,
            name=name,
            message_id=message_id,
            subject=subject,
            # Whole: the store step keeps what is over MAX_STORED_CHARS as a file on the message.
            text=strip_quoted(text),
            in_reply_to=str(msg.get("In-Reply-To", "")).strip(),
            references=" ".join(str(msg.get("References", "")).split()),
            attachments=attachments,
            skip=_skip_reason(msg, sender, own_address),
            files=files,
        ))
    except (ValueError, LookupError, TypeError, AttributeError, IndexError) as exc:
        # Malformed headers or charsets: the mail is unreadable, not the service.
        log.warning("unreadable mail skipped: %s", exc.__class__.__name__)
        return None


def _cleaned(mail: ParsedMail) -> ParsedMail:
    """The mail's text as the databases can store it (no NUL, no lone surrogates: handoff.webinput)."""
    return replace(
        mail, sender=clean_text(mail.sender), name=clean_text(mail.name), message_id=clean_text(mail.message_id),
        subject=clean_text(mail.subject), text=clean_text(mail.text), in_reply_to=clean_text(mail.in_reply_to),
        references=clean_text(mail.references),
        attachments=[{**a, "filename": clean_text(a["filename"])} for a in mail.attachments],
        files=[replace(f, filename=clean_text(f.filename)) for f in mail.files],
    )


def _payload_bytes(part: EmailMessage) -> bytes:
    payload = part.get_payload(decode=True)
    if isinstance(payload, bytes):
        return payload
    if part.is_multipart():  # an attached mail (message/rfc822): kept as the mail it is
        return part.as_bytes()
    return b""


@dataclass(frozen=True, slots=True)
class SmtpConfig:
    host: str
    port: int
    username: str
    password: str
    sender: str
    security: str  # starttls | ssl | none

    @classmethod
    def from_settings(cls, values: Mapping[str, str]) -> SmtpConfig:
        security = (values.get("security") or "starttls").lower()
        if security not in ("starttls", "ssl", "none"):
            raise ConfigError(f"SMTP_SECURITY={security!r}: expected starttls, ssl or none")
        default_port = {"ssl": 465, "none": 25}.get(security, 587)
        return cls(
            host=values.get("host", ""),
            port=_number("SMTP_PORT", values.get("port") or str(default_port)),
            username=values.get("username", ""),
            password=values.get("password", ""),
            sender=values.get("from") or values.get("username", ""),
            security=security,
        )

    async def send(self, mail: EmailMessage) -> None:
        """One SMTP submission; callers map aiosmtplib's errors to their own (channel or escalation)."""
        await aiosmtplib.send(
            mail,
            hostname=self.host,
            port=self.port,
            username=self.username or None,
            password=self.password or None,
            use_tls=self.security == "ssl",
            start_tls=self.security == "starttls",
            timeout=30,
        )


@dataclass(frozen=True, slots=True)
class ImapConfig:
    host: str
    port: int
    username: str
    password: str
    mailbox: str
    ssl: bool
    poll_seconds: float

    @classmethod
    def from_settings(cls, values: Mapping[str, str]) -> ImapConfig:
        use_ssl = (values.get("ssl") or "true").lower() not in ("0", "false", "no")
        return cls(
            host=values.get("host", ""),
            port=_number("IMAP_PORT", values.get("port") or ("993" if use_ssl else "143")),
            username=values.get("username", ""),
            password=values.get("password", ""),
            mailbox=values.get("mailbox") or "INBOX",
            ssl=use_ssl,
            poll_seconds=max(1.0, float(_number("IMAP_POLL_SECONDS", values.get("poll_seconds") or "30"))),
        )


def _number(name: str, value: str) -> int:
    try:
        return int(float(value))
    except ValueError:
        raise ConfigError(f"{name}={value!r}: expected a number") from None


def _fetched_bytes(lines: list[Any]) -> bytes | None:
    for line in lines:
        if isinstance(line, bytearray):
            return bytes(line)
    return None


class EmailChannel(ChannelBase):
    kind = ChannelKind.EMAIL
    # No buttons: the flow's prompts already say what to type ("Balas 1 = Ya, 2 = Tidak").
    capabilities = Capabilities(buttons=False, files=True)

    @classmethod
    def from_settings(cls, settings: Settings, store: AttachmentStore) -> EmailChannel | None:
        smtp, imap = settings.smtp, settings.imap
        if not (smtp.get("host") and (smtp.get("from") or smtp.get("username"))
                and imap.get("host") and imap.get("username")):
            return None
        return cls(smtp=SmtpConfig.from_settings(smtp), imap=ImapConfig.from_settings(imap), store=store)

    def __init__(self, *, smtp: SmtpConfig, imap: ImapConfig, store: AttachmentStore | None = None) -> None:
        self.store = store
        self.smtp = smtp
        self.imap = imap
        self.address = parseaddr(smtp.sender)[1].lower()
        self._handle: Handler | None = None
        self._task: asyncio.Task[None] | None = None

    # -- outbound ---------------------------------------------------------------------------------

    async def send(self, message: OutboundMessage) -> SendResult:
        thread = await self._thread(message.conversation_id)
        mail = EmailMessage()
        mail["From"] = self.smtp.sender
        mail["To"] = message.recipient
        subject = thread.get("subject") or DEFAULT_SUBJECT
        mail["Subject"] = subject if subject.lower().startswith("re:") else f"Re: {subject}"
        domain = self.address.rsplit("@", 1)[-1] or "localhost"
        message_id = make_msgid(idstring=f"cc{message.message_id}", domain=domain)
        mail["Message-ID"] = message_id
        if thread.get("message_id"):
            mail["In-Reply-To"] = thread["message_id"]
            references = f"{thread.get('references', '')} {thread['message_id']}".split()
            mail["References"] = " ".join(references[-10:])  # the newest ten keep headers short
        if message.sender_kind != SenderKind.AGENT:
            mail["Auto-Submitted"] = "auto-replied"  # RFC 3834: other robots must not answer this
        mail.set_content(message.text)
        if message.attachments:
            if self.store is None:
                raise DeliveryError("no attachment store for files", permanent=True)
            for item in message.attachments:
                maintype, _, subtype = normalise_type(item.content_type).partition("/")
                try:
                    data = await self.store.read(item.storage_key)
                except OSError:
                    raise DeliveryError(f"stored file of attachment {item.id} is missing", permanent=True) from None
                mail.add_attachment(data, maintype=maintype or "application", subtype=subtype or "octet-stream",
                                    filename=item.filename)
        try:
            await self.smtp.send(mail)
        except aiosmtplib.SMTPRecipientsRefused as exc:
            # Not the exception's text: it names the address, and delivery errors are logged.
            codes = sorted({error.code for error in exc.recipients})
            raise DeliveryError(f"recipient refused by smtp {codes}", permanent=True, unreachable=True) from None
        except (aiosmtplib.SMTPConnectError, aiosmtplib.SMTPAuthenticationError, aiosmtplib.SMTPHeloError,
                aiosmtplib.SMTPSenderRefused, aiosmtplib.SMTPNotSupported) as exc:
            # Nothing was handed over: safe to try again later.
            raise DeliveryError(f"smtp: {exc.__class__.__name__}") from None
        except aiosmtplib.SMTPDataError as exc:
            if 400 <= exc.code < 500:
                raise DeliveryError(f"smtp temporary failure {exc.code}") from None
            raise DeliveryError(f"smtp refused the message {exc.code}", permanent=True) from None
        except (aiosmtplib.SMTPException, OSError) as exc:
            # A drop or timeout after DATA: the server may have the mail.
            return SendResult(provider_message_id=message_id, status=DeliveryStatus.UNKNOWN,
                              error=f"smtp: {exc.__class__.__name__}")
        return SendResult(provider_message_id=message_id, status=DeliveryStatus.SENT)

    async def _thread(self, conversation_id: int | None) -> dict[str, str]:
        if conversation_id is None:
            return {}
        last = (
            await Message.filter(conversation_id=conversation_id, direction=Direction.INBOUND,
                                 channel=ChannelKind.EMAIL)
            .order_by("-id")
            .first()
        )
        payload = (last.provider_payload or {}) if last is not None else {}
        return {k: str(payload.get(k) or "") for k in ("message_id", "subject", "references")}

    # -- inbound ----------------------------------------------------------------------------------

    def to_inbound(self, mail: ParsedMail) -> InboundMessage:
        # A new thread's subject is often the whole question; a reply's subject is only "Re: ...".
        text = mail.text
        if not mail.in_reply_to and mail.subject and mail.subject.lower() not in text.lower():
            text = f"{mail.subject}\n{text}".strip()
        return InboundMessage(
            channel=ChannelKind.EMAIL,
            external_id=mail.sender,
            # Message-IDs have no length limit: a long one is keyed by its hash (handoff.webinput.provider_key),
            # never cut short (two ids sharing their first 191 characters are two mails).
            provider_message_id=provider_key(mail.message_id),
            text=text,
            received_at=datetime.now(UTC),
            display_name=mail.name,
            email=mail.sender,
            raw={"message_id": mail.message_id, "subject": mail.subject, "in_reply_to": mail.in_reply_to,
                 "references": mail.references, "attachments": mail.attachments},
        )

    async def poll_once(self) -> int:
        """Read every unseen mail once. Returns how many were handed to the flow."""
        handle = self._handle
        if handle is None:
            raise RuntimeError("EmailChannel.setup() was not called")
        client = (IMAP4_SSL(host=self.imap.host, port=self.imap.port, ssl_context=ssl.create_default_context())
                  if self.imap.ssl else IMAP4(host=self.imap.host, port=self.imap.port))
        handled = 0
        try:
            await client.wait_hello_from_server()
            response = await client.login(self.imap.username, self.imap.password)
            if response.result != "OK":
                raise ConnectionError("IMAP login refused")
            await client.select(self.imap.mailbox)
            found = await client.uid_search("UNSEEN")
            uids = found.lines[0].decode().split() if found.result == "OK" and found.lines else []
            for uid in uids[:MAX_PER_POLL]:
                fetched = await client.uid("fetch", uid, "(BODY.PEEK[])")
                raw = _fetched_bytes(fetched.lines) if fetched.result == "OK" else None
                # In a thread: parsing a mail of up to MAX_MAIL_BYTES is milliseconds to seconds of CPU.
                mail = await asyncio.to_thread(parse_mail, raw, own_address=self.address) if raw is not None else None
                if mail is None:
                    log.warning("mail uid %s unreadable; flagged seen", uid)
                elif mail.skip is not None:
                    log.info("mail uid %s not answered: %s", uid, mail.skip)
                else:
                    await handle(self.to_inbound(mail), at_once=True)  # its files go on the row
                    await self._keep_files(mail)
                    handled += 1
                # Only after the flow stored it: a crash before this line re-reads the mail next time.
                await client.uid("store", uid, "+FLAGS", "(\\Seen)")
            await client.logout()
        finally:
            if client.protocol is not None and client.protocol.transport is not None:
                client.protocol.transport.close()
        return handled

    async def _keep_files(self, mail: ParsedMail) -> None:
        """Store the mail's attachments on its message; a re-read mail (a crash before \\Seen) finds them
        stored already, or stores what is missing."""
        if not mail.files or self.store is None:
            return
        row = await Message.get_or_none(channel=ChannelKind.EMAIL, provider_message_id=provider_key(mail.message_id))
        if row is None:
            return
        # Positions from 0 are the mail's files (below 0: the whole text of a long mail, kept by the flow).
        if await Attachment.filter(message_id=row.id, position__gte=0).count() >= len(mail.files):
            return
        await self.store.keep_all(message=row, files=mail.files)

    async def _poll_forever(self) -> None:
        while True:
            try:
                await self.poll_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a mailbox outage must not stop the next poll
                log.warning("imap poll failed: %s", exc.__class__.__name__)
            await asyncio.sleep(self.imap.poll_seconds)

    # -- aiohttp wiring ---------------------------------------------------------------------------

    def setup(self, app: web.Application, handle: Handler, *, polls: bool = True) -> None:
        self._handle = handle
        if polls:  # otherwise the mailbox is the worker process's to read; this one only sends
            app.cleanup_ctx.append(self._lifecycle)

    async def _lifecycle(self, _app: web.Application) -> AsyncIterator[None]:
        self._task = asyncio.create_task(self._poll_forever(), name="imap-poll")
        yield
        self._task.cancel()
        with suppress(asyncio.CancelledError):
            await self._task
        self._task = None


class SmtpMailer:
    """Sends the helpdesk's own mails (escalations to the developer team) through the configured SMTP server,
    mapping aiosmtplib's errors to handoff's MailError: permanent when retrying cannot help."""

    def __init__(self, smtp: SmtpConfig) -> None:
        self.smtp = smtp

    async def send(self, mail: EmailMessage) -> None:
        if "From" not in mail:
            mail["From"] = self.smtp.sender
        domain = parseaddr(self.smtp.sender)[1].rsplit("@", 1)[-1] or "localhost"
        if "Message-ID" not in mail:
            mail["Message-ID"] = make_msgid(domain=domain)
        try:
            await self.smtp.send(mail)
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = sorted({error.code for error in exc.recipients})
            raise MailError(f"recipient refused by smtp {codes}", permanent=True) from None
        except aiosmtplib.SMTPDataError as exc:
            raise MailError(f"smtp refused the message {exc.code}", permanent=exc.code >= 500) from None
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise MailError(f"smtp: {exc.__class__.__name__}") from None
