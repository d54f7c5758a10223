"""Files that travel with messages: one store for every channel and the console.

Bytes live on disk under ``DATA_DIR/attachments``, named by their SHA-256 (the same file sent twice is
kept once, and a half-written file never has a final name); the database holds an ``Attachment`` row per
file with its sanitised name, type, size and hash. Limits come from configuration (``AttachmentPolicy``):
a part over the size limit or of a type not on the list is still a row, with the reason it was refused
and no bytes, so the agent sees that something was sent and the message itself is never lost.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import mimetypes
import os
import re
import tempfile
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from tortoise.exceptions import IntegrityError

from models import Attachment, Message

log = logging.getLogger(__name__)

DEFAULT_MAX_BYTES = 10 * 1024 * 1024
# Images, PDF, office documents and plain text: what students send as screenshots and forms.
DEFAULT_TYPES: tuple[str, ...] = (
    "image/jpeg",
    "image/png",
    "image/gif",
    "image/webp",
    "application/pdf",
    "application/msword",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.ms-excel",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.ms-powerpoint",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "application/vnd.oasis.opendocument.text",
    "application/vnd.oasis.opendocument.spreadsheet",
    "application/vnd.oasis.opendocument.presentation",
    "text/plain",
    "text/csv",
)
# Served with their own type; anything else goes out as application/octet-stream, so a browser never
# runs an uploaded HTML or SVG in our origin.
SAFE_SERVE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp", "application/pdf", "text/plain"})
MAX_FILES_PER_MESSAGE = 10
MAX_FILENAME_CHARS = 120
_EXTENSIONS = {
    "image/jpeg": ".jpg", "image/png": ".png", "image/gif": ".gif", "image/webp": ".webp",
    "application/pdf": ".pdf", "text/plain": ".txt", "text/csv": ".csv",
}
_KEY = re.compile(r"[0-9a-f]{64}")
_UNSAFE_CHARS = re.compile(r'[\x00-\x1f\x7f<>:"/\\|?*]')


class Refusal:
    """Why a file's bytes were not kept; stored in ``Attachment.refused_reason`` and shown translated."""

    TOO_BIG = "too_big"
    TYPE_NOT_ALLOWED = "type_not_allowed"
    EMPTY = "empty"
    TOO_MANY = "too_many"
    # Inbound only: where the provider's file could not be fetched, or lied about its type.
    SOURCE_NOT_ALLOWED = "source_not_allowed"
    TYPE_MISMATCH = "type_mismatch"
    DOWNLOAD_FAILED = "download_failed"


# What a file's first bytes say it is (each format's own signature), for uploads whose declared type is the
# sender's word only (a browser names a type from the file's extension). Only the kinds a student sends as
# evidence, images and PDF; a handful of fixed prefixes needs no dependency.
_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"%PDF-", "application/pdf"),
)
SNIFFED_TYPES = frozenset({kind for _, kind in _SIGNATURES} | {"image/webp"})


def sniff_type(data: bytes) -> str | None:
    """The image or PDF type ``data`` really is, or None when it is none of them (whatever its name says)."""
    head = data[:16]
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    for signature, kind in _SIGNATURES:
        if head.startswith(signature):
            return kind
    return None


def normalise_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def extension_for(content_type: str) -> str:
    kind = normalise_type(content_type)
    return _EXTENSIONS.get(kind) or mimetypes.guess_extension(kind) or ""


def sanitise_filename(name: str, content_type: str = "") -> str:
    """A name safe on every disk and in every header: no path, no control characters, not too long."""
    base = re.split(r"[\\/]", name or "")[-1]
    base = unicodedata.normalize("NFC", base)
    base = _UNSAFE_CHARS.sub("_", base)
    base = " ".join(base.split()).strip(" .")
    if not base:
        base = "attachment" + extension_for(content_type)
    if len(base) > MAX_FILENAME_CHARS:
        stem, dot, ext = base.rpartition(".")
        if dot and 0 < len(ext) <= 10:
            base = stem[: MAX_FILENAME_CHARS - len(ext) - 1] + "." + ext
        else:
            base = base[:MAX_FILENAME_CHARS]
    return base


def content_disposition(filename: str) -> str:
    """``attachment`` with the RFC 6266 UTF-8 name, and an ASCII fallback for old clients."""
    fallback = filename.encode("ascii", "replace").decode().replace("?", "_").replace('"', "_")
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


def serve_type(content_type: str) -> str:
    kind = normalise_type(content_type)
    return kind if kind in SAFE_SERVE_TYPES else "application/octet-stream"


@dataclass(frozen=True, slots=True)
class AttachmentPolicy:
    max_bytes: int = DEFAULT_MAX_BYTES
    allowed_types: frozenset[str] = field(default_factory=lambda: frozenset(DEFAULT_TYPES))

    def allows_type(self, content_type: str) -> bool:
        return normalise_type(content_type) in self.allowed_types

    def refusal(self, content_type: str, size: int, *, check_type: bool = True) -> str | None:
        if check_type and not self.allows_type(content_type):
            return Refusal.TYPE_NOT_ALLOWED
        if size > self.max_bytes:
            return Refusal.TOO_BIG
        if size == 0:
            return Refusal.EMPTY
        return None


@dataclass(frozen=True, slots=True)
class NewFile:
    """A file on its way into the store (an agent's upload, a mail part, a downloaded media item)."""

    filename: str
    content_type: str
    data: bytes = field(repr=False)


class AttachmentStore:
    """Content-addressed files under one directory; the path of a key is ``root/ab/abcdef...``."""

    def __init__(self, root: Path, policy: AttachmentPolicy | None = None) -> None:
        self.root = root
        self.policy = policy or AttachmentPolicy()

    def path(self, key: str) -> Path:
        if _KEY.fullmatch(key) is None:  # keys come from our rows, but a path is never built from anything else
            raise ValueError("not a storage key")
        return self.root / key[:2] / key

    async def put(self, data: bytes) -> str:
        # Hashed in the thread too: 10 MiB is tens of milliseconds of CPU the event loop must not spend.
        return await asyncio.to_thread(self._write, data)

    def _write(self, data: bytes) -> str:
        key = hashlib.sha256(data).hexdigest()
        target = self.path(key)
        if target.is_file() and target.stat().st_size == len(data):
            return key
        target.parent.mkdir(parents=True, exist_ok=True)
        # Written beside the target and renamed: a crash leaves a temporary file, never a truncated key.
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".part-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return key

    async def read(self, key: str) -> bytes:
        return await asyncio.to_thread(self.path(key).read_bytes)

    async def keep(
        self,
        *,
        message: Message | int,
        position: int,
        filename: str,
        content_type: str,
        data: bytes | None = None,
        size: int | None = None,
        refused: str | None = None,
        ours: bool = False,
    ) -> Attachment:
        """Record one file of a message: its bytes when the policy allows them, otherwise why not.

        Idempotent per (message, position): a second call returns the row the first one wrote. ``ours``: a
        file the product writes itself (the whole text of a long message), kept whatever ATTACHMENT_TYPES
        lists; the size limit still holds.
        """
        message_id = message if isinstance(message, int) else message.id
        existing = await Attachment.get_or_none(message_id=message_id, position=position)
        if existing is not None:
            return existing
        kind = normalise_type(content_type) or "application/octet-stream"
        name = sanitise_filename(filename, kind)
        length = len(data) if data is not None else (size or 0)
        reason = refused or (
            self.policy.refusal(kind, length, check_type=not ours) if data is not None else Refusal.DOWNLOAD_FAILED
        )
        key: str | None = None
        if reason is None and data is not None:
            key = await self.put(data)
        try:
            row = await Attachment.create(
                message_id=message_id, position=position, filename=name, content_type=kind[:127], size=length,
                sha256=key, storage_key=key, refused_reason=reason,
            )
        except IntegrityError:  # the same file stored concurrently (a mail re-read by a second poller)
            return await Attachment.get(message_id=message_id, position=position)
        if reason is not None:
            log.info("attachment %s of message %s refused: %s", position, message_id, reason)
        return row

    async def keep_all(self, *, message: Message | int, files: list[NewFile]) -> list[Attachment]:
        rows = []
        for position, new in enumerate(files):
            refused = Refusal.TOO_MANY if position >= MAX_FILES_PER_MESSAGE else None
            rows.append(await self.keep(message=message, position=position, filename=new.filename,
                                        content_type=new.content_type, data=new.data, refused=refused))
        return rows


def human_size(size: int) -> str:
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KB"
    return f"{size / (1024 * 1024):.1f} MB"
