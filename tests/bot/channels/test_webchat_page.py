"""The web chat page (issue 14): its framing rule (WEBCHAT_ALLOWED_ORIGINS), the LMS widget script, the
welcome prompt and the header's service hours from the supervisor's settings."""

from __future__ import annotations

import html
from collections.abc import Awaitable, Callable
from datetime import time, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from bot.app import CONTENT_SECURITY_POLICY, content_security_policy, create_app
from bot.config import ConfigError, Settings, parse_origins
from bot.i18n import catalog
from handoff.hours import OperatingHours
from handoff.operations import Operations, save_operations
from tests.conftest import ScriptedClassifier

ClientFactory = Callable[..., Awaitable[TestClient[Any, Any]]]
LMS = "https://lms.example.ac.id"


async def chat_client(aiohttp_client: ClientFactory, db_url: str, tmp_path: Path,
                      origins: tuple[str, ...] = ()) -> TestClient[Any, Any]:
    app = create_app(Settings(data_dir=tmp_path, database_url=db_url, webchat_allowed_origins=origins),
                     classifier=ScriptedClassifier(), scheduler=False)
    return await aiohttp_client(app)


async def test_by_default_only_this_site_may_frame_the_chat(
    aiohttp_client: ClientFactory, db_url: str, tmp_path: Path
) -> None:
    client = await chat_client(aiohttp_client, db_url, tmp_path)
    page = await client.get("/chat")
    assert page.headers["Content-Security-Policy"] == content_security_policy("'self'")
    assert page.headers["X-Frame-Options"] == "SAMEORIGIN"
    # Every other page stays unframeable.
    login = await client.get("/console/login")
    assert login.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert login.headers["X-Frame-Options"] == "DENY"


async def test_allowed_origins_may_frame_the_chat_and_nothing_else_changes(
    aiohttp_client: ClientFactory, db_url: str, tmp_path: Path
) -> None:
    client = await chat_client(aiohttp_client, db_url, tmp_path, origins=(LMS, "http://127.0.0.1:8081"))
    page = await client.get("/chat?lang=en")
    policy = page.headers["Content-Security-Policy"]
    assert "frame-ancestors 'self' https://lms.example.ac.id http://127.0.0.1:8081" in policy
    assert "X-Frame-Options" not in page.headers  # it cannot name other sites; the CSP speaks instead
    login = await client.get("/console/login")
    assert login.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in login.headers["Content-Security-Policy"]
    widget = await client.get("/chat/widget.js")
    assert widget.status == 200
    assert widget.headers["Content-Type"].startswith("text/javascript")
    assert "signature" in await widget.text()


def test_allowed_origins_are_origins_and_nothing_else() -> None:
    assert parse_origins(" https://LMS.example.ac.id/ , http://127.0.0.1:8081,") == (LMS, "http://127.0.0.1:8081")
    assert parse_origins("") == ()
    for bad in ("*", "https://*.itb.ac.id", "lms.example", "https://lms.example/path", "https://a 'unsafe-inline'",
                "javascript://x", "https://a;script-src *"):
        with pytest.raises(ConfigError):
            parse_origins(bad)
    assert Settings.from_env({"WEBCHAT_ALLOWED_ORIGINS": LMS}, env_file=None).webchat_allowed_origins == (LMS,)


async def test_an_empty_chat_has_its_welcome_and_the_header_follows_the_supervisors_hours(
    aiohttp_client: ClientFactory, db_url: str, tmp_path: Path
) -> None:
    client = await chat_client(aiohttp_client, db_url, tmp_path)
    before = html.unescape(await (await client.get("/chat")).text())
    assert catalog("id").t("web_welcome") in before
    assert catalog("id").t("web_subtitle_hours", hours=catalog("id").t("hours")) in before

    schedule = ((0, time(7, 30), time(15, 0)), (1, time(7, 30), time(15, 0)), (5, time(9, 0), time(12, 0)))
    await save_operations(operations=Operations(hours=OperatingHours(schedule=schedule, public_holidays=False),
                                                sla=timedelta(hours=24)))
    after = html.unescape(await (await client.get("/chat?lang=en")).text())
    assert "Virtual assistant · agents Monday–Tuesday 07:30–15:00; Saturday 09:00–12:00 WIB (UTC+7)" in after
    assert catalog("en").t("web_welcome") in after
