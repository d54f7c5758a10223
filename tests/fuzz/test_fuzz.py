"""The fuzz run: generated malformed requests against every endpoint family of the real app on a loopback
port, SQLite and PostgreSQL. Zero 5xx, and zero log lines at ERROR or with a traceback, from the requests
themselves and from the worker that stores and answers what they delivered.

CI runs ``FUZZ_CASES`` per family (tests/fuzz/sizes.py); ``CARECENTER_FULL_SUITES=1`` runs 10,000 each."""

from __future__ import annotations

import json
import logging
import random
import time
from pathlib import Path

import pytest

from tests.fakes.telegram import FakeTelegram
from tests.fakes.twilio import FakeTwilio
from tests.fuzz.cases import FAMILIES
from tests.fuzz.harness import fuzz_site, run_cases, summary
from tests.fuzz.sizes import FUZZ_CASES, SEED

log = logging.getLogger(__name__)


@pytest.mark.parametrize("family", sorted(FAMILIES))
async def test_no_input_gets_a_500(family: str, db_url: str, tmp_path: Path, fake_twilio: FakeTwilio,
                                   fake_telegram: FakeTelegram) -> None:
    started = time.monotonic()
    async with fuzz_site(tmp_path, db_url, fake_twilio, fake_telegram) as site:
        cases = FAMILIES[family](random.Random(f"{SEED}-{family}"), site.seeds, FUZZ_CASES)
        outcome = await run_cases(site, cases)
    figures = {"family": family, "database": db_url.split(":", 1)[0], "seed": SEED, **summary(outcome),
               "server_errors": len(outcome.server_errors), "tracebacks": len(site.trap.records),
               "seconds": round(time.monotonic() - started, 1)}
    # One line per family: the full run's figures in the README come from these.
    print("FUZZ " + json.dumps(figures))
    assert outcome.cases == FUZZ_CASES
    assert outcome.server_errors == []
    assert site.trap.lines() == []
