"""How much the fuzz and Schemathesis suites try: a CI size by default, the full size with
``CARECENTER_FULL_SUITES=1`` (the README's Reliability section has the command and the last figures)."""

from __future__ import annotations

import os

FULL = os.environ.get("CARECENTER_FULL_SUITES", "") == "1"

# Generated requests per endpoint family (webhooks, web chat, API, console, survey), per database.
FUZZ_CASES = int(os.environ.get("CARECENTER_FUZZ_CASES", "0")) or (10_000 if FULL else 100)
# Hypothesis examples per API operation for Schemathesis, and per property of the webhook parsers.
SCHEMATHESIS_EXAMPLES = 300 if FULL else 12
PROPERTY_EXAMPLES = 2_000 if FULL else 60
# The fixed seed of a CI run, so a failure there is reproduced by running the test again; a full run
# draws a new one (printed with any failure).
SEED = int(os.environ.get("CARECENTER_FUZZ_SEED", "0")) or (int.from_bytes(os.urandom(4), "big") if FULL else 10)
