"""The attachment store and the outbox path with files, on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest

from handoff.attachments import (
    AttachmentPolicy,
    AttachmentStore,
    NewFile,
    content_disposition,
    sanitise_filename,
    serve_type,
    sniff_type,
)
from handoff.delivery import Capabilities, DeliveryError, OutboundMessage, SendResult, send_text
from handoff.outbox import drain
from models import Attachment, ChannelKind, Conversation, DeliveryStatus, Message, SenderKind
from tests.conftest import FlowHarness

PDF = b"%PDF-1.4 surat keterangan" + b"." * 100


@pytest.mark.parametrize(
    ("given", "content_type", "expected"),
    [
        ("../../etc/passwd", "text/plain", "passwd"),
        ("C:\\Users\\budi\\KRS.pdf", "application/pdf", "KRS.pdf"),
        ('a<b>:"c|?*.png', "image/png", "a_b___c___.png"),
        ("  . ", "image/jpeg", "attachment.jpg"),
        ("bad\x00name\r\n.txt", "text/plain", "bad_name__.txt"),
        ("x" * 300 + ".pdf", "application/pdf", "x" * 116 + ".pdf"),
    ],
)
def test_filenames_are_made_safe(given: str, content_type: str, expected: str) -> None:
    assert sanitise_filename(given, content_type) == expected


def test_downloads_name_the_file_in_utf8_and_never_serve_active_types() -> None:
    assert content_disposition("Jadwal UTS é.pdf") == (
        "attachment; filename=\"Jadwal UTS _.pdf\"; filename*=UTF-8''Jadwal%20UTS%20%C3%A9.pdf"
    )
    assert serve_type("image/png") == "image/png"
    assert serve_type("text/html; charset=utf-8") == "application/octet-stream"
    assert serve_type("image/svg+xml") == "application/octet-stream"
    assert serve_type("text/csv") == "application/octet-stream"


def test_the_policy_refuses_by_type_then_size() -> None:
    policy = AttachmentPolicy(max_bytes=10)
    assert policy.refusal("application/pdf", 10) is None
    assert policy.refusal("application/PDF; name=x", 11) == "too_big"
    assert policy.refusal("application/x-msdownload", 1) == "type_not_allowed"
    assert policy.refusal("text/plain", 0) == "empty"


async def test_files_are_stored_by_content_once_and_rows_are_idempotent(db: str, flow: FlowHarness,
                                                                       tmp_path: Path) -> None:
    await flow.send("halo")
    message = await Message.filter(direction="in").first()
    assert message is not None
    store = AttachmentStore(tmp_path / "files", AttachmentPolicy(max_bytes=1000))
    first = await store.keep(message=message, position=0, filename="a.pdf", content_type="application/pdf", data=PDF)
    again = await store.keep(message=message, position=0, filename="other.pdf", content_type="application/pdf",
                             data=b"%PDF different")
    same_bytes = await store.keep(message=message, position=1, filename="b.pdf", content_type="application/pdf",
                                  data=PDF)
    big = await store.keep(message=message, position=2, filename="big.pdf", content_type="application/pdf",
                           data=b"0" * 1001)
    assert again.id == first.id
    assert first.sha256 == first.storage_key == hashlib.sha256(PDF).hexdigest()
    assert same_bytes.storage_key == first.storage_key
    assert first.storage_key is not None
    stored = list((tmp_path / "files").rglob("*"))
    assert [p.name for p in stored if p.is_file()] == [first.storage_key]
    assert (big.refused_reason, big.storage_key, big.size) == ("too_big", None, 1001)
    assert await Attachment.filter(message_id=message.id).count() == 3
    with pytest.raises(ValueError, match="storage key"):
        store.path("../../etc/passwd")


@dataclass
class FlakyChannel:
    """Down on the first try, then up: what the outbox retries must still carry the files."""

    kind: ChannelKind = ChannelKind.TELEGRAM
    capabilities: Capabilities = field(default_factory=lambda: Capabilities(buttons=True))
    down: int = 1
    sent: list[OutboundMessage] = field(default_factory=list)

    async def send(self, message: OutboundMessage) -> SendResult:
        if self.down:
            self.down -= 1
            raise DeliveryError("provider down")
        self.sent.append(message)
        return SendResult(provider_message_id=f"x-{message.message_id}")


async def test_a_message_with_files_is_a_row_first_and_a_retry_carries_the_files_once(
    db: str, flow: FlowHarness, tmp_path: Path
) -> None:
    await flow.send("halo")
    conversation = await Conversation.get()
    flaky = FlakyChannel()
    flow.deps.registry.add(flaky)
    store = AttachmentStore(tmp_path / "files")
    message = await send_text(registry=flow.deps.registry, conversation=conversation, text="Terlampir.",
                              sender_kind=SenderKind.AGENT, store=store,
                              files=[NewFile("surat.pdf", "application/pdf", PDF)])
    await message.refresh_from_db()
    assert (message.delivery_status, flaky.sent) == (DeliveryStatus.QUEUED, [])
    (row,) = await Attachment.filter(message_id=message.id)
    later = message.created_at + timedelta(hours=1)
    assert await drain(registry=flow.deps.registry, now=later) == 1
    assert await drain(registry=flow.deps.registry, now=later) == 0  # never sent twice
    (sent,) = flaky.sent
    assert [(a.id, a.filename, a.content_type, a.size) for a in sent.attachments] == [
        (row.id, "surat.pdf", "application/pdf", len(PDF))
    ]
    assert await store.read(sent.attachments[0].storage_key) == PDF


async def test_files_without_a_store_are_refused_before_any_row(db: str, flow: FlowHarness) -> None:
    await flow.send("halo")
    conversation = await Conversation.get()
    before = await Message.all().count()
    with pytest.raises(ValueError, match="store"):
        await send_text(registry=flow.deps.registry, conversation=conversation, text="x",
                        sender_kind=SenderKind.AGENT, files=[NewFile("a.pdf", "application/pdf", PDF)])
    assert await Message.all().count() == before


@pytest.mark.parametrize(("data", "kind"), [
    (b"\xff\xd8\xff\xe0\x00\x10JFIF", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n\x00\x00", "image/png"),
    (b"GIF89a\x01\x00", "image/gif"),
    (b"GIF87a\x01\x00", "image/gif"),
    (b"RIFF\x24\x00\x00\x00WEBPVP8 ", "image/webp"),
    (b"%PDF-1.7\n", "application/pdf"),
    (b"RIFF\x24\x00\x00\x00WAVEfmt ", None),  # a RIFF that is no WebP
    (b"<svg xmlns='http://www.w3.org/2000/svg'/>", None),
    (b"<html>%PDF-", None),  # the signature counts only at the start
    (b"\x89PN", None),
    (b"", None),
])
def test_a_files_type_is_read_from_its_first_bytes(data: bytes, kind: str | None) -> None:
    assert sniff_type(data) == kind
