"""Store-then-process: the WhatsApp webhook answers once the message is stored; the turn runs afterwards,
once, in the user's order, and survives a restart. Real twilio client and validator, real database."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from tortoise.context import require_context
from tortoise.transactions import in_transaction

from bot.app import INBOUND, create_app
from bot.channels.base import InboundMessage
from bot.channels.memory import MemoryChannel
from bot.config import Settings
from bot.conversation.deps import FlowDeps
from bot.conversation.ingest import store_inbound
from bot.conversation.inline import process_inbound
from bot.demo import DEMO_DIRECTORY
from bot.directory import DatabaseDirectory, DirectoryRecord, import_records
from bot.i18n import catalog
from bot.identity import Identity
from bot.inbound import MAX_STORE_ATTEMPTS, InboundWorker, Receipt, decode, encode, receive
from handoff.delivery import ChannelRegistry
from handoff.jobs import inbox_prune
from handoff.seed import seed_defaults
from models import (
    ChannelKind,
    Conversation,
    ConversationStatus,
    Direction,
    InboxEntry,
    Message,
    TurnLease,
    open_database,
)
from models.db import Database, open_receipts_connection
from tests.conftest import FlowHarness, ScriptedClassifier, greeting
from tests.fakes.twilio import ACCOUNT_SID, AUTH_TOKEN, SENDER, FakeTwilio, fake_twilio

__all__ = ["fake_twilio"]

ClientFactory = Callable[..., Awaitable[TestClient[Any, Any]]]
USER = "whatsapp:+6281200000009"
WEBHOOK = "/webhooks/twilio/whatsapp"


class GatedDirectory(DatabaseDirectory):
    """The campus directory, held shut by the test: a turn that looks someone up waits until it opens."""

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


def settings_for(fake: FakeTwilio, db_url: str, tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path, database_url=db_url, public_url=fake.public_url, twilio_account_sid=ACCOUNT_SID,
        twilio_auth_token=AUTH_TOKEN, twilio_whatsapp_from=SENDER, twilio_api_base_url=fake.base_url,
    )


async def start(
    aiohttp_client: ClientFactory, settings: Settings, directory: DatabaseDirectory
) -> TestClient[Any, Any]:
    client = await aiohttp_client(
        create_app(settings, classifier=ScriptedClassifier(), directory=directory, scheduler=False)
    )
    await import_records(DEMO_DIRECTORY)
    return client


async def post(client: TestClient[Any, Any], fake: FakeTwilio, form: dict[str, str]) -> int:
    # Bounded: a webhook that waited for the (blocked) turn would fail here instead of hanging the suite.
    response = await asyncio.wait_for(fake.post_signed(client, f"{fake.public_url}{WEBHOOK}", form), 10)
    assert await response.text() != ""
    return response.status


async def idle(client: TestClient[Any, Any]) -> None:
    assert client.app is not None
    await client.app[INBOUND].idle()


async def wait_for(condition: Callable[[], bool]) -> None:
    for _ in range(500):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not reached")


async def test_the_webhook_answers_while_the_turn_is_blocked_and_the_turn_runs_once_after(
    aiohttp_client: ClientFactory, db_url: str, tmp_path: Path, fake_twilio: FakeTwilio
) -> None:
    directory = GatedDirectory()
    client = await start(aiohttp_client, settings_for(fake_twilio, db_url, tmp_path), directory)
    fake_twilio.last_inbound[USER] = datetime.now(UTC).timestamp()
    assert await post(client, fake_twilio, fake_twilio.inbound_form(USER, "halo")) == 200
    await idle(client)
    assert fake_twilio.bodies(USER) == [greeting("id")]  # one greeting message

    directory.gate.clear()
    form = fake_twilio.inbound_form(USER, "13521045")
    assert await post(client, fake_twilio, form) == 200
    # Answered once the delivery is kept in the inbox; the worker stores it as a message and its turn
    # then waits on the directory, unanswered.
    assert await InboxEntry.exists(channel=ChannelKind.WHATSAPP, provider_message_id=form["MessageSid"])
    await wait_for(lambda: directory.waiting == 1)
    stored = await Message.get(provider_message_id=form["MessageSid"])
    assert stored.processed_at is None
    assert fake_twilio.bodies(USER) == [greeting("id")]  # one greeting message

    directory.gate.set()
    await idle(client)
    await stored.refresh_from_db()
    assert stored.processed_at is not None
    replies = fake_twilio.bodies(USER)[1:]
    assert len(replies) == 2
    assert replies[0] == catalog("id").t("identity_noted")


async def test_one_delivery_twice_at_once_and_again_later_is_one_message_and_one_answer(
    aiohttp_client: ClientFactory, db_url: str, tmp_path: Path, fake_twilio: FakeTwilio
) -> None:
    client = await start(aiohttp_client, settings_for(fake_twilio, db_url, tmp_path), GatedDirectory())
    fake_twilio.last_inbound[USER] = datetime.now(UTC).timestamp()
    form = fake_twilio.inbound_form(USER, "halo")
    assert await asyncio.gather(post(client, fake_twilio, form), post(client, fake_twilio, form)) == [200, 200]
    await idle(client)
    assert await post(client, fake_twilio, form) == 200
    await idle(client)
    assert await Message.filter(direction=Direction.INBOUND).count() == 1
    assert fake_twilio.bodies(USER) == [greeting("id")]  # one greeting message


async def test_one_users_messages_run_in_arrival_order_while_others_go_ahead(
    aiohttp_client: ClientFactory, db_url: str, tmp_path: Path, fake_twilio: FakeTwilio
) -> None:
    directory = GatedDirectory()
    client = await start(aiohttp_client, settings_for(fake_twilio, db_url, tmp_path), directory)
    other = "whatsapp:+6281200000010"
    for user in (USER, other):
        fake_twilio.last_inbound[user] = datetime.now(UTC).timestamp()
        assert await post(client, fake_twilio, fake_twilio.inbound_form(user, "halo")) == 200
    await idle(client)

    directory.gate.clear()
    for text in ("13521045", "saya lupa password edunex", "1"):
        assert await post(client, fake_twilio, fake_twilio.inbound_form(USER, text)) == 200
    await wait_for(lambda: directory.waiting == 1)
    # Another user is not held up behind the blocked one.
    assert await post(client, fake_twilio, fake_twilio.inbound_form(other, "halo lagi")) == 200
    await wait_for(lambda: len(fake_twilio.bodies(other)) == 2)  # the greeting, then "halo lagi" answered
    assert fake_twilio.bodies(USER) == [greeting("id")]  # one greeting message

    directory.gate.set()
    await idle(client)
    replies = fake_twilio.bodies(USER)[1:]
    assert replies[0] == catalog("id").t("identity_noted")  # the identity first,
    assert replies[-2] == "Apakah jawaban ini membantu? Balas 1 = Ya, 2 = Tidak"  # then the question,
    assert replies[-1].startswith("Senang bisa membantu")  # then "1": resolved
    rows = await Message.filter(direction=Direction.INBOUND, conversation__identity__external_id=USER).order_by("id")
    processed = [row.processed_at for row in rows]
    assert all(moment is not None for moment in processed)
    assert processed == sorted(processed)  # type: ignore[type-var]


def inbound(text: str, number: int, user: str = USER) -> InboundMessage:
    return InboundMessage(channel=ChannelKind.WHATSAPP, external_id=user, provider_message_id=f"SM-restart-{number}",
                          text=text, received_at=datetime.now(UTC), display_name="Ana", phone=user[9:])


async def test_a_restart_runs_each_stored_but_unprocessed_message_once(
    aiohttp_client: ClientFactory, db_url: str, tmp_path: Path, fake_twilio: FakeTwilio
) -> None:
    settings = settings_for(fake_twilio, db_url, tmp_path)
    first = await start(aiohttp_client, settings, GatedDirectory())
    await first.close()
    database = await open_database(db_url)
    # What a process that died after acknowledging left behind: stored, never run; one run that died
    # mid-turn (its holder's lease expired); and one person held a moment ago by another process that is
    # alive (its lease unexpired).
    deps = FlowDeps(registry=ChannelRegistry(), classifier=ScriptedClassifier(), directory=DatabaseDirectory())
    users = [f"whatsapp:+62812000001{i}" for i in range(4)]
    ids = []
    for number, user in enumerate(users):
        fake_twilio.last_inbound[user] = datetime.now(UTC).timestamp()
        result = await store_inbound(inbound("halo", number, user), deps)
        assert result.message_id is not None
        ids.append(result.message_id)
    await Message.filter(id=ids[2]).update(claimed_at=datetime.now(UTC) - timedelta(minutes=10), attempts=1)
    now = datetime.now(UTC)
    await TurnLease.create(person=f"whatsapp:{users[2]}", holder="dead", expires_at=now - timedelta(seconds=1))
    await TurnLease.create(person=f"whatsapp:{users[3]}", holder="alive", expires_at=now + timedelta(minutes=1))
    await database.close()

    second = await start(aiohttp_client, settings, GatedDirectory())
    await idle(second)
    assert [fake_twilio.bodies(user) for user in users] == [[greeting("id")]] * 3 + [[]]
    rows = {row.id: row for row in await Message.filter(id__in=ids)}
    assert [rows[i].processed_at is not None for i in ids] == [True, True, True, False]
    app = second.app
    assert app is not None
    assert await app[INBOUND].resume() == 0  # nothing left for this process; the live holder's person is not its
    await second.close()

    third = await start(aiohttp_client, settings, GatedDirectory())
    await idle(third)
    assert [fake_twilio.bodies(user) for user in users] == [[greeting("id")]] * 3 + [[]]


async def test_two_processes_racing_for_one_turn_run_it_once(db: str) -> None:
    await seed_defaults()
    sent: list[str] = []

    def process() -> FlowDeps:
        # Each "process" has its own locks: only the database's claim stands between them.
        channel = MemoryChannel(kind=ChannelKind.WHATSAPP)
        channel.sent = sent  # type: ignore[assignment]
        registry = ChannelRegistry()
        registry.add(channel)
        return FlowDeps(registry=registry, classifier=ScriptedClassifier(), directory=DatabaseDirectory())

    one, two = process(), process()
    result = await store_inbound(inbound("halo", 1), one)
    assert result.message_id is not None
    ran = await asyncio.gather(*(process_inbound(result.message_id, deps) for deps in (one, two, one, two)))
    assert sorted(ran) == [False, False, False, True]
    assert [m.text for m in sent] == [greeting("id")]  # answered once
    assert await process_inbound(result.message_id, one) is False
    assert len(sent) == 1


async def test_a_late_redelivery_after_the_conversation_closed_opens_nothing(flow: FlowHarness) -> None:
    await flow.send("halo", provider_id="tg-late")
    await Conversation.all().update(status=ConversationStatus.RESOLVED)
    again = await flow.send("halo", provider_id="tg-late")
    assert again.duplicate
    assert await Conversation.all().count() == 1
    assert flow.replies() == []


async def test_receipts_a_stopped_process_left_are_stored_and_answered_in_order_at_the_next_start(
    aiohttp_client: ClientFactory, db_url: str, tmp_path: Path, fake_twilio: FakeTwilio
) -> None:
    settings = settings_for(fake_twilio, db_url, tmp_path)
    first = await start(aiohttp_client, settings, GatedDirectory())
    await first.close()
    database = await open_database(db_url)
    # What a process that died right after its 200s left: receipts only, no messages yet.
    other = "whatsapp:+6281200000011"
    for number, (text, user) in enumerate([("halo", USER), ("halo", other), ("13521045", USER)]):
        fake_twilio.last_inbound[user] = datetime.now(UTC).timestamp()
        receipt = await receive(inbound(text, number, user), db=database.receipts)
        assert receipt == Receipt(duplicate=False, inbox_id=receipt.inbox_id)
    assert await Message.all().count() == 0
    await database.close()

    second = await start(aiohttp_client, settings, GatedDirectory())
    await idle(second)
    assert fake_twilio.bodies(other) == [greeting("id")]
    replies = fake_twilio.bodies(USER)
    assert len(replies) == 3  # "halo" first, then the NIM: the order they came in
    assert replies[:2] == [greeting("id"), catalog("id").t("identity_noted")]
    entries = await InboxEntry.all().order_by("id")
    assert all(entry.stored_at is not None for entry in entries)
    stored = {message.id: message for message in await Message.filter(direction=Direction.INBOUND)}
    assert len(stored) == len(entries)
    assert [stored[entry.message_id].provider_message_id for entry in entries if entry.message_id] == [
        entry.provider_message_id for entry in entries
    ]
    assert all(message.processed_at is not None for message in stored.values())
    # One sender's receipts become messages in the order they came; different senders may interleave.
    budi = [entry.message_id for entry in entries if entry.address == USER]
    assert budi == sorted(budi)  # type: ignore[type-var]


async def test_a_receipt_that_cannot_be_stored_is_kept_with_its_error_and_given_up_after_the_limit(
    aiohttp_client: ClientFactory, db_url: str, tmp_path: Path, fake_twilio: FakeTwilio
) -> None:
    client = await start(aiohttp_client, settings_for(fake_twilio, db_url, tmp_path), GatedDirectory())
    assert client.app is not None
    worker = client.app[INBOUND]
    broken = await InboxEntry.create(channel=ChannelKind.WHATSAPP, provider_message_id="SM-broken", address=USER,
                                     payload="{not json", received_at=datetime.now(UTC))
    for attempt in range(1, MAX_STORE_ATTEMPTS + 1):
        assert await worker.resume() == 1
        await worker.idle()
        await broken.refresh_from_db()
        assert broken.attempts == attempt
    assert broken.stored_at is None
    assert broken.error is not None
    assert broken.error.startswith("JSONDecodeError")
    assert await worker.resume() == 0  # given up: left for the operator, not retried for ever
    # Another sender is not held up by it.
    fake_twilio.last_inbound[USER] = datetime.now(UTC).timestamp()
    assert await post(client, fake_twilio, fake_twilio.inbound_form(USER, "halo")) == 200
    await idle(client)
    assert fake_twilio.bodies(USER) == [greeting("id")]  # one greeting message


async def test_a_receipt_does_not_wait_for_the_connection_the_turns_hold(db: str) -> None:
    database = Database(url=db, context=require_context())
    database.receipts = await open_receipts_connection(db)
    holding, release = asyncio.Event(), asyncio.Event()

    async def turn() -> None:
        # A turn in a transaction that has only read so far holds Tortoise's connection (SQLite: its
        # one connection's lock; PostgreSQL: one of the pool's connections) until it goes on.
        async with in_transaction():
            await Message.exists()
            holding.set()
            await release.wait()

    running = asyncio.create_task(turn())
    await holding.wait()
    try:
        receipt = await asyncio.wait_for(receive(inbound("halo", 1), db=database.receipts), 5)
    finally:
        release.set()
        await running
    assert receipt.inbox_id is not None
    again = await receive(inbound("halo", 1), db=database.receipts)
    assert again == Receipt(duplicate=True, inbox_id=None)
    if database.receipts is not None:
        await database.receipts.close()


def test_an_inbound_message_survives_the_inbox_unchanged() -> None:
    message = InboundMessage(
        channel=ChannelKind.TELEGRAM, external_id="4242", provider_message_id="4242:7", text="halo 😭\nkak",
        received_at=datetime(2026, 11, 24, 3, 0, tzinfo=UTC), display_name="Ana", phone="+628120000", email=None,
        language_hint="en", raw={"update_id": 7, "message": {"text": "halo"}, "when": datetime(2026, 1, 1, tzinfo=UTC)},
    )
    back = decode(encode(message))
    assert back == replace(message, raw={**message.raw, "when": "2026-01-01 00:00:00+00:00"})


async def test_the_prune_forgets_receipts_stored_over_a_week_ago_and_keeps_the_rest(db: str) -> None:
    now = datetime.now(UTC)
    old = now - timedelta(days=8)
    for name, stored in [("old", old), ("recent", now - timedelta(days=1)), ("never", None)]:
        await InboxEntry.create(channel=ChannelKind.WHATSAPP, provider_message_id=name, address=USER, payload="{}",
                                received_at=old, stored_at=stored)
    assert await inbox_prune(now) == 1
    assert sorted(await InboxEntry.all().values_list("provider_message_id", flat=True)) == ["never", "recent"]


async def test_the_in_line_door_keeps_the_files_on_the_row_then_runs_the_turn_even_where_no_drain_runs(
    db: str,
) -> None:
    """The web chat's way in (``accept(in_line=True, keep=...)``): on return the turn has run, the files were
    kept on the stored row before it, and that holds in a web process that leaves the drains to a worker."""
    await seed_defaults()
    channel = MemoryChannel(kind=ChannelKind.WEBCHAT)
    registry = ChannelRegistry()
    registry.add(channel)
    deps = FlowDeps(registry=registry, classifier=ScriptedClassifier(), directory=DatabaseDirectory())
    worker = InboundWorker(deps, runs_turns=False)
    message = InboundMessage(channel=ChannelKind.WEBCHAT, external_id="session-1", provider_message_id="web-1",
                             text="halo", received_at=datetime.now(UTC))
    kept: list[tuple[int, bool]] = []

    async def keep(message_id: int) -> None:
        row = await Message.get(id=message_id)
        kept.append((message_id, row.processed_at is None))

    await worker.accept(message, in_line=True, keep=keep)
    stored = await Message.get(direction=Direction.INBOUND)
    assert kept == [(stored.id, True)]  # kept on the row, before its turn
    assert stored.processed_at is not None
    assert channel.texts("session-1") == [greeting("id")]
    assert worker.backlog == 0  # no drain was woken: the turn ran in the call

    await worker.accept(message, in_line=True, keep=keep)  # the browser's retry of the same message
    assert len(kept) == 1
    assert channel.texts("session-1") == [greeting("id")]
    assert await InboxEntry.all().count() == 0  # the in-line door keeps no receipt


async def test_files_to_keep_need_the_in_line_door(db: str) -> None:
    deps = FlowDeps(registry=ChannelRegistry(), classifier=ScriptedClassifier(), directory=DatabaseDirectory())

    async def keep(_message_id: int) -> None:
        raise AssertionError("not called")

    with pytest.raises(ValueError, match="in_line"):
        await InboundWorker(deps).accept(inbound("halo", 1), keep=keep)
    assert await InboxEntry.all().count() == 0
