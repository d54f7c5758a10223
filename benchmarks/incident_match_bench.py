"""The incident match's cost per question (handoff.incidents.IncidentIndex): 3 open incidents with 50
linked tickets each, on a fresh migrated SQLite database, 500 non-matching questions.

    python benchmarks/incident_match_bench.py
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from datetime import UTC, datetime

from handoff.incidents import incident_index
from models import (
    ChannelIdentity,
    ChannelKind,
    Contact,
    Conversation,
    HandoffReason,
    Incident,
    Ticket,
    open_database,
)
from models.db import run_migrations

INCIDENTS, TICKETS, QUESTIONS = 3, 50, 500


async def main() -> None:
    url = f"sqlite://{tempfile.mkdtemp()}/bench.sqlite3"
    await run_migrations(url)
    await open_database(url)
    now = datetime.now(UTC)
    contact = await Contact.create()
    address = await ChannelIdentity.create(contact=contact, channel=ChannelKind.TELEGRAM, external_id="1")
    conversation = await Conversation.create(contact=contact, identity=address, channel=ChannelKind.TELEGRAM)
    for i in range(INCIDENTS):
        incident = await Incident.create(title=f"Halaman login Edunex error 50{i}")
        for j in range(TICKETS):
            await Ticket.create(conversation=conversation, contact=contact, channel=ChannelKind.TELEGRAM,
                                reason=HandoffReason.LOW_CONFIDENCE, subject=f"edunex error 50{i} waktu login {j}",
                                incident=incident, number=f"T{i}-{j}", due_at=now, opened_at=now)
    times = []
    for _ in range(QUESTIONS):
        start = time.perf_counter()
        await incident_index.match("kak nilai kuis saya belum keluar", None)
        times.append((time.perf_counter() - start) * 1000)
    first = times[0]
    times.sort()
    print(f"{INCIDENTS} open incidents x {TICKETS} linked tickets, SQLite: p50 {times[len(times) // 2]:.2f} ms, "
          f"p99 {times[int(len(times) * 0.99)]:.2f} ms, first (builds the term sets) {first:.2f} ms")


if __name__ == "__main__":
    asyncio.run(main())
