"""Console live events relayed through the database, from a process without console clients to the web's.

Each test plays both processes in one: the publisher and the follower share nothing but the database
(their own objects, a broker only on the follower's side), which is what a worker and a web process share.
"""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from tortoise import connections

from bot.app import FLOW
from bot.channels.base import InboundMessage
from bot.config import Settings
from bot.conversation.inline import handle_inbound
from handoff.live import Broker, LiveEvent
from handoff.relay import RelayFollower, RelayPublisher, prune
from models import ChannelKind, RelayedEvent, Ticket
from models.db import connection_name
from tests.handoff.console.conftest import Console, serve_console

# Fast, so the tests wait little; the defaults are the production values.
FAST = 0.02
WAIT = 10.0  # seconds: generous on a busy machine; a passing test never waits this long


def publisher(**options: Any) -> RelayPublisher:
    return RelayPublisher(**{"interval": FAST, **options})


def follower(broker: Broker, **options: Any) -> RelayFollower:
    return RelayFollower(broker.publish, **{"interval": FAST, **options})


async def received(queue: asyncio.Queue[LiveEvent], count: int) -> list[LiveEvent]:
    return [await asyncio.wait_for(queue.get(), WAIT) for _ in range(count)]


@asynccontextmanager
async def table_away(db_url: str) -> AsyncIterator[None]:
    """A real database error for every query on live_events, until the block ends."""
    connection = connections.get(connection_name(db_url))
    await connection.execute_script("ALTER TABLE live_events RENAME TO live_events_away")
    try:
        yield
    finally:
        await connection.execute_script("ALTER TABLE live_events_away RENAME TO live_events")


async def until(condition: Callable[[], bool | Awaitable[bool]], what: str) -> None:
    """Wait for ``condition()`` (polled): for things the code under test does in the background."""
    for _ in range(int(WAIT / FAST)):
        outcome = condition()
        if await outcome if inspect.isawaitable(outcome) else outcome:
            return
        await asyncio.sleep(FAST)
    raise AssertionError(f"waited {WAIT} s: {what}")


async def test_events_published_in_one_process_reach_the_broker_of_another_in_order(db: str) -> None:
    broker = Broker()
    queue = broker.subscribe()
    sent = [
        ("ticket.opened" if i % 3 == 0 else "ticket.message",
         {"ticket_id": 100 + i, "message_id": i, "closes_at": f"2026-11-24T0{i % 10}:00:00+00:00"})
        for i in range(30)
    ]
    # A small batch, so the 30 events go in several INSERTs and the order holds across them too.
    async with follower(broker).running(), publisher(batch=7).running() as relay:
        for name, data in sent:
            relay.publish(name, data)
        events = await received(queue, len(sent))
    assert [(e.name, e.data) for e in events] == sent
    assert queue.empty()


async def test_the_caller_can_change_its_dict_after_publishing(db: str) -> None:
    broker = Broker()
    queue = broker.subscribe()
    async with follower(broker).running(), publisher().running() as relay:
        data: dict[str, Any] = {"ticket_id": 7}
        relay.publish("ticket.opened", data)
        data["ticket_id"] = 8
        [event] = await received(queue, 1)
    assert event == LiveEvent("ticket.opened", {"ticket_id": 7})


async def test_a_follower_starts_after_the_rows_already_there(db: str) -> None:
    old = publisher()
    for i in range(3):
        old.publish("ticket.message", {"ticket_id": i})
    assert await old.flush()
    assert await RelayedEvent.all().count() == 3

    broker = Broker()
    queue = broker.subscribe()
    async with follower(broker).running() as following, publisher().running() as relay:
        newest = await RelayedEvent.all().order_by("-id").first()
        assert newest is not None
        assert following.position == newest.id
        relay.publish("ticket.opened", {"ticket_id": 99})
        # Rows are delivered in id order, so an old row replayed would come first.
        [event] = await received(queue, 1)
        assert event == LiveEvent("ticket.opened", {"ticket_id": 99})
        await asyncio.sleep(5 * FAST)
    assert queue.empty()


async def test_what_is_buffered_is_written_when_the_publisher_stops(db: str) -> None:
    # The flusher would wait a minute: only the flush at exit can have written these.
    async with RelayPublisher(interval=60).running() as relay:
        relay.publish("ticket.message", {"ticket_id": 1, "message_id": 2})
        relay.publish("ticket.survey", {"ticket_id": 1})
        await asyncio.sleep(5 * FAST)
        assert await RelayedEvent.all().count() == 0
    rows = await RelayedEvent.all().order_by("id").values_list("name", "data")
    assert rows == [("ticket.message", '{"ticket_id": 1, "message_id": 2}'), ("ticket.survey", '{"ticket_id": 1}')]
    assert relay.pending == 0


async def test_at_exit_a_write_that_keeps_failing_is_given_up(db: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="handoff.relay")
    async with table_away(db), RelayPublisher(interval=60, max_attempts=2).running() as relay:
        relay.publish("ticket.opened", {"ticket_id": 1})
    assert relay.pending == 0
    assert "dropped 1 live event(s) after 2 failed writes" in caplog.text
    assert await RelayedEvent.all().count() == 0


async def test_a_failed_write_is_retried_and_never_reaches_the_caller(db: str) -> None:
    relay = publisher()
    async with table_away(db):
        relay.publish("ticket.opened", {"ticket_id": 5})  # returns: the turn that published goes on
        assert await relay.flush() is False
        assert relay.pending == 1
    relay.publish("ticket.message", {"ticket_id": 5, "message_id": 6})
    assert await relay.flush() is True
    assert await RelayedEvent.all().order_by("id").values_list("name", flat=True) == ["ticket.opened",
                                                                                     "ticket.message"]


async def test_the_flusher_retries_on_its_own_once_the_database_is_back(db: str) -> None:
    async with publisher().running() as relay:
        async with table_away(db):
            relay.publish("ticket.opened", {"ticket_id": 5})
            await until(lambda: relay._attempts >= 1, "a write was tried")
        await until(lambda: relay.pending == 0, "the batch was written after the failure")
    assert await RelayedEvent.all().values_list("name", flat=True) == ["ticket.opened"]


async def test_a_batch_that_keeps_failing_is_dropped_with_a_warning(db: str, caplog: pytest.LogCaptureFixture) -> None:
    relay = publisher(max_attempts=3)
    caplog.set_level(logging.WARNING, logger="handoff.relay")
    async with table_away(db):
        relay.publish("ticket.opened", {"ticket_id": 5})
        assert [await relay.flush() for _ in range(3)] == [False, False, False]
    assert relay.pending == 0
    assert "dropped 1 live event(s) after 3 failed writes" in caplog.text
    # The next event is written as usual.
    relay.publish("ticket.survey", {"ticket_id": 5})
    assert await relay.flush()
    assert await RelayedEvent.all().values_list("name", flat=True) == ["ticket.survey"]


async def test_data_that_is_not_json_is_refused_at_publish_without_raising(
    db: str, caplog: pytest.LogCaptureFixture
) -> None:
    relay = publisher()
    relay.publish("ticket.opened", {"at": datetime.now(UTC)})
    assert relay.pending == 0
    assert "live event ticket.opened not relayed" in caplog.text


async def test_the_follower_outlives_a_database_error(db: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="handoff.relay")
    broker = Broker()
    queue = broker.subscribe()
    async with follower(broker).running():
        async with table_away(db):
            await until(lambda: "reading live events failed" in caplog.text, "a poll failed")
            await asyncio.sleep(5 * FAST)  # several more failed polls
        async with publisher().running() as relay:
            relay.publish("ticket.opened", {"ticket_id": 1})
            [event] = await received(queue, 1)
    assert event == LiveEvent("ticket.opened", {"ticket_id": 1})
    assert caplog.text.count("reading live events failed") == 1  # once per outage, not per poll


async def test_a_follower_that_could_not_start_begins_once_the_database_answers(db: str) -> None:
    broker = Broker()
    queue = broker.subscribe()
    old = publisher()
    old.publish("ticket.message", {"ticket_id": 1})
    assert await old.flush()
    watching = follower(broker)
    async with AsyncExitStack() as stack:
        async with table_away(db):
            await stack.enter_async_context(watching.running())
            assert watching.position is None
        await until(lambda: watching.position is not None, "the follower found where to start")
        async with publisher().running() as relay:
            relay.publish("ticket.opened", {"ticket_id": 2})
            [event] = await received(queue, 1)
    assert event == LiveEvent("ticket.opened", {"ticket_id": 2})  # the row from before it started stays old


async def insert(row_id: int, name: str) -> None:
    await RelayedEvent.create(id=row_id, name=name, data="{}", created_at=datetime.now(UTC))


async def test_a_row_that_becomes_visible_after_a_later_one_is_still_delivered(db: str) -> None:
    """Row ids are given out in one order and committed in another (PostgreSQL, two writers): a row with
    a smaller id can appear after the follower has read past it. Played here with explicit ids."""
    broker = Broker()
    queue = broker.subscribe()
    watching = follower(broker)
    await watching.start()
    assert watching.position == 0
    await insert(2, "second")
    await insert(3, "third")
    assert await watching.poll() == 2
    await insert(1, "first, committed last")
    await insert(4, "fourth")
    assert await watching.poll() == 2
    assert [e.name for e in await received(queue, 4)] == ["second", "third", "first, committed last", "fourth"]
    assert await watching.poll() == 0  # each delivered once


async def test_a_gap_that_never_fills_is_given_up(db: str) -> None:
    broker = Broker()
    queue = broker.subscribe()
    watching = follower(broker, gap_wait=0)  # no waiting for missing ids at all
    await watching.start()
    await insert(2, "second")
    assert await watching.poll() == 1
    await insert(1, "too late")
    assert await watching.poll() == 0
    assert [e.name for e in await received(queue, 1)] == ["second"]
    assert queue.empty()


async def test_postgres_rows_committed_out_of_order_are_all_delivered(db: str) -> None:
    """The real thing: one writer holds its transaction open after taking an id; another commits a later
    id first. SQLite cannot get here (one writer at a time)."""
    if not db.startswith("postgres"):
        pytest.skip("SQLite has one writer at a time: its ids commit in order")
    broker = Broker()
    queue = broker.subscribe()
    watching = follower(broker)
    await watching.start()
    slow = await asyncpg.connect(db)
    try:
        transaction = slow.transaction()
        await transaction.start()
        early = await slow.fetchval(
            "INSERT INTO live_events (name, data, created_at) VALUES ('slow', '{}', now()) RETURNING id")
        fast = publisher()
        fast.publish("fast", {})
        assert await fast.flush()
        assert await watching.poll() == 1
        await transaction.commit()
    finally:
        await slow.close()
    assert await watching.poll() == 1
    assert [e.name for e in await received(queue, 2)] == ["fast", "slow"]
    assert watching.position == early + 1


async def gone(name: str) -> bool:
    return not await RelayedEvent.filter(name=name).exists()


async def test_old_rows_are_pruned_by_the_follower_and_the_publisher(db: str) -> None:
    now = datetime.now(UTC)
    await RelayedEvent.create(name="old", data="{}", created_at=now - timedelta(minutes=6))
    await RelayedEvent.create(name="recent", data="{}", created_at=now - timedelta(minutes=4))
    assert await prune(now=now, keep=timedelta(minutes=5)) == 1
    assert await RelayedEvent.all().values_list("name", flat=True) == ["recent"]

    async with follower(Broker(), prune_every=0, keep=timedelta(minutes=3)).running():
        await until(lambda: gone("recent"), "the follower pruned the row older than 3 minutes")

    await RelayedEvent.create(name="old again", data="{}", created_at=now - timedelta(minutes=6))
    async with publisher(prune_every=0).running() as relay:
        relay.publish("new", {})
        await until(lambda: gone("old again"), "the publisher pruned the row older than 5 minutes")
    assert await RelayedEvent.all().values_list("name", flat=True) == ["new"]


async def test_a_turn_in_a_worker_process_reaches_a_signed_in_console(db_url: str, tmp_path: Path) -> None:
    """The web process follows the relay into its console broker; a turn runs elsewhere with the relay's
    publish as its notify, and the hand-off it makes shows up on the console's WebSocket."""
    async with serve_console(tmp_path, Settings(data_dir=tmp_path, database_url=db_url)) as served:
        console = Console(served.url)
        try:
            await console.login("sari@cc.test")
            web_broker_publish = served.app[FLOW].notify  # the console broker's publish (bot.app)
            relay = publisher()
            worker = dataclasses.replace(served.app[FLOW], notify=relay.publish)

            async def say(text: str, n: int) -> None:
                await handle_inbound(
                    InboundMessage(channel=ChannelKind.TELEGRAM, external_id="555", provider_message_id=f"w-{n}",
                                   text=text, received_at=datetime.now(UTC), display_name="Test User"),
                    worker,
                )

            async with (
                RelayFollower(web_broker_publish, interval=FAST).running(),
                relay.running(),
                console.http.ws_connect(f"{console.url}/console/ws") as ws,
            ):
                for n, text in enumerate(("halo", "13521045", "agen")):
                    await say(text, n)
                ticket = await Ticket.get(conversation__identity__external_id="555")
                frames: list[dict[str, Any]] = []
                async with asyncio.timeout(WAIT):
                    while not any(f.get("name") == "ticket.opened" for f in frames):
                        frames.append(await ws.receive_json())
            opened = next(f for f in frames if f.get("name") == "ticket.opened")
            assert opened == {"type": "event", "name": "ticket.opened", "data": {"ticket_id": ticket.id}}
        finally:
            await console.close()
