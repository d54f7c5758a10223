"""The fixed attack corpora (files beside this one) and what their tests share: the provider stand-ins, a
listener that records any request reaching it, and Debian's chromium."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.listener import listener
from tests.fakes.telegram import fake_telegram
from tests.fakes.twilio import fake_twilio

__all__ = ["fake_telegram", "fake_twilio", "listener"]

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
HAVE_CHROMIUM = Path(CHROMIUM).exists()


@pytest.fixture(autouse=True)
def _ptb_timedelta(monkeypatch: pytest.MonkeyPatch) -> None:
    # As in tests/bot/channels: PTB 22 warns (an error here) on RetryAfter unless this is opted into.
    monkeypatch.setenv("PTB_TIMEDELTA", "true")


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    if not HAVE_CHROMIUM:
        pytest.skip("Debian's chromium is not installed")
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        launched = await p.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=["--disable-background-networking", "--disable-component-update"],
        )
        try:
            yield launched
        finally:
            await launched.close()
