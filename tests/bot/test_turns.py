"""A person's turns across processes and crashes (bot.leases, bot.turns, bot.parking): one holder per person,
oldest first, all or nothing with the replies after the commit, and a place to rest for a message that
keeps failing. Each "process" here is a FlowDeps of its own (its own locks and lease holder): only the
database stands between them, as between real processes."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Collection
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from tortoise.transactions import in_transaction

from bot import leases as leases_module
from bot import turns
from bot.app import create_app
from bot.channels.base import InboundMessage
from bot.channels.memory import MemoryChannel
from bot.config import Settings
from bot.conversation import questions
from bot.conversation.deps import FlowDeps
from bot.conversation.ingest import store_inbound
from bot.demo import DEMO_DIRECTORY
from bot.directory import DatabaseDirectory, DirectoryRecord, import_records
from bot.i18n import catalog
from bot.identity import Identity
from bot.inbound import MAX_STORE_ATTEMPTS
from bot.leases import LeaseLostError, Leases, person_of
from handoff.delivery import ChannelRegistry
from handoff.outbox import UNTRIED_GRACE, drain
from handoff.seed import seed_defaults
from models import ChannelKind, Conversation, DeliveryStatus, Direction, InboxEntry, Message, Ticket, TurnLease
from nlp import Prediction
from tests.conftest import ScriptedClassifier, greeting

USER = "4242"
PERSON = person_of("telegram", USER)
ROOT = Path(__file__).resolve().parents[2]
ID = catalog("id")


class GatedDirectory(DatabaseDirectory):
    """The campus directory, held shut by the test: a lookup waits until it opens."""

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.gate.set()
        self.waiting = 0

    async def lookup(self, identity: Identity) -> DirectoryRecord | None:
        self.waiting += 1
        try:
            await self.gate.wait()
        finally:
            self.waiting -= 1
        return await super().lookup(identity)


class BrokenClassifier(ScriptedClassifier):
    def predict(self, text: str, *, exclude: Collection[str] = ()) -> Prediction:
        raise RuntimeError("the model file is corrupt")


def process(sent: list[Any] | None = None, **extra: Any) -> tuple[FlowDeps, MemoryChannel]:
    channel = MemoryChannel(kind=ChannelKind.TELEGRAM)
    if sent is not None:
        channel.sent = sent  # type: ignore[assignment]  # one user's phone, whichever process sends
    registry = ChannelRegistry()
    registry.add(channel)
    deps = FlowDeps(registry=registry, classifier=extra.pop("classifier", ScriptedClassifier()),
                    directory=extra.pop("directory", DatabaseDirectory()), **extra)
    return deps, channel


counter = iter(range(1, 10**6))


async def stored(deps: FlowDeps, text: str) -> int:
    result = await store_inbound(InboundMessage(
        channel=ChannelKind.TELEGRAM, external_id=USER, provider_message_id=f"tg-{next(counter)}", text=text,
        received_at=datetime.now(UTC), display_name="Ana"), deps)
    assert result.message_id is not None
    return result.message_id


async def texts(channel: MemoryChannel) -> list[str]:
    return [m.text for m in channel.sent]


@pytest.fixture
async def ready(db: str) -> None:
    await seed_defaults()
    await import_records(DEMO_DIRECTORY)


async def test_a_lease_is_taken_over_only_after_it_expires_and_a_lost_lease_commits_nothing(ready: None) -> None:
    one, two = Leases(), Leases()
    assert await one.take(PERSON)
    assert not await two.take(PERSON)  # held and unexpired
    assert await one.renew(PERSON)
    await TurnLease.filter(person=PERSON).update(expires_at=datetime.now(UTC) - timedelta(seconds=1))
    assert await two.take(PERSON)  # expired: taken over
    assert not await one.renew(PERSON)  # the old holder finds out at its next renewal
    deps, channel = process()
    message_id = await stored(deps, "halo")
    # The old holder's turn is refused at its fence, the first statement of its transaction: nothing it wrote stays.
    outcome = await turns.run_message(message_id, deps, person=PERSON, leases=one)
    assert outcome == turns.Outcome(ran=False, failed=True)
    assert channel.sent == []
    assert await Message.filter(direction=Direction.OUTBOUND).count() == 0
    assert (await Message.get(id=message_id)).processed_at is None
    async with in_transaction():
        with pytest.raises(LeaseLostError):
            await one.fence(PERSON)


async def test_a_persons_messages_wait_for_a_dead_holder_and_then_run_oldest_first(ready: None) -> None:
    sent: list[Any] = []
    dead, _ = process(sent)
    first = await stored(dead, "halo")
    # The dead process had taken the person and counted its try of the first message when it died.
    await TurnLease.create(person=PERSON, holder="dead", expires_at=datetime.now(UTC) + timedelta(seconds=10))
    await Message.filter(id=first).update(attempts=1, claimed_at=datetime.now(UTC) - timedelta(minutes=1))
    live, _ = process(sent)
    second = await stored(live, "13521045")
    # The person's later message does not overtake: nobody but the (dead) holder may run the person.
    drained = await turns.drain_person(PERSON, live, leases=live.leases)
    assert drained == turns.Drained(ran=[], complete=False)
    assert sent == []
    await TurnLease.filter(person=PERSON).update(expires_at=datetime.now(UTC) - timedelta(seconds=1))
    drained = await turns.drain_person(PERSON, live, leases=live.leases)
    assert drained == turns.Drained(ran=[first, second], complete=True)
    replies = [m.text for m in sent]
    assert replies[:2] == [greeting("id"), catalog("id").t("identity_noted")]
    assert not await TurnLease.exists(person=PERSON)  # given back when the person had nothing left


async def test_the_heartbeat_keeps_a_long_turns_lease(ready: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(leases_module, "LEASE", timedelta(seconds=1))
    monkeypatch.setattr(leases_module, "HEARTBEAT", 0.1)
    directory = GatedDirectory()
    one, channel = process(directory=directory)
    await stored(one, "halo")
    await turns.drain_person(PERSON, one, leases=one.leases)
    directory.gate.clear()
    await stored(one, "13521045")
    running = asyncio.create_task(turns.drain_person(PERSON, one, leases=one.leases))
    while directory.waiting == 0:  # noqa: ASYNC110 - a count the directory keeps, polled
        await asyncio.sleep(0.01)
    # Three leases' worth of waiting on the directory: without the heartbeat the lease would have expired.
    await asyncio.sleep(3)
    two, _ = process()
    assert not await two.leases.take(PERSON)
    directory.gate.set()
    assert (await running).complete
    assert (await texts(channel))[:2] == [greeting("id"), catalog("id").t("identity_noted")]  # one greeting message


async def test_a_failed_turn_leaves_nothing_and_runs_again_whole(ready: None, monkeypatch: pytest.MonkeyPatch) -> None:
    deps, channel = process()
    await stored(deps, "halo")
    await stored(deps, "13521045")
    await turns.drain_person(PERSON, deps, leases=deps.leases)
    before = (await Message.filter(direction=Direction.OUTBOUND).count(), len(channel.sent))
    conversation = await Conversation.get()

    async def unreadable(*_args: Any) -> str:
        raise RuntimeError("the templates table is unreadable")

    # Fails late in the turn: after the language switch and the prediction were written.
    monkeypatch.setattr(questions, "_template_for", unreadable)
    question = await stored(deps, "i forgot my edunex password")
    drained = await turns.drain_person(PERSON, deps, leases=deps.leases)
    assert drained == turns.Drained(ran=[], complete=False)
    assert (await Message.filter(direction=Direction.OUTBOUND).count(), len(channel.sent)) == before
    after = await Conversation.get()
    assert (after.step, after.language, after.last_prediction) == (
        conversation.step, conversation.language, conversation.last_prediction)
    row = await Message.get(id=question)
    assert (row.processed_at, row.attempts) == (None, 1)
    assert row.turn_error == "RuntimeError: the templates table is unreadable"
    monkeypatch.undo()
    await Message.filter(id=question).update(claimed_at=datetime.now(UTC) - turns.RETRY_DELAY)
    assert (await turns.drain_person(PERSON, deps, leases=deps.leases)).ran == [question]
    assert [m.text for m in channel.sent[before[1]:]][-1] == catalog("en").t("did_it_help")


async def test_replies_committed_by_a_process_that_died_before_sending_go_out_once_and_first(
    ready: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent: list[Any] = []
    dead, _ = process(sent)
    await stored(dead, "halo")

    async def killed(*_args: Any) -> None:  # the process died right after the commit
        return None

    monkeypatch.setattr(turns, "_after_commit", killed)
    await turns.drain_person(PERSON, dead, leases=dead.leases)
    monkeypatch.undo()
    rows = await Message.filter(direction=Direction.OUTBOUND).order_by("id")
    assert [(m.delivery_status, m.attempts) for m in rows] == [(DeliveryStatus.QUEUED, 0)]  # the greeting
    assert sent == []
    # The person writes again: the next holder sends what was left before its own replies, in order.
    live, _ = process(sent)
    await stored(live, "13521045")
    await turns.drain_person(PERSON, live, leases=live.leases)
    replies = [m.text for m in sent]
    assert replies[:2] == [greeting("id"), catalog("id").t("identity_noted")]
    assert await drain(registry=live.registry, now=datetime.now(UTC) + UNTRIED_GRACE * 2) == 0
    assert len(sent) == len(replies)


async def test_replies_left_by_a_dead_process_are_sent_by_the_outbox_once(
    ready: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    dead, channel = process()

    async def killed(*_args: Any) -> None:
        return None

    monkeypatch.setattr(turns, "_after_commit", killed)
    await stored(dead, "halo")
    await turns.drain_person(PERSON, dead, leases=dead.leases)
    monkeypatch.undo()
    now = datetime.now(UTC)
    assert await drain(registry=dead.registry, now=now) == 0  # a just-committed turn is still sending them
    assert await drain(registry=dead.registry, now=now + UNTRIED_GRACE) == 1  # the greeting is one message
    assert await drain(registry=dead.registry, now=now + UNTRIED_GRACE * 10) == 0
    assert [m.text for m in channel.sent] == [greeting("id")]


async def cli(db_url: str, tmp_path: Path, *args: str) -> tuple[int, str]:
    env = {**os.environ, "DATA_DIR": str(tmp_path / "data"), "PYTHONPATH": str(ROOT), "DATABASE_URL": db_url,
           "LOG_LEVEL": "WARNING"}
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "bot", *args, env=env, cwd=tmp_path,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out, _ = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode()


async def test_a_message_that_keeps_failing_is_parked_the_person_told_and_the_operator_settles_it(
    ready: None, db: str, tmp_path: Path, aiohttp_client: Any
) -> None:
    deps, channel = process(classifier=BrokenClassifier())
    await stored(deps, "halo")
    await stored(deps, "13521045")
    await turns.drain_person(PERSON, deps, leases=deps.leases)
    question = await stored(deps, "saya lupa password edunex")
    for _ in range(turns.MAX_TURN_ATTEMPTS):
        await Message.filter(id=question).update(claimed_at=datetime.now(UTC) - turns.RETRY_DELAY)
        await turns.drain_person(PERSON, deps, leases=deps.leases)
    row = await Message.get(id=question)
    assert row.parked_at is not None
    assert row.processed_at is not None
    assert row.attempts == turns.MAX_TURN_ATTEMPTS
    assert row.turn_error == "RuntimeError: the model file is corrupt"
    # Told, and handed to an agent with the message on the ticket.
    replies = await texts(channel)
    assert ID.t("turn_failed") in replies
    ticket = await Ticket.get()
    assert (await Message.get(id=question)).ticket_id == ticket.id  # type: ignore[attr-defined]
    # The person's next message goes on (filed on the ticket for the agent), not stuck behind it.
    later = await stored(deps, "halo?")
    assert (await turns.drain_person(PERSON, deps, leases=deps.leases)).ran == [later]

    # Listed, retried and discarded by the operator; counted in /healthz (at the end: the app owns the
    # database connection once it runs).
    code, out = await cli(db, tmp_path, "inbox", "list")
    assert code == 0, out
    assert f"m{question}" in out
    assert "RuntimeError: the model file is corrupt" in out
    assert "saya lupa" not in out  # never the text
    assert (await cli(db, tmp_path, "inbox", "retry", f"m{question}"))[0] == 0
    row = await Message.get(id=question)
    assert (row.parked_at, row.processed_at, row.attempts) == (None, None, 0)
    # Run again, it goes where the person's messages now go: on the ticket, for the agent.
    assert (await turns.drain_person(PERSON, deps, leases=deps.leases)).ran == [question]
    row = await Message.get(id=question)
    assert (row.parked_at is None, row.processed_at is not None) == (True, True)

    # A receipt that could not be stored rests too, and is discarded.
    broken = await InboxEntry.create(channel=ChannelKind.WHATSAPP, provider_message_id="SM-broken", address="x",
                                     payload="{not json", received_at=datetime.now(UTC),
                                     attempts=MAX_STORE_ATTEMPTS, error="JSONDecodeError: Expecting value")
    client: TestClient[Any, Any] = await aiohttp_client(
        create_app(Settings(data_dir=tmp_path, database_url=db), classifier=ScriptedClassifier(), scheduler=False))
    assert (await (await client.get("/healthz")).json())["parked"] == 1
    code, out = await cli(db, tmp_path, "inbox", "list")
    assert f"r{broken.id}" in out
    assert "JSONDecodeError: Expecting value" in out
    assert (await cli(db, tmp_path, "inbox", "discard", f"r{broken.id}"))[0] == 0
    assert (await (await client.get("/healthz")).json())["parked"] == 0
    assert (await cli(db, tmp_path, "inbox", "list"))[1].strip() == "nothing parked"
    code, out = await cli(db, tmp_path, "inbox", "retry", "m99999999999")
    assert code == 1
    assert "nothing parked is m99999999999" in out
