"""E-mail files: attachments kept with their bytes (within limits) from a real IMAP server, and sent as MIME."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import replace
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient

from bot.app import REGISTRY, create_app
from bot.channels.base import MAX_STORED_CHARS
from bot.channels.mail import EmailChannel, parse_mail
from bot.conversation.ingest import FULL_TEXT_FILENAME, FULL_TEXT_POSITION
from bot.demo import DEMO_DIRECTORY
from bot.directory import import_records
from handoff.attachments import AttachmentPolicy, AttachmentStore
from handoff.delivery import OutboundAttachment, OutboundMessage
from models import (
    Attachment,
    ChannelIdentity,
    ChannelKind,
    Contact,
    Conversation,
    DeliveryStatus,
    Direction,
    HandoffReason,
    Message,
    SenderKind,
    Ticket,
)
from tests.bot.channels.conftest import poll
from tests.bot.channels.test_mail import CARE, USER, channel_for, settings_for
from tests.conftest import ScriptedClassifier
from tests.fakes.mail import Dovecot, SmtpSink

ClientFactory = Callable[..., Awaitable[TestClient[Any, Any]]]
PDF = b"%PDF-1.4 krs" + b"." * 300


def mail_with_files(message_id: str, files: list[tuple[str, str, bytes]]) -> bytes:
    mail = EmailMessage()
    mail["From"] = f"Budi <{USER}>"
    mail["To"] = CARE
    mail["Subject"] = "KRS tidak bisa disimpan"
    mail["Message-ID"] = message_id
    mail.set_content("Berikut tangkapan layarnya.")
    for name, content_type, data in files:
        maintype, subtype = content_type.split("/")
        mail.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return bytes(mail)


async def test_attachments_are_stored_and_refused_parts_recorded_while_the_mail_is_accepted(
    aiohttp_client: ClientFactory, db_url: str, tmp_path: Path, smtp_sink: SmtpSink, dovecot: Dovecot
) -> None:
    settings = replace(settings_for(db_url, tmp_path, smtp_sink, dovecot.port), max_attachment_bytes=1024)
    client = await aiohttp_client(create_app(settings, classifier=ScriptedClassifier(), scheduler=False))
    await import_records(DEMO_DIRECTORY)
    assert client.app is not None
    channel = client.app[REGISTRY].get(ChannelKind.EMAIL)
    assert isinstance(channel, EmailChannel)
    raw = mail_with_files("<files1@std.itb.ac.id>", [
        ("KRS 2026.pdf", "application/pdf", PDF),
        ("virus.exe", "application/x-msdownload", b"MZ" * 50),
        ("scan besar.png", "image/png", b"\x89PNG" + b"0" * 2000),
    ])
    await asyncio.to_thread(dovecot.append, raw)
    assert await poll(client.app, channel) == 1

    message = await Message.get(channel=ChannelKind.EMAIL, direction=Direction.INBOUND)
    assert message.text.endswith("Berikut tangkapan layarnya.")
    rows = await Attachment.filter(message_id=message.id).order_by("position")
    assert [(r.filename, r.content_type, r.size, r.refused_reason) for r in rows] == [
        ("KRS 2026.pdf", "application/pdf", len(PDF), None),
        ("virus.exe", "application/x-msdownload", 100, "type_not_allowed"),
        ("scan besar.png", "image/png", 2004, "too_big"),
    ]
    assert rows[0].storage_key is not None
    assert await channel.store.read(rows[0].storage_key) == PDF  # type: ignore[union-attr]
    assert [r.storage_key for r in rows[1:]] == [None, None]
    # The mail was answered like any other, and is not read twice.
    assert smtp_sink.texts(USER)
    assert await poll(client.app, channel) == 0


async def test_storing_a_re_read_mail_again_adds_nothing(db: str, tmp_path: Path) -> None:
    contact = await Contact.create()
    identity = await ChannelIdentity.create(contact=contact, channel=ChannelKind.EMAIL, external_id=USER)
    conversation = await Conversation.create(contact=contact, identity=identity, channel=ChannelKind.EMAIL)
    mail = parse_mail(mail_with_files("<again@x>", [("a.pdf", "application/pdf", PDF)]), own_address=CARE)
    assert mail is not None
    await Message.create(conversation=conversation, channel=ChannelKind.EMAIL, direction=Direction.INBOUND,
                         sender_kind=SenderKind.USER, text=mail.text, provider_message_id=mail.message_id)
    channel = channel_for(25)
    channel.store = AttachmentStore(tmp_path / "files", AttachmentPolicy())
    await channel._keep_files(mail)
    await channel._keep_files(mail)  # a crash before \Seen: the mail comes back
    assert await Attachment.all().count() == 1


async def test_files_go_out_as_mime_attachments(smtp_sink: SmtpSink, tmp_path: Path) -> None:
    store = AttachmentStore(tmp_path / "files")
    key = await store.put(PDF)
    channel = channel_for(smtp_sink.port)
    channel.store = store
    result = await channel.send(OutboundMessage(
        message_id=11, channel=ChannelKind.EMAIL, recipient=USER, text="KRS Anda terlampir.",
        sender_kind=SenderKind.AGENT,
        attachments=(OutboundAttachment(id=1, filename="KRS Budi.pdf", content_type="application/pdf",
                                        size=len(PDF), storage_key=key),),
    ))
    assert result.status == DeliveryStatus.SENT
    (mail,) = smtp_sink.received
    body = mail.get_body(preferencelist=("plain",))
    assert body is not None
    assert str(body.get_content()).strip() == "KRS Anda terlampir."
    (part,) = list(mail.iter_attachments())
    assert isinstance(part, EmailMessage)
    assert (part.get_filename(), part.get_content_type(), part.get_content()) == (
        "KRS Budi.pdf", "application/pdf", PDF
    )


async def test_a_long_mail_is_stored_cut_with_its_whole_text_and_its_own_files(
    aiohttp_client: ClientFactory, db_url: str, tmp_path: Path, smtp_sink: SmtpSink, dovecot: Dovecot
) -> None:
    """The store step's file for the whole text sits before the mail's files, which are all still kept."""
    settings = settings_for(db_url, tmp_path, smtp_sink, dovecot.port)
    client = await aiohttp_client(create_app(settings, classifier=ScriptedClassifier(), scheduler=False))
    await import_records(DEMO_DIRECTORY)
    assert client.app is not None
    channel = client.app[REGISTRY].get(ChannelKind.EMAIL)
    assert isinstance(channel, EmailChannel)
    mail = EmailMessage()
    mail["From"] = f"Budi <{USER}>"
    mail["To"] = CARE
    mail["Subject"] = "Log error"
    mail["Message-ID"] = "<long1@std.itb.ac.id>"
    body = "\n".join(f"baris {i}: error saat membuka kuis" for i in range(1000))  # ~33,000 characters
    mail.set_content(body)
    mail.add_attachment(PDF, maintype="application", subtype="pdf", filename="log.pdf")
    await asyncio.to_thread(dovecot.append, bytes(mail))
    assert await poll(client.app, channel) == 1

    message = await Message.get(channel=ChannelKind.EMAIL, direction=Direction.INBOUND)
    assert len(message.text) == MAX_STORED_CHARS
    rows = await Attachment.filter(message_id=message.id).order_by("position")
    assert [(r.position, r.filename, r.refused_reason) for r in rows] == [
        (FULL_TEXT_POSITION, FULL_TEXT_FILENAME, None), (0, "log.pdf", None),
    ]
    assert rows[0].storage_key is not None
    whole = (await channel.store.read(rows[0].storage_key)).decode()  # type: ignore[union-attr]
    assert whole == f"Log error\n{body}"  # a new thread's subject is part of the question
    assert (await Ticket.get()).reason == HandoffReason.LOW_CONFIDENCE
