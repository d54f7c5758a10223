"""The SSRF corpora: media URLs (ssrf_media_urls.txt), redirects (ssrf_redirects.txt) and Telegram file paths
(telegram_file_paths.txt), through the real webhooks and clients against the loopback stand-ins. None is
fetched: each attachment row says "source_not_allowed", a loopback listener records no hit, the stand-ins
serve nothing but what they were asked for, and nothing is read from this machine's disk."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient

from bot.app import INBOUND, REGISTRY, create_app
from bot.channels.telegram import TelegramChannel
from bot.channels.whatsapp import MAX_MEDIA, WhatsAppChannel
from bot.config import Settings
from models import Attachment, ChannelKind, Direction, Message
from tests.conftest import ScriptedClassifier
from tests.corpora import corpus
from tests.fakes.listener import Listener
from tests.fakes.telegram import FakeTelegram
from tests.fakes.twilio import ACCOUNT_SID, AUTH_TOKEN, SENDER, FakeTwilio

ClientFactory = Callable[..., Awaitable[TestClient[Any, Any]]]
USER = "whatsapp:+6281299990001"
MEDIA = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/MM{'0' * 32}/Media/ME{'1' * 32}"
TOKEN = "7000001:corpus-test-token"
PNG = b"\x89PNG\r\n\x1a\n" + b"p" * 100
PDF = b"%PDF-1.4 " + b"." * 100


def fill(line: str, *, listener: Listener, api: str) -> str:
    return (line.replace("$MEDIA", MEDIA).replace("$SID", ACCOUNT_SID).replace("$TOKEN", TOKEN)
            .replace("$PORT", str(listener.port)).replace("$API", api))


async def whatsapp_app(aiohttp_client: ClientFactory, tmp_path: Path, fake: FakeTwilio) -> TestClient[Any, Any]:
    settings = Settings(data_dir=tmp_path, public_url=fake.public_url, twilio_account_sid=ACCOUNT_SID,
                        twilio_auth_token=AUTH_TOKEN, twilio_whatsapp_from=SENDER.removeprefix("whatsapp:"),
                        twilio_api_base_url=fake.base_url)
    return await aiohttp_client(create_app(settings, classifier=ScriptedClassifier(), scheduler=False))


async def send_media(client: TestClient[Any, Any], fake: FakeTwilio, urls: list[str]) -> list[Attachment]:
    """The URLs as the PNG media of WhatsApp messages (as many as Twilio puts in one); the rows they got."""
    for start in range(0, len(urls), MAX_MEDIA):
        batch = urls[start:start + MAX_MEDIA]
        extra = {"NumMedia": str(len(batch))}
        for index, url in enumerate(batch):
            extra[f"MediaUrl{index}"] = url
            extra[f"MediaContentType{index}"] = "image/png"
        assert (await fake.user_says(client, USER, "", **extra)).status == 200
    assert client.app is not None
    channel = client.app[REGISTRY].get(ChannelKind.WHATSAPP)
    assert isinstance(channel, WhatsAppChannel)
    await channel.settle()
    return list(await Attachment.filter(message__direction=Direction.INBOUND).order_by("message_id", "position"))


async def test_no_media_url_of_the_corpus_is_fetched(
    aiohttp_client: ClientFactory, tmp_path: Path, fake_twilio: FakeTwilio, listener: Listener
) -> None:
    client = await whatsapp_app(aiohttp_client, tmp_path, fake_twilio)
    api = fake_twilio.base_url.rsplit(":", 1)[1]
    urls = [fill(line, listener=listener, api=api) for line in corpus("ssrf_media_urls.txt")]
    good = fake_twilio.add_media("MEgood", PNG, "image/png")  # the control: the stand-in's own media is fetched
    rows = await send_media(client, fake_twilio, [good, *urls])
    assert (rows[0].refused_reason, rows[0].size) == (None, len(PNG))
    refused = {url: row.refused_reason for url, row in zip(urls, rows[1:], strict=True)}
    assert refused == dict.fromkeys(urls, "source_not_allowed")
    assert listener.hits == []
    assert fake_twilio.media_requests == ["MEgood"]
    assert fake_twilio.cdn_requests == []


async def test_no_redirect_of_the_corpus_is_followed(
    aiohttp_client: ClientFactory, tmp_path: Path, fake_twilio: FakeTwilio, listener: Listener
) -> None:
    client = await whatsapp_app(aiohttp_client, tmp_path, fake_twilio)
    api = fake_twilio.base_url.rsplit(":", 1)[1]
    locations = [fill(line, listener=listener, api=api) for line in corpus("ssrf_redirects.txt")]
    sids = [f"MR{index:032d}" for index in range(len(locations))]
    urls = []
    for sid, location in zip(sids, locations, strict=True):
        urls.append(fake_twilio.add_media(sid, PNG, "image/png"))
        fake_twilio.redirects[sid] = location
    # The control: a redirect to the stand-in's CDN is followed.
    urls.append(fake_twilio.add_media("MEcdn", PNG, "image/png"))
    fake_twilio.redirects["MEcdn"] = fake_twilio.cdn_url("MEcdn")
    rows = await send_media(client, fake_twilio, urls)
    refused = {location: row.refused_reason for location, row in zip(locations, rows, strict=False)}
    assert refused == dict.fromkeys(locations, "source_not_allowed")
    assert (rows[-1].refused_reason, rows[-1].size) == (None, len(PNG))
    assert listener.hits == []
    # Each asked once, where its URL said (messages' downloads run side by side: any order).
    assert sorted(fake_twilio.media_requests) == sorted([*sids, "MEcdn"])
    assert fake_twilio.cdn_requests == [("MEcdn", "")]


async def test_no_file_path_of_the_corpus_is_read_or_fetched(
    aiohttp_client: ClientFactory, tmp_path: Path, fake_telegram: FakeTelegram, listener: Listener
) -> None:
    settings = Settings(data_dir=tmp_path, public_url="https://care.example.ac.id", telegram_bot_token=TOKEN,
                        telegram_webhook_secret="corpus-secret", telegram_api_base_url=fake_telegram.base_url)
    client = await aiohttp_client(create_app(settings, classifier=ScriptedClassifier(), scheduler=False))
    paths = [fill(line, listener=listener, api="") for line in corpus("telegram_file_paths.txt")]
    # The control first: a path as Telegram gives it is downloaded.
    files = [fake_telegram.add_file(PDF, name="good.pdf")]
    files += [fake_telegram.add_file(PDF, name="x.pdf", file_path=path) for path in paths]
    for file_id in files:
        update = fake_telegram.message_update(5550002, None, extra={"document": {
            "file_id": file_id, "file_unique_id": f"u{file_id}", "file_name": "x.pdf",
            "mime_type": "application/pdf", "file_size": len(PDF)}})
        response = await client.post("/webhooks/telegram", json=update,
                                     headers={"X-Telegram-Bot-Api-Secret-Token": "corpus-secret"})
        assert response.status == 200
    assert client.app is not None
    await client.app[INBOUND].idle()  # the webhook answers once a message is kept; it is stored after
    channel = client.app[REGISTRY].get(ChannelKind.TELEGRAM)
    assert isinstance(channel, TelegramChannel)
    await channel.settle()
    rows = await Attachment.filter(message__channel=ChannelKind.TELEGRAM).order_by("message_id")
    messages = await Message.filter(channel=ChannelKind.TELEGRAM, direction=Direction.INBOUND).count()
    assert messages == len(files)
    assert (rows[0].refused_reason, rows[0].size, rows[0].storage_key is not None) == (None, len(PDF), True)
    refused = {path: (row.refused_reason, row.storage_key) for path, row in zip(paths, rows[1:], strict=True)}
    assert refused == dict.fromkeys(paths, ("source_not_allowed", None))
    assert fake_telegram.downloads == [fake_telegram.files[files[0]][1]]
    assert listener.hits == []
