"""The API tokens page in a real browser: make a token (its secret shown once), use it, revoke it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.handoff.console.conftest import Served
from tests.handoff.console.test_browser import CHROMIUM, browser, shots, sign_in

__all__ = ["browser"]

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed")]


async def test_make_use_and_revoke_a_token_in_the_browser(served: Served, browser: Any, tmp_path: Path) -> None:
    from playwright.async_api import expect

    page = await sign_in(browser, served, "ana@cc.test")
    await page.click('a[href="/console/tokens"]')
    await expect(page.locator("h1")).to_have_text("Token API")
    await page.fill('#token-form input[name="name"]', "laporan mingguan")
    await page.select_option('#token-form select[name="expires"]', "30d")
    await page.click('#token-form button[type="submit"]')
    secret = await page.locator("#token-secret").inner_text()
    assert secret.startswith("cc_")
    row = page.locator("#tokens tbody tr", has_text="laporan mingguan")
    await expect(row.locator(".token-state")).to_have_text("aktif")
    await page.screenshot(path=str(shots(tmp_path) / "tokens.png"), full_page=True)

    async with aiohttp.ClientSession() as http:
        async with http.get(f"{served.url}/api/v1/tickets", headers={"Authorization": f"Bearer {secret}"}) as ok:
            assert ok.status == 200
        await row.get_by_role("button", name="Cabut").click()
        await expect(page.get_by_role("status")).to_have_text("Token dicabut: token tidak berlaku lagi.")
        await expect(page.locator("#tokens tbody tr", has_text="laporan mingguan").locator(".token-state")
                     ).to_contain_text("dicabut")
        await expect(page.locator("#token-secret")).to_have_count(0)
        async with http.get(f"{served.url}/api/v1/tickets", headers={"Authorization": f"Bearer {secret}"}) as gone:
            assert (gone.status, (await gone.json())["reason"]) == (401, "revoked")
