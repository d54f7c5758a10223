"""A signed identity from the LMS (issue 13): a valid signature proves the web chat session; a forged,
expired or too-distant one proves nothing, is logged without the identifier, and the chat works as for
anyone."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from aiohttp.test_utils import TestClient

from bot.app import create_app
from bot.config import Settings
from bot.demo import DEMO_DIRECTORY
from bot.directory import import_records
from bot.i18n import catalog
from bot.identity import Identity, IdentityKind
from bot.lms import MAX_AHEAD, Rejected, sign, verify
from models import ChannelIdentity, ChannelKind, Contact, ProofLevel, ProofMethod
from tests.conftest import ScriptedClassifier

ClientFactory = Callable[..., Awaitable[TestClient[Any, Any]]]
SECRET = "lms-shared-secret-for-tests-0123456789"
NOW = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)
DOMAINS = ("itb.ac.id",)


def query(identifier: str, *, expires: datetime | None = None, secret: str = SECRET, **override: str) -> str:
    stamp = int((expires or datetime.now(UTC) + timedelta(minutes=10)).timestamp())
    values = {"identifier": identifier, "expires": str(stamp), "signature": sign(secret, identifier, stamp)}
    return urlencode({**values, **override})


@pytest.mark.parametrize(
    ("identifier", "expires", "signature", "secret", "expected"),
    [
        ("13521045", NOW + timedelta(minutes=5), None, SECRET, Identity(IdentityKind.NIM, "13521045")),
        ("Budi.Contoh@students.itb.ac.id", NOW + timedelta(hours=23), None, SECRET,
         Identity(IdentityKind.EMAIL, "budi.contoh@students.itb.ac.id")),
        ("13521045", NOW + timedelta(minutes=5), None, "", Rejected.NOT_CONFIGURED),
        ("13521045", NOW - timedelta(seconds=1), None, SECRET, Rejected.EXPIRED),
        ("13521045", NOW + MAX_AHEAD + timedelta(seconds=1), None, SECRET, Rejected.TOO_FAR),
        ("13521045", NOW + timedelta(minutes=5), "0" * 64, SECRET, Rejected.FORGED),
        ("13521045", NOW + timedelta(minutes=5), "not-hex", SECRET, Rejected.MALFORMED),
        ("13521045 and more", NOW + timedelta(minutes=5), None, SECRET, Rejected.NOT_AN_IDENTITY),
    ],
)
def test_verify(identifier: str, expires: datetime, signature: str | None, secret: str,
                expected: Identity | Rejected) -> None:
    stamp = int(expires.timestamp())
    signed = signature or sign(SECRET, identifier, stamp)
    assert verify(secret=secret, identifier=identifier, expires=str(stamp), signature=signed, now=NOW,
                  campus_domains=DOMAINS) == expected


def test_a_signature_for_another_identifier_or_expiry_is_forged() -> None:
    stamp = int((NOW + timedelta(minutes=5)).timestamp())
    good = sign(SECRET, "13521045", stamp)
    assert verify(secret=SECRET, identifier="16522101", expires=str(stamp), signature=good, now=NOW,
                  campus_domains=DOMAINS) == Rejected.FORGED
    assert verify(secret=SECRET, identifier="13521045", expires=str(stamp + 1), signature=good, now=NOW,
                  campus_domains=DOMAINS) == Rejected.FORGED
    assert verify(secret="other", identifier="13521045", expires=str(stamp), signature=good, now=NOW,
                  campus_domains=DOMAINS) == Rejected.FORGED


@pytest.fixture
async def client(aiohttp_client: ClientFactory, db_url: str, tmp_path: Path) -> TestClient[Any, Any]:
    settings = Settings(data_dir=tmp_path, database_url=db_url, webchat_identity_secret=SECRET)
    app = create_app(settings, classifier=ScriptedClassifier(), scheduler=False)
    test_client = await aiohttp_client(app)
    await import_records(DEMO_DIRECTORY)
    return test_client


async def say(client: TestClient[Any, Any], text: str, n: int) -> list[str]:
    response = await client.post("/chat/messages", json={"id": f"lms-{n:08d}", "text": text})
    assert response.status == 202
    history = await (await client.get("/chat/history")).json()
    return [m["text"] for m in history["messages"] if m["sender"] == "bot"]


async def test_a_valid_signature_proves_the_session_and_the_bot_greets_by_name(client: TestClient[Any, Any]) -> None:
    page = await client.get(f"/chat?{query('13521045')}")
    assert page.status == 200
    assert page.headers["Referrer-Policy"] == "no-referrer"
    replies = await say(client, "halo", 1)
    assert replies == [catalog("id").t("welcome_back", name_suffix=", Kak Budi")]
    identity = await ChannelIdentity.get(channel=ChannelKind.WEBCHAT)
    assert (identity.proof, identity.proof_method) == (ProofLevel.PROVEN, ProofMethod.LMS)
    assert (await Contact.get(id=identity.contact_id)).id_number == "13521045"  # type: ignore[attr-defined]

    # The same person again: the same session. Another person signed in on this browser: a new session,
    # never the first one's chat.
    first = client.session.cookie_jar.filter_cookies(client.make_url("/chat"))["cc_chat"].value
    await client.get(f"/chat?{query('13521045')}")
    assert client.session.cookie_jar.filter_cookies(client.make_url("/chat"))["cc_chat"].value == first
    await client.get(f"/chat?{query('16522101')}")
    assert client.session.cookie_jar.filter_cookies(client.make_url("/chat"))["cc_chat"].value != first
    assert await say(client, "halo", 2) == [catalog("id").t("welcome_back", name_suffix=", Kak Siti")]


@pytest.mark.parametrize("bad", ["forged", "expired", "too_far", "unknown"])
async def test_a_bad_signature_proves_nothing_and_the_chat_works_anonymously(
    client: TestClient[Any, Any], caplog: Any, bad: str,
) -> None:
    caplog.set_level(logging.INFO)
    link = {
        "forged": query("13521045", signature="ab" * 32),
        "expired": query("13521045", expires=datetime.now(UTC) - timedelta(minutes=1)),
        "too_far": query("13521045", expires=datetime.now(UTC) + timedelta(days=2)),
        "unknown": query("13521999"),  # signed, but the directory has no such person
    }[bad]
    page = await client.get(f"/chat?{link}")
    assert page.status == 200
    replies = await say(client, "halo", 1)
    assert replies[0].startswith(catalog("id").t("greeting") + "\n\n")
    assert not any("Budi" in reply for reply in replies)
    assert (await ChannelIdentity.get(channel=ChannelKind.WEBCHAT)).proof == ProofLevel.NONE
    refused = [r.getMessage() for r in caplog.records if "LMS signature" in r.getMessage()]
    assert refused
    # The app's own logs (the test server's access log is aiohttp's; `carecenter serve` runs without one).
    leaked = [f"{r.name}: {r.getMessage()}" for r in caplog.records
              if "1352" in r.getMessage() and r.name != "aiohttp.access"]
    assert leaked == []
