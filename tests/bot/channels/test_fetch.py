"""The fetch policy for provider files, as the real providers need it, and the fetch's own limits."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web
from yarl import URL

from bot.channels.fetch import FetchPolicy, Origin, fetch_file, stand_in_origin
from bot.channels.telegram import file_path_allowed, file_policy
from bot.channels.whatsapp import media_policy

SID = "AC" + "0" * 31 + "1"
MEDIA = f"https://api.twilio.com/2010-04-01/Accounts/{SID}/Messages/MM{'0' * 32}/Media/ME{'1' * 32}"
TOKEN = "123456:ABC-def"
STREAMED_KB = 1024


@pytest.mark.parametrize(
    ("url", "start", "redirect"),
    [
        (MEDIA, True, True),
        (MEDIA.replace("api.twilio.com", "api.twilio.com:443"), True, True),
        (MEDIA.replace("https://", "http://"), False, False),
        (MEDIA.replace("api.twilio.com", "api.twilio.com:8443"), False, False),
        (MEDIA.replace(SID, "AC" + "9" * 32), False, False),  # another account's media: not with our credentials
        (MEDIA.replace("api.twilio.com", "api.twilio.com.evil.invalid"), False, False),
        (MEDIA.replace("https://", "https://api.twilio.com@"), False, False),
        # Where Twilio sends a media request on: its CDN, only after a redirect.
        ("https://mms.twiliocdn.com/AC1/abc/def", False, True),
        ("https://media.twiliocdn.com/AC1/abc", False, True),
        ("https://s3-external-1.amazonaws.com/media.twiliocdn.com/AC1/abc", False, True),
        ("https://s3-external-1.amazonaws.com/someone-elses-bucket/abc", False, False),
        ("https://twiliocdn.com.evil.invalid/abc", False, False),
        ("http://mms.twiliocdn.com/abc", False, False),
        ("https://mms.twiliocdn.com:8080/abc", False, False),
    ],
)
def test_twilio_media_policy(url: str, start: bool, redirect: bool) -> None:
    policy = media_policy(account_sid=SID)
    assert (policy.admit(url)[0] is not None, policy.admit(url, redirect=True)[0] is not None) == (
        start, redirect)


def test_credentials_go_to_twilios_api_only() -> None:
    policy = media_policy(account_sid=SID)
    assert policy.credentials is not None
    assert policy.credentials.admits(URL(MEDIA))
    assert not policy.credentials.admits(URL("https://mms.twiliocdn.com/AC1/abc"))


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        (f"https://api.telegram.org/file/bot{TOKEN}/documents/file_12.pdf", True),
        (f"https://api.telegram.org/file/bot{TOKEN}/photos/file_3.jpg", True),
        (f"https://api.telegram.org/bot{TOKEN}/getMe", False),
        ("https://api.telegram.org/file/bot999:other/documents/file_12.pdf", False),
        (f"http://api.telegram.org/file/bot{TOKEN}/documents/file_12.pdf", False),
        (f"https://api.telegram.org:8443/file/bot{TOKEN}/documents/file_12.pdf", False),
    ],
)
def test_telegram_file_policy(url: str, allowed: bool) -> None:
    policy = file_policy(f"https://api.telegram.org/file/bot{TOKEN}", configured=False)
    assert (policy.admit(url)[0] is not None) is allowed


@pytest.mark.parametrize(
    ("path", "allowed"),
    [
        ("documents/file_12.pdf", True),
        ("photos/file_3.jpg", True),
        ("../../../etc/passwd", False),
        ("documents/../../bot1:x/getMe", False),
        ("/var/lib/telegram-bot-api/123:abc/documents/file_1.pdf", False),
        ("file:///etc/passwd", False),
        ("https://evil.invalid/x.pdf", False),
        ("documents//file.pdf", False),
        ("./documents/file.pdf", False),
        ("documents\\..\\..\\x", False),
        ("documents/file\x00.pdf", False),
        ("", False),
    ],
)
def test_telegram_file_paths(path: str, allowed: bool) -> None:
    assert (file_path_allowed(path) is not None) is allowed


@pytest.mark.parametrize(
    ("base", "expected"),
    [
        ("http://127.0.0.1:8081", Origin("http", "127.0.0.1", 8081, "/")),
        ("http://localhost:8081", Origin("http", "localhost", 8081, "/")),
        ("http://[::1]:8081", Origin("http", "::1", 8081, "/")),
        ("https://bot-api.example.ac.id", Origin("https", "bot-api.example.ac.id", 443, "/")),
        # Plain http elsewhere would carry the credentials in clear text: nothing is fetched from it.
        ("http://bot-api.example.ac.id:8081", None),
        ("ftp://127.0.0.1:21", None),
    ],
)
def test_a_configured_stand_in_is_trusted_over_http_on_loopback_only(base: str, expected: Origin | None) -> None:
    assert stand_in_origin(base) == expected


# -- the fetch itself, against a loopback server ---------------------------------------------------------


@pytest.fixture
async def server() -> AsyncIterator[str]:
    async def streamed(request: web.Request) -> web.StreamResponse:
        # Chunked, without a Content-Length: only counting while reading finds out it is too big.
        response = web.StreamResponse(headers={"Content-Type": "image/png"})
        await response.prepare(request)
        for _ in range(STREAMED_KB):
            await response.write(b"x" * 1024)
        await response.write_eof()
        return response

    async def loop(request: web.Request) -> web.Response:
        return web.Response(status=302, headers={"Location": "/loop"})

    async def relative(request: web.Request) -> web.Response:
        return web.Response(status=307, headers={"Location": "../other/.././small"})

    async def small(request: web.Request) -> web.Response:
        return web.Response(body=b"png", content_type="image/png")

    app = web.Application()
    app.router.add_get("/streamed", streamed)
    app.router.add_get("/loop", loop)
    app.router.add_get("/a/relative", relative)
    app.router.add_get("/small", small)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


async def fetch(server: str, path: str, *, max_bytes: int = 10_000) -> tuple[bytes | None, int, str | None, str]:
    origin = stand_in_origin(server)
    assert origin is not None
    async with aiohttp.ClientSession() as session:
        got = await fetch_file(session, server + path, policy=FetchPolicy(start=(origin,)), max_bytes=max_bytes)
    return got.data, got.size, got.refused, got.why


async def test_a_body_is_counted_while_streaming(server: str) -> None:
    data, size, refused, why = await fetch(server, "/streamed", max_bytes=10_000)
    assert (data, refused, why) == (None, "too_big", "streamed")
    assert 10_000 < size < STREAMED_KB * 1024  # stopped after the limit, not read to the end


async def test_a_redirect_loop_ends(server: str) -> None:
    assert await fetch(server, "/loop") == (None, 0, "download_failed", "too many redirects")


async def test_a_relative_redirect_is_resolved_and_checked(server: str) -> None:
    assert await fetch(server, "/a/relative") == (b"png", 3, None, "")
