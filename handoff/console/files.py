"""Attachments in the console: listing a message's files, reading an agent's uploads, serving a file.

A file is served only to a console user who may open a ticket of the conversation's contact (the ticket
page shows that contact's whole history, so the same rule); anything else is a 404, never a hint that the
id exists. Served files are always downloads (``Content-Disposition: attachment``), with a content type
from a short safe list or ``application/octet-stream``, ``nosniff`` and ``no-store``.
"""

from __future__ import annotations

import asyncio
import mimetypes
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from multidict import MultiDictProxy
from tortoise.queryset import QuerySet

from handoff import teams
from handoff.actions import ConsoleError
from handoff.attachments import (
    MAX_FILES_PER_MESSAGE,
    AttachmentPolicy,
    AttachmentStore,
    NewFile,
    Refusal,
    content_disposition,
    human_size,
    normalise_type,
    serve_type,
)
from models import Attachment, Conversation, Message, Ticket, User

FIELD = "files"
_GENERIC_TYPES = frozenset({"", "application/octet-stream"})


@dataclass(frozen=True, slots=True)
class AttachmentView:
    id: int
    filename: str
    content_type: str
    size: str
    refused: str  # a Refusal code, or "" for a kept file

    @property
    def url(self) -> str:
        return f"/console/attachments/{self.id}"


def upload_limit(policy: AttachmentPolicy) -> int:
    """The largest reply body read at all: every file at its limit plus the form's text fields."""
    return policy.max_bytes * MAX_FILES_PER_MESSAGE + 1024 * 1024


def form_limits(store: AttachmentStore | None) -> dict[str, Any]:
    if store is None:
        return {"enabled": False, "max_bytes": 0, "max_text": "", "accept": "", "max_files": 0}
    policy = store.policy
    return {"enabled": True, "max_bytes": policy.max_bytes, "max_text": human_size(policy.max_bytes),
            "accept": ",".join(sorted(policy.allowed_types)), "max_files": MAX_FILES_PER_MESSAGE}


async def attachments_of(message_ids: Iterable[int]) -> dict[int, tuple[AttachmentView, ...]]:
    ids = list(message_ids)
    if not ids:
        return {}
    grouped: dict[int, list[AttachmentView]] = defaultdict(list)
    for row in await Attachment.filter(message_id__in=ids).order_by("message_id", "position"):
        grouped[row.message_id].append(
            AttachmentView(id=row.id, filename=row.filename, content_type=row.content_type,
                           size=human_size(row.size), refused=row.refused_reason or "")
        )
    return {message_id: tuple(views) for message_id, views in grouped.items()}


def _read(field: web.FileField, limit: int) -> bytes | None:
    """The part's bytes, or None when it is over ``limit`` (measured without reading it into memory)."""
    handle = field.file
    handle.seek(0, 2)
    size = handle.tell()
    if size > limit:
        return None
    handle.seek(0)
    return handle.read()


async def uploaded_files(form: MultiDictProxy[Any], *, limit: int | None = None) -> list[NewFile]:
    """The files of a reply form. A part over ``limit`` is refused here, before its bytes are read."""
    fields = [f for f in form.getall(FIELD, []) if isinstance(f, web.FileField) and f.filename]
    files: list[NewFile] = []
    for field in fields:
        data = await asyncio.to_thread(_read, field, limit if limit is not None else 2**62)
        if data is None:
            raise ConsoleError(f"error_attachment_{Refusal.TOO_BIG}", 400)
        declared = normalise_type(field.content_type or "")
        if declared in _GENERIC_TYPES:
            # Browsers send octet-stream for extensions they do not know; the name often says more.
            declared = normalise_type(mimetypes.guess_type(field.filename)[0] or "application/octet-stream")
        files.append(NewFile(filename=field.filename, content_type=declared, data=data))
    return files


def close_uploads(form: MultiDictProxy[Any]) -> None:
    """aiohttp spools uploaded parts to temporary files and leaves closing them to us."""
    for value in form.values():
        if isinstance(value, web.FileField):
            value.file.close()


async def ticket_scope(user: User) -> QuerySet[Ticket]:
    """The tickets ``user`` may open: the ticket page's rule, teams included (handoff.teams)."""
    return await teams.scope(Ticket.all(), user)


async def visible_attachment(attachment_id: int, user: User) -> Attachment | None:
    row = await Attachment.get_or_none(id=attachment_id)
    if row is None or row.storage_key is None:
        return None
    message = await Message.get(id=row.message_id)
    conversation = await Conversation.get(id=message.conversation_id)
    # The conversation view shows a contact's whole history to whoever may open one of their tickets, so
    # their files follow the same rule. A contact with no ticket was never handed to a person, and one
    # whose tickets are all another team's is not this agent's to see.
    scope = await ticket_scope(user)
    if not await scope.filter(contact_id=conversation.contact_id).exists():
        return None
    return row


def download_headers(row: Attachment) -> dict[str, str]:
    return {
        "Content-Type": serve_type(row.content_type),
        "Content-Disposition": content_disposition(row.filename),
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "no-store",
    }


async def file_response(row: Attachment, store: AttachmentStore) -> web.StreamResponse:
    """The stored bytes as a download; a file missing on disk is a 404 like any other."""
    assert row.storage_key is not None
    path = store.path(row.storage_key)
    if not await asyncio.to_thread(path.is_file):
        raise web.HTTPNotFound(text="not found")
    return web.FileResponse(path, headers=download_headers(row))
