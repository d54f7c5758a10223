"""Replying with files at the service level, on SQLite and PostgreSQL: all checked before anything is stored."""

from __future__ import annotations

from pathlib import Path

import pytest

from handoff import actions
from handoff.actions import ConsoleError
from handoff.attachments import MAX_FILES_PER_MESSAGE, AttachmentPolicy, AttachmentStore, NewFile
from models import Attachment, AuditLog, Message, TicketEvent
from tests.conftest import IN_HOURS, FlowHarness
from tests.handoff.test_actions import agent, handed_off

PDF = b"%PDF-1.4 surat" + b"." * 100


async def test_a_reply_with_files_is_stored_sent_and_audited(flow: FlowHarness, tmp_path: Path) -> None:
    ticket = await handed_off(flow)
    ana = await agent("ana@cc.test")
    await actions.take_ticket(ticket_id=ticket.id, agent=ana, now=IN_HOURS)
    await ticket.refresh_from_db()
    store = AttachmentStore(tmp_path / "files")
    message = await actions.reply(registry=flow.deps.registry, ticket=ticket, agent=ana, text="Terlampir.",
                                   now=IN_HOURS, store=store, files=[NewFile("surat.pdf", "application/pdf", PDF)])
    (row,) = await Attachment.filter(message_id=message.id)
    assert (row.filename, row.size, row.refused_reason) == ("surat.pdf", len(PDF), None)
    (sent,) = [m for m in flow.channel.sent if m.message_id == message.id]
    assert [a.id for a in sent.attachments] == [row.id]
    event = await TicketEvent.get(ticket_id=ticket.id, kind="agent_reply")
    assert event.data == {"message_id": message.id, "attachments": 1}
    assert (await AuditLog.get(action="ticket.reply")).data == {"message_id": message.id, "attachments": 1}


@pytest.mark.parametrize(
    ("files", "code"),
    [
        ([NewFile("ok.pdf", "application/pdf", PDF), NewFile("big.pdf", "application/pdf", b"0" * 201)],
         "error_attachment_too_big"),
        ([NewFile("x.html", "text/html", b"<script>")], "error_attachment_type_not_allowed"),
        ([NewFile("empty.txt", "text/plain", b"")], "error_attachment_empty"),
        ([NewFile(f"{i}.txt", "text/plain", b"x") for i in range(MAX_FILES_PER_MESSAGE + 1)],
         "error_attachment_too_many"),
    ],
)
async def test_one_bad_file_refuses_the_whole_reply(flow: FlowHarness, tmp_path: Path, files: list[NewFile],
                                                   code: str) -> None:
    ticket = await handed_off(flow)
    ana = await agent("ana@cc.test")
    await actions.take_ticket(ticket_id=ticket.id, agent=ana, now=IN_HOURS)
    await ticket.refresh_from_db()
    store = AttachmentStore(tmp_path / "files", AttachmentPolicy(max_bytes=200))
    before = await Message.all().count()
    with pytest.raises(ConsoleError) as refused:
        await actions.reply(registry=flow.deps.registry, ticket=ticket, agent=ana, text="x", now=IN_HOURS,
                             store=store, files=files)
    assert (refused.value.code, refused.value.status) == (code, 400)
    assert await Message.all().count() == before
    assert await Attachment.all().count() == 0
    assert not (tmp_path / "files").exists()
