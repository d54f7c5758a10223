"""The product's hot paths, driven for real while every statement they run is recorded.

Shared by the planner test (tests/models/test_query_plans.py), which sends each statement through
EXPLAIN, and the history benchmark (benchmarks/db_history_bench.py), which times them. Tortoise logs each
statement with its parameters on ``tortoise.db_client`` at DEBUG; the recorder keeps the first run of each
distinct SQL text, named after the path that ran it.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from bot.app import INBOUND, REGISTRY, create_app
from bot.config import Settings
from bot.demo import DEMO_DIRECTORY
from bot.directory import import_records
from handoff import escalation_mail, outbox, sla, whatsapp_window
from handoff.assignment import Assigner
from handoff.auth import create_api_token, create_user
from handoff.jobs import inbox_prune
from handoff.relay import RelayFollower, prune
from handoff.reports import snapshots
from handoff.scheduler import take_lease
from models import Ticket, UserRole
from tests.conftest import ScriptedClassifier
from tests.fakes.twilio import ACCOUNT_SID, AUTH_TOKEN, SENDER, FakeTwilio
from tests.handoff.console.conftest import PASSWORD, Console


@dataclass(frozen=True, slots=True)
class Statement:
    sql: str
    values: tuple[Any, ...]
    path: str  # the hot path that ran it first


class Recorder(logging.Handler):
    """Keeps every statement Tortoise runs (its DEBUG log line carries the SQL and the parameters)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.path: str | None = None  # outside a path (set-up, the test's own checks): not recorded
        self.seen: dict[str, Statement] = {}

    def emit(self, record: logging.LogRecord) -> None:
        if self.path is None or record.msg != "%s: %s" or not isinstance(record.args, tuple) or len(record.args) != 2:
            return
        sql, values = record.args
        if isinstance(sql, str):
            params = tuple(values) if isinstance(values, list | tuple) else ()
            self.seen.setdefault(sql, Statement(sql, params, self.path))

    @contextmanager
    def on(self, path: str) -> Iterator[None]:
        self.path = path
        try:
            yield
        finally:
            self.path = None


@contextmanager
def recording() -> Iterator[Recorder]:
    logger = logging.getLogger("tortoise.db_client")
    recorder = Recorder()
    level = logger.level
    logger.addHandler(recorder)
    logger.setLevel(logging.DEBUG)
    try:
        yield recorder
    finally:
        logger.removeHandler(recorder)
        logger.setLevel(level)


BUDI = "whatsapp:+6281200000001"  # verifies with the demo NIM, asks, is not helped: a ticket
CITRA = "whatsapp:+6281200000002"  # asks for a person at once


def settings_for(fake: FakeTwilio, db_url: str, tmp_path: Path) -> Settings:
    # Plain http, so the browser-side cookies (web chat, console) are not Secure on the loopback server.
    fake.public_url = "http://care.example.ac.id"
    return Settings(data_dir=tmp_path, database_url=db_url, public_url=fake.public_url,
                    twilio_account_sid=ACCOUNT_SID, twilio_auth_token=AUTH_TOKEN,
                    twilio_whatsapp_from=SENDER.removeprefix("whatsapp:"), twilio_api_base_url=fake.base_url)


@asynccontextmanager
async def product(settings: Settings) -> AsyncIterator[TestClient[Any, Any]]:
    app = create_app(settings, classifier=ScriptedClassifier(), scheduler=False)
    client: TestClient[Any, Any] = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    try:
        yield client
    finally:
        await client.close()


async def drive_hot_paths(client: TestClient[Any, Any], fake: FakeTwilio, recorder: Recorder) -> None:
    """Every path that runs per message, per console click, per API call, or on a timer."""
    app = client.app
    assert app is not None
    await import_records(DEMO_DIRECTORY)
    agent = await create_user(email="ana@cc.test", role=UserRole.AGENT, password=PASSWORD, name="Ana Agen")
    agent.available = True
    await agent.save(update_fields=["available"])
    await create_user(email="sari@cc.test", role=UserRole.SUPERVISOR, password=PASSWORD, name="Sari")
    _, raw_token = await create_api_token(name="plans", role=UserRole.SUPERVISOR)
    base = str(client.make_url("")).rstrip("/")

    with recorder.on("WhatsApp webhook: receipt, store, turn, hand-off"):
        for text in ("halo", "13521045", "lupa password", "2", "2"):
            await fake.user_says(client, BUDI, text)
        for text in ("halo", "agen"):
            await fake.user_says(client, CITRA, text)
        await fake.user_says(client, BUDI, "masih belum bisa masuk")  # filed on the open ticket
    with recorder.on("WhatsApp status callbacks"):
        await fake.play_callbacks(client)
    ticket = await Ticket.filter(conversation__identity__external_id=BUDI).order_by("-id").first()
    other = await Ticket.filter(conversation__identity__external_id=CITRA).order_by("-id").first()
    assert ticket is not None
    assert other is not None

    console = Console(base)
    try:
        with recorder.on("console: sign-in and queue"):
            await console.login("ana@cc.test")
            for view in ("", "?view=mine", "?view=unassigned", "?view=all", "?view=waiting", "?view=escalated"):
                assert (await console.get(f"/console/queue{view}")).status == 200
        with recorder.on("console: ticket page and actions"):
            assert (await console.get(f"/console/t/{ticket.id}")).status == 200
            assert (await console.post(f"/console/t/{ticket.id}/take", {})).status == 303
            fake.fail(401, 20003, "Authenticate")  # credentials refused: the reply stays queued for the outbox
            assert (await console.post(f"/console/t/{ticket.id}/reply", {"text": "Sudah kami reset."})).status == 303
            assert (await console.post(f"/console/t/{ticket.id}/note", {"text": "cek SSO"})).status == 303
            categorized = await console.post(f"/console/t/{ticket.id}/categorize", {"category": "reset-password"})
            assert categorized.status == 303
            assert (await console.get(f"/console/t/{ticket.id}")).status == 200
            assert (await console.post(f"/console/t/{other.id}/take", {})).status == 303
            escalated = await console.post(f"/console/t/{other.id}/escalate",
                                           {"summary": "SSO menolak semua", "incident": "new",
                                            "incident_title": "SSO down"})
            assert escalated.status == 303
            assert (await console.post(f"/console/t/{ticket.id}/waiting", {"waiting": "1"})).status == 303
        with recorder.on("outbox retry pass"):
            tried = await outbox.drain(registry=app[REGISTRY], now=datetime.now(UTC) + timedelta(hours=1))
            assert tried >= 1
        with recorder.on("web chat: page, messages, cross-channel join, history"):
            assert (await client.get("/chat")).status == 200
            for number, text in enumerate(("halo", "13521045 masih tidak bisa login")):
                response = await client.post("/chat/messages", json={"id": f"m-{number:08d}", "text": text})
                assert response.status == 202
            assert (await client.get("/chat/history")).status == 200
        with recorder.on("WhatsApp webhook: a message to a ticket an agent answered"):
            await fake.user_says(client, BUDI, "sudah bisa, terima kasih")
        with recorder.on("console: close and survey"):
            assert (await console.post(f"/console/t/{ticket.id}/close", {})).status == 303
            await fake.user_says(client, BUDI, "5")
            await fake.user_says(client, BUDI, "cepat sekali")
        await console.post("/console/logout", {})
        with recorder.on("console: supervisor pages"):
            await console.login("sari@cc.test")
            for page in ("/console/admin/dashboard", "/console/incidents", "/console/admin/audit",
                         f"/console/t/{other.id}", "/console/queue?view=all",
                         # The supervisor's ticket list (handoff/ticket_search.py), its exceptions, searches,
                         # a second page and the export; the monthly reports.
                         "/console/admin/tickets", "/console/admin/tickets?q=13521045",
                         "/console/admin/tickets?q=halo", f"/console/admin/tickets?q={ticket.number}",
                         "/console/admin/tickets?sla=breached", "/console/admin/tickets?exception=reopened",
                         "/console/admin/tickets?status=resolved&confirmed=no",
                         f"/console/admin/tickets?before={ticket.id}", "/console/admin/tickets/export",
                         "/console/admin/dashboard?period=last_month", "/console/admin/reports"):
                assert (await console.get(page)).status == 200, page
    finally:
        await console.close()

    with recorder.on("API"):
        auth = {"Authorization": f"Bearer {raw_token}"}
        since = (datetime.now(UTC) - timedelta(days=1)).isoformat()
        # The supervisor page's search (handoff/ticket_search.py): its filters, a text search and a cursor page.
        for query in ("", "?status=open", "?status=escalated", "?channel=whatsapp", f"?limit=1&before={ticket.id}",
                      f"?since={since.replace('+', '%2B')}", "?q=13521045", "?q=halo", "?sla=breached",
                      "?exception=sla_risk", "?agent=none"):
            assert (await client.get(f"/api/v1/tickets{query}", headers=auth)).status == 200, query
        assert (await client.get(f"/api/v1/tickets/{ticket.id}", headers=auth)).status == 200
        messages = await client.get(f"/api/v1/conversations/{ticket.conversation_id}/messages",  # type: ignore[attr-defined]
                                    headers=auth)
        assert messages.status == 200
        assert (await client.get("/api/v1/incidents", headers=auth)).status == 200

    later = datetime.now(UTC) + timedelta(hours=23, minutes=30)
    with recorder.on("scheduler jobs and background sweeps"):
        assert await take_lease(holder="plans", now=datetime.now(UTC))
        await sla.sweep(now=datetime.now(UTC) + timedelta(days=2))
        await whatsapp_window.sweep(now=later, lead=timedelta(hours=2))
        await inbox_prune(datetime.now(UTC) + timedelta(days=8))
        await prune(now=datetime.now(UTC), keep=timedelta(minutes=5))
        follower = RelayFollower(lambda _name, _data: None)
        await follower.start()
        await follower.poll()
        assigner = Assigner(answer_within=timedelta(minutes=10))
        await assigner.assign_backlog(now=datetime.now(UTC))
        await assigner.reoffer_unanswered(now=later)
        await escalation_mail.drain(mailer=None, now=later)
        await snapshots.refresh(datetime.now(UTC) + timedelta(minutes=2))
        await app[INBOUND].resume(quick=True)
        await app[INBOUND].resume()
        await app[INBOUND].idle()
        await outbox.drain(registry=app[REGISTRY], now=later)
