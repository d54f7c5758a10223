"""``serve --demo``: a small, clearly fictional directory and a demo agent, so a newcomer can try everything."""

from __future__ import annotations

import contextlib
import logging

from bot.directory import DirectoryRecord, import_records
from handoff.auth import UserExistsError, create_user
from models import ContactRole, UserRole

log = logging.getLogger(__name__)

DEMO_AGENT_EMAIL = "agent@demo.carecenter.local"
DEMO_AGENT_PASSWORD = "demo-agent-password"  # noqa: S105 - a documented demo credential, never in production

DEMO_DIRECTORY = (
    DirectoryRecord(
        "13521045",
        "Budi Contoh (Fiktif)",
        "budi.contoh@students.itb.ac.id",
        ContactRole.STUDENT,
        "STEI",
        "Teknik Informatika",
        "active",
    ),
    DirectoryRecord(
        "16522101",
        "Siti Percobaan (Fiktif)",
        "siti.percobaan@students.itb.ac.id",
        ContactRole.STUDENT,
        "STEI",
        "Sistem dan Teknologi Informasi",
        "active",
    ),
    DirectoryRecord(
        "10623077",
        "Andi Ujicoba (Fiktif)",
        "andi.ujicoba@students.itb.ac.id",
        ContactRole.STUDENT,
        "FMIPA",
        "Matematika",
        "active",
    ),
    DirectoryRecord(
        "198503122010121001",
        "Dr. Dewi Sampel (Fiktif)",
        "dewi.sampel@itb.ac.id",
        ContactRole.LECTURER,
        "STEI",
        "Teknik Informatika",
        "active",
    ),
    DirectoryRecord(
        "117123456",
        "Rina Staf (Fiktif)",
        "rina.staf@itb.ac.id",
        ContactRole.STAFF,
        "Direktorat Pengembangan Pendidikan",
        "",
        "active",
    ),
)


async def load_demo() -> None:
    await import_records(DEMO_DIRECTORY)
    with contextlib.suppress(UserExistsError):  # a second --demo start keeps the agent it made
        await create_user(email=DEMO_AGENT_EMAIL, role=UserRole.AGENT, password=DEMO_AGENT_PASSWORD, name="Demo Agent")
    log.info("demo directory and agent loaded")
