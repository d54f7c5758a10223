"""Shared fixtures: a real database (SQLite always, PostgreSQL where one answers), the flow, the app."""

from __future__ import annotations

import asyncio
import atexit
import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Collection, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from hypothesis import settings

from bot.channels.base import InboundMessage
from bot.channels.memory import MemoryChannel
from bot.conversation.deps import FlowDeps, HandleResult
from bot.conversation.inline import handle_inbound
from bot.conversation.replies import greeting_text
from bot.demo import DEMO_DIRECTORY
from bot.directory import DatabaseDirectory, import_records
from bot.i18n import catalog
from handoff.attachments import AttachmentStore
from handoff.contacts import Person, prove
from handoff.delivery import ChannelRegistry
from handoff.seed import seed_defaults
from models import ChannelIdentity, ChannelKind, ContactRole, DirectoryEntry, ProofMethod, open_database
from models.db import run_migrations
from nlp import Decision, Prediction

PG_URL = os.environ.get("TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test")
# The full suites (CARECENTER_FULL_SUITES=1): property tests with many more examples. The normal run (CI)
# keeps a few, chosen the same way on every run (derandomize), so a failure there can be replayed.
FULL_SUITES = os.environ.get("CARECENTER_FULL_SUITES", "") == "1"
settings.register_profile("ci", max_examples=60, deadline=None, derandomize=True)
settings.register_profile("full", max_examples=1000, deadline=None)
settings.load_profile("full" if FULL_SUITES else "ci")


def examples(ci: int, full: int) -> int:
    """Hypothesis examples for a test that costs more than the profile's count allows (database work)."""
    return full if FULL_SUITES else ci

# Tuesday 24 Nov 2026 10:00 WIB: inside operating hours.
IN_HOURS = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)


def _admin_url() -> str:
    return PG_URL.replace("postgres://", "postgresql://")


def _postgres_available() -> bool:
    async def probe() -> bool:
        try:
            conn = await asyncio.wait_for(asyncpg.connect(_admin_url()), 3)
        except (OSError, asyncpg.PostgresError, TimeoutError):
            return False
        await conn.close()
        return True

    return asyncio.run(probe())


POSTGRES = _postgres_available()


_SQLITE_TEMPLATE: list[Path] = []


async def migrated_sqlite_template() -> Path:
    """An SQLite file migrated once per test process, which every embedded test database is a copy of (the
    ``db`` fixtures' and the console apps' of tests/handoff/console/conftest.py): migrating takes seconds,
    copying milliseconds."""
    if not _SQLITE_TEMPLATE:
        folder = Path(tempfile.mkdtemp(prefix="cc-template-"))
        atexit.register(shutil.rmtree, folder, True)
        await run_migrations(f"sqlite://{folder / 'template.sqlite3'}")
        _SQLITE_TEMPLATE.append(folder / "template.sqlite3")
    return _SQLITE_TEMPLATE[0]


@pytest.fixture(scope="session")
def _templates() -> Iterator[dict[str, str]]:
    """Databases migrated once per session. Migrating takes one to several seconds per test (most of the
    suite's time), copying a migrated template a few milliseconds: each test still gets its own database."""
    built: dict[str, str] = {"sqlite": str(asyncio.run(migrated_sqlite_template()))}
    base = PG_URL.rsplit("/", 1)[0]

    async def create_postgres(name: str) -> None:
        admin = await asyncpg.connect(_admin_url())
        try:
            await admin.execute(f'CREATE DATABASE "{name}"')
        finally:
            await admin.close()
        await run_migrations(f"{base}/{name}")

    async def drop_postgres(name: str) -> None:
        admin = await asyncpg.connect(_admin_url())
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()

    if POSTGRES:
        built["postgres"] = f"cc_template_{uuid.uuid4().hex[:10]}"
        asyncio.run(create_postgres(built["postgres"]))
    try:
        yield built
    finally:
        if "postgres" in built:
            asyncio.run(drop_postgres(built["postgres"]))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def db_url(request: pytest.FixtureRequest, tmp_path: Path, _templates: dict[str, str]) -> AsyncIterator[str]:
    """A fresh database per test, with the schema of the current migrations and no rows."""
    if request.param == "sqlite":
        target = tmp_path / "test.sqlite3"
        shutil.copyfile(_templates["sqlite"], target)
        yield f"sqlite://{target}"
        return
    if not POSTGRES:
        pytest.skip(f"no PostgreSQL answers at {PG_URL}")
    name = f"cc_test_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(_admin_url())
    await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{_templates["postgres"]}"')
    base = PG_URL.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[str]:
    database = await open_database(db_url)
    try:
        yield db_url
    finally:
        await database.close()


def greeting(lang: str = "id", *asks: str) -> str:
    """The one first-contact message (bot.conversation.replies.greet): welcome, privacy notice, then what is
    asked of the person (``asks``, catalogue keys; by default the request for an identity)."""
    cat = catalog(lang)
    asked = [cat.t(key) for key in asks or ("ask_identity",)]
    return greeting_text([cat.t("greeting"), cat.t("privacy_notice"), *asked])


class ScriptedClassifier:
    """A stand-in whose answers the test chooses: branch tests must not hinge on the model of the day.

    Like nlp.Classifier it makes the three-way decision: ``rules`` answer, ``clarify`` asks between two
    categories, ``out_of_scope`` words are outside Edunex; ``exclude`` drops a label (an answer whose
    label is excluded becomes its ``second``'s answer, as the real model's next best)."""

    labels = ("reset-password", "akun-login", "nilai", "tugas-pengumpulan", "kuis-ujian")
    threshold = 0.5
    margin = 0.1
    version = "scripted"

    def __init__(self) -> None:
        self.rules: dict[str, tuple[str, float]] = {
            "password": ("reset-password", 0.93),
            "nilai": ("nilai", 0.91),
            "grade": ("nilai", 0.91),
            "login": ("akun-login", 0.88),
        }
        self.second: dict[str, str] = {"reset-password": "akun-login", "akun-login": "reset-password"}
        self.clarify: dict[str, tuple[tuple[str, float], ...]] = {
            "tugas": (("tugas-pengumpulan", 0.55), ("kuis-ujian", 0.4)),
            "assignment": (("tugas-pengumpulan", 0.55), ("kuis-ujian", 0.4)),
        }
        self.out_of_scope = ("sepeda", "bike", "pizza")

    def predict(self, text: str, *, exclude: Collection[str] = ()) -> Prediction:
        lowered = text.lower()
        for word in self.out_of_scope:
            if word in lowered:
                return Prediction("out_of_scope", 0.9, (("out_of_scope", 0.9),), True, "out_of_scope")
        for word, (top, confidence) in self.rules.items():
            if word in lowered:
                label = self.second.get(top, "") if top in exclude else top
                if not label or label in exclude:
                    break
                return Prediction(label, confidence, ((label, confidence), ("out_of_scope", 0.01)), False, "confident")
        for word, candidates in self.clarify.items():
            if word in lowered:
                kept = tuple(c for c in candidates if c[0] not in exclude)
                if kept:
                    return Prediction(kept[0][0], kept[0][1], kept, True, "ambiguous", Decision.CLARIFY, kept)
        return Prediction("akun-login", 0.2, (("akun-login", 0.2), ("nilai", 0.19)), True, "low_confidence")


async def prove_address(channel: ChannelKind, external_id: str, *, number: str = "13521045",
                        method: ProofMethod = ProofMethod.AGENT, now: datetime = IN_HOURS) -> None:
    """Prove an address to be the directory's ``number`` the way the console's agent does
    (handoff.contacts.prove): a typed NIM is only a claim (issue 13), and tests of what a proven person
    gets start here. The bot's own proofs have tests of their own."""
    identity = await ChannelIdentity.get(channel=channel, external_id=external_id)
    entry = await DirectoryEntry.get(id_number=number)
    await prove(identity=identity, person=Person(id_number=entry.id_number, name=entry.name, email=entry.email,
                                                 role=ContactRole(entry.role), faculty=entry.faculty,
                                                 program=entry.program), method=method, now=now)


@dataclass
class FlowHarness:
    deps: FlowDeps
    channel: MemoryChannel
    now: datetime = IN_HOURS
    counter: int = 0
    sent_before: int = field(default=0)

    async def send(self, text: str, *, user: str = "42", provider_id: str | None = None) -> HandleResult:
        self.counter += 1
        self.sent_before = len(self.channel.sent)
        return await handle_inbound(
            InboundMessage(
                channel=ChannelKind.TELEGRAM,
                external_id=user,
                provider_message_id=provider_id or f"tg-{self.counter}",
                text=text,
                received_at=self.now,
                display_name="Test User",
            ),
            self.deps,
        )

    def replies(self) -> list[str]:
        """What the bot sent in answer to the last message."""
        return [m.text for m in self.channel.sent[self.sent_before :]]

    async def prove(self, number: str = "13521045", *, channel: ChannelKind = ChannelKind.TELEGRAM,
                    user: str = "42", method: ProofMethod = ProofMethod.AGENT) -> None:
        await prove_address(channel, user, number=number, method=method, now=self.now)

    async def on(self, channel: ChannelKind, external_id: str, text: str, **extra: Any) -> list[str]:
        """A message on any channel (a memory channel is added on first use); the replies it got there."""
        self.counter += 1
        memory = self.deps.registry.get(channel)
        if memory is None:
            memory = MemoryChannel(kind=channel)
            self.deps.registry.add(memory)
        assert isinstance(memory, MemoryChannel)
        before = len(memory.sent)
        await handle_inbound(
            InboundMessage(channel=channel, external_id=external_id, provider_message_id=f"{channel}-{self.counter}",
                           text=text, received_at=self.now, **extra),
            self.deps,
        )
        return [m.text for m in memory.sent[before:]]


@pytest.fixture
async def flow(db: str, tmp_path: Path) -> FlowHarness:
    await seed_defaults()
    await import_records(DEMO_DIRECTORY)
    channel = MemoryChannel(kind=ChannelKind.TELEGRAM)
    registry = ChannelRegistry()
    registry.add(channel)
    harness = FlowHarness(
        deps=FlowDeps(registry=registry, classifier=ScriptedClassifier(), directory=DatabaseDirectory(),
                      attachments=AttachmentStore(tmp_path / "attachments")),
        channel=channel,
    )

    def clock() -> datetime:
        return harness.now

    harness.deps.clock = clock
    return harness
