"""The provider stand-ins for the fuzz suite (the real PTB and twilio clients talk to them)."""

import pytest

from tests.fakes.telegram import fake_telegram
from tests.fakes.twilio import fake_twilio

__all__ = ["fake_telegram", "fake_twilio"]


@pytest.fixture(autouse=True)
def _ptb_timedelta(monkeypatch: pytest.MonkeyPatch) -> None:
    # As in tests/bot/channels: PTB 22 warns (an error here) on every RetryAfter unless this is set.
    monkeypatch.setenv("PTB_TIMEDELTA", "true")
