"""Guessing is expensive (issue 13): bursts of identity guesses from one address and from many addresses do
bounded work, look the directory up within the limits, answer every guess the same neutral way and keep
no number or address in the attempts table."""

from __future__ import annotations

import logging
import re
from datetime import timedelta
from typing import Any

from bot.directory import DatabaseDirectory, DirectoryRecord
from bot.i18n import catalog
from bot.identity import Identity
from handoff.identity_limits import NUMBER_LIMIT, WINDOW, prune
from handoff.jobs import identity_attempts_prune
from models import ChannelIdentity, ChannelKind, IdentityAttempt, ProofLevel
from tests.conftest import FlowHarness

PERSONAL = ("Budi", "Contoh", "Dewi", "mahasiswa", "Informatika", "STEI")


class CountingDirectory(DatabaseDirectory):
    """The real imported directory, counting what it is asked."""

    def __init__(self) -> None:
        self.asked = 0

    async def lookup(self, identity: Identity) -> DirectoryRecord | None:
        self.asked += 1
        return await super().lookup(identity)


def counting(flow: FlowHarness) -> CountingDirectory:
    directory = CountingDirectory()
    flow.deps.directory = directory
    return directory


def guesses(count: int) -> list[str]:
    """Valid NIMs by format (programme 135, entry years 20-21, sequences 001-999), the demo's among them."""
    return [f"135{20 + i // 999}{i % 999 + 1:03d}" for i in range(count)]


async def test_a_thousand_guesses_from_one_address_look_up_one(flow: FlowHarness, caplog: Any) -> None:
    caplog.set_level(logging.INFO)
    directory = counting(flow)
    await flow.send("halo", user="guesser")
    replies: list[str] = []
    for number in guesses(1000):
        await flow.send(number, user="guesser")
        replies += flow.replies()
    # The first number is the claim; after it the address is past the identity step: the rest are
    # messages to the bot, never looked up.
    assert directory.asked == 1
    assert await IdentityAttempt.all().count() == 1
    assert catalog("id").t("identity_noted") in replies
    assert not any(secret in reply for reply in replies for secret in PERSONAL)
    assert any(record.levelno == logging.INFO for record in caplog.records)
    for record in caplog.records:  # no number at INFO or above (issue 13)
        assert not re.search(r"135\d{5}", record.getMessage())


async def test_a_hundred_addresses_guessing_one_number_look_it_up_within_the_limit(flow: FlowHarness) -> None:
    directory = counting(flow)
    answers = []
    for n in range(100):
        user = f"visitor-{n}"
        await flow.send("halo", user=user)
        await flow.send("13521045 nilai saya", user=user)
        answers.append(flow.replies())
    assert directory.asked == NUMBER_LIMIT
    assert await IdentityAttempt.all().count() == NUMBER_LIMIT
    # Every address heard the same words, claimed or over the limit; none a name.
    assert all(answer == answers[0] for answer in answers)
    assert answers[0][0] == catalog("id").t("identity_noted")
    assert not any(secret in reply for reply in answers[0] for secret in PERSONAL)
    claimed = await ChannelIdentity.filter(proof=ProofLevel.CLAIMED).count()
    assert claimed == NUMBER_LIMIT

    # A hundred addresses each guessing their own numbers: one look-up each, the same answer each.
    for n, number in enumerate(guesses(100)):
        await flow.on(ChannelKind.WEBCHAT, f"web-{n}", "halo")
        assert (await flow.on(ChannelKind.WEBCHAT, f"web-{n}", number))[0] == catalog("id").t("identity_noted")
    assert directory.asked == NUMBER_LIMIT + 100


async def test_the_table_keeps_keyed_hashes_only_and_old_rows_are_pruned(flow: FlowHarness) -> None:
    await flow.send("halo")
    await flow.send("13521045")
    row = await IdentityAttempt.get()
    assert re.fullmatch(r"[0-9a-f]{64}", row.address_key)
    assert row.number_key is not None
    assert re.fullmatch(r"[0-9a-f]{64}", row.number_key)
    assert "13521045" not in f"{row.address_key}{row.number_key}{row.outcome}"
    assert await prune(now=flow.now + WINDOW - timedelta(minutes=1)) == 0
    assert await identity_attempts_prune(flow.now + WINDOW + timedelta(minutes=1)) == 1
    assert await IdentityAttempt.all().count() == 0


async def test_a_day_later_the_number_may_be_looked_up_again(flow: FlowHarness) -> None:
    directory = counting(flow)
    for n in range(NUMBER_LIMIT + 1):
        await flow.send("halo", user=f"v{n}")
        await flow.send("13521045", user=f"v{n}")
    assert directory.asked == NUMBER_LIMIT
    flow.now += WINDOW + timedelta(minutes=1)
    await flow.send("halo", user="tomorrow")
    await flow.send("13521045", user="tomorrow")
    assert directory.asked == NUMBER_LIMIT + 1
    assert (await ChannelIdentity.get(external_id="tomorrow")).proof == ProofLevel.CLAIMED
