"""The campus directory ("situs NIC"): a lookup interface, the imported table, an HTTP adapter, CSV import."""

from __future__ import annotations

import csv
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Protocol
from urllib.parse import quote

import aiohttp
from tortoise.transactions import in_transaction

from bot.identity import Identity, IdentityKind, normalise_phone
from models import ContactRole, DirectoryEntry

log = logging.getLogger(__name__)

CSV_COLUMNS = ("id_number", "name", "email", "role", "faculty", "program", "status")
OPTIONAL_COLUMNS = ("phone",)  # E.164 or a local 08... number; a file without the column imports as before
_ROLES = {r.value for r in ContactRole}


@dataclass(frozen=True, slots=True)
class DirectoryRecord:
    id_number: str
    name: str
    email: str
    role: ContactRole
    faculty: str
    program: str
    status: str
    phone: str = ""  # E.164, or empty: the number a WhatsApp message proves the person by


ACTIVE = "active"


class InactivePolicy(StrEnum):
    """What a directory entry whose status is not active (inactive, graduated, unknown...) may do (issue 13),
    DIRECTORY_INACTIVE: its number is a *claim* at most (no proof joins anyone to it), or it is *refused*
    with a clear answer."""

    CLAIMED = "claimed"
    REFUSE = "refuse"


def is_active(record: DirectoryRecord) -> bool:
    """One rule: only an entry the directory calls active can be proven; any other status cannot."""
    return record.status.strip().lower() == ACTIVE


class Directory(Protocol):
    async def lookup(self, identity: Identity) -> DirectoryRecord | None: ...


def _record(entry: DirectoryEntry) -> DirectoryRecord:
    return DirectoryRecord(
        entry.id_number, entry.name, entry.email, ContactRole(entry.role), entry.faculty, entry.program, entry.status,
        entry.phone or "",
    )


class DatabaseDirectory:
    """The directory imported with ``carecenter directory import``."""

    async def lookup(self, identity: Identity) -> DirectoryRecord | None:
        if identity.kind is IdentityKind.EMAIL:
            entry = await DirectoryEntry.filter(email=identity.value.lower()).first()
        elif identity.kind is IdentityKind.PHONE:
            entry = await DirectoryEntry.filter(phone=identity.value).order_by("id").first()
        else:
            entry = await DirectoryEntry.get_or_none(id_number=identity.value)
        return _record(entry) if entry else None


class HttpDirectory:
    """A campus identity service: ``GET {url}?kind=nim&value=...`` answering 200 with a JSON record or 404.

    Configured with DIRECTORY_URL (and DIRECTORY_TOKEN, sent as a bearer token).
    """

    def __init__(self, url: str, *, token: str | None = None, timeout: float = 5.0) -> None:
        self._url = url
        self._token = token
        self._timeout = aiohttp.ClientTimeout(total=timeout)

    async def lookup(self, identity: Identity) -> DirectoryRecord | None:
        headers = {"Authorization": f"Bearer {self._token}"} if self._token else {}
        url = f"{self._url}?kind={identity.kind.value}&value={quote(identity.value)}"
        async with (
            aiohttp.ClientSession(timeout=self._timeout) as session,
            session.get(url, headers=headers) as response,
        ):
            if response.status == 404:
                return None
            response.raise_for_status()
            data = await response.json()
        role = data.get("role", "other")
        return DirectoryRecord(
            id_number=str(data["id_number"]),
            name=str(data.get("name", "")),
            email=str(data.get("email", "")).lower(),
            role=ContactRole(role) if role in _ROLES else ContactRole.OTHER,
            faculty=str(data.get("faculty", "")),
            program=str(data.get("program", "")),
            status=str(data.get("status", "active")),
            phone=normalise_phone(str(data.get("phone") or "")) or "",
        )


class DirectoryImportError(ValueError):
    """A CSV the import refuses; the message names the line and column."""


def read_directory_csv(path: Path) -> list[DirectoryRecord]:
    """Validate the whole file before anything is imported: one bad row imports nothing."""
    if not path.is_file():
        raise DirectoryImportError(f"{path}: no such file")
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            return _parse_rows(path, csv.DictReader(handle))
    except UnicodeDecodeError as exc:
        raise DirectoryImportError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except csv.Error as exc:
        raise DirectoryImportError(f"{path}: malformed CSV: {exc}") from None


def _parse_rows(path: Path, reader: csv.DictReader[str]) -> list[DirectoryRecord]:
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [c for c in CSV_COLUMNS if c not in header]
    if missing:
        raise DirectoryImportError(
            f"{path}: line 1: missing column(s) {', '.join(missing)}; expected {','.join(CSV_COLUMNS)}"
        )
    reader.fieldnames = header
    records: list[DirectoryRecord] = []
    seen: dict[str, int] = {}
    for row in reader:
        line = reader.line_num
        values = {c: (row.get(c) or "").strip() for c in (*CSV_COLUMNS, *OPTIONAL_COLUMNS)}
        for required in ("id_number", "name", "role"):
            if not values[required]:
                raise DirectoryImportError(f"{path}: line {line}: column {required} is empty")
        if not values["id_number"].isdigit():
            raise DirectoryImportError(f"{path}: line {line}: column id_number must be digits only")
        role = values["role"].lower()
        if role not in _ROLES:
            raise DirectoryImportError(
                f"{path}: line {line}: column role is {values['role']!r}; expected one of {', '.join(sorted(_ROLES))}"
            )
        if values["id_number"] in seen:
            raise DirectoryImportError(
                f"{path}: line {line}: column id_number repeats line {seen[values['id_number']]}"
            )
        seen[values["id_number"]] = line
        phone = normalise_phone(values["phone"]) if values["phone"] else ""
        if phone is None:
            raise DirectoryImportError(
                f"{path}: line {line}: column phone is not a phone number; expected E.164 (+628...) or 08..."
            )
        records.append(
            DirectoryRecord(
                id_number=values["id_number"],
                name=values["name"],
                email=values["email"].lower(),
                role=ContactRole(role),
                faculty=values["faculty"],
                program=values["program"],
                status=values["status"] or "active",
                phone=phone,
            )
        )
    return records


async def import_records(records: Iterable[DirectoryRecord]) -> tuple[int, int]:
    """Upsert in one transaction; returns (created, updated)."""
    created = updated = 0
    async with in_transaction():
        for record in records:
            fields = {
                "name": record.name,
                "email": record.email,
                "role": record.role,
                "faculty": record.faculty,
                "program": record.program,
                "status": record.status,
                "phone": record.phone or None,
            }
            _, was_created = await DirectoryEntry.update_or_create(defaults=fields, id_number=record.id_number)
            if was_created:
                created += 1
            else:
                updated += 1
    log.info("directory import: %d created, %d updated", created, updated)
    return created, updated
