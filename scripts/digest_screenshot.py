"""Render the daily digest's HTML part to docs/screenshots/digest.png for the README.

The digest is built, as the job builds it, from the reports tests' hand-built November (tests/handoff/
reports_data.py) in a throw-away SQLite database, at 07:00 WIB on 1 December; its Indonesian part is
photographed with Playwright and the system's chromium. Run from the repository root:

    PYTHONPATH=. python scripts/digest_screenshot.py [OUT.png]
"""

from __future__ import annotations

import asyncio
import shutil
import sys
import tempfile
from pathlib import Path

from playwright.async_api import async_playwright

from handoff.digest import DigestKind, build_digest, due_period, load_schedule, render
from models import open_database
from tests.handoff.reports_data import WIB, build_supervisor_month, wib


async def main(out: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        database = await open_database(f"sqlite://{Path(tmp) / 'digest.sqlite3'}")
        try:
            await build_supervisor_month()
            now = wib(2026, 12, 1, 7, 0)
            period = due_period(DigestKind.DAILY, await load_schedule(), now=now, tz=WIB)
            assert period is not None
            _subject, _plain, html = render(await build_digest(DigestKind.DAILY, period, now=now,
                                                               public_url="https://care.example.ac.id"))
        finally:
            await database.close()
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=shutil.which("chromium"))
        page = await browser.new_page(viewport={"width": 700, "height": 900}, device_scale_factor=1)
        await page.set_content(html)
        await page.locator('div[lang="id"]').screenshot(path=str(out))
        await browser.close()
    print(f"wrote {out}")


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("docs/screenshots/digest.png")))
