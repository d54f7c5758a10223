"""The provider stand-ins, one fixture each, on 127.0.0.1 port 0."""

import pytest

from tests.fakes.mail import dovecot, smtp_sink
from tests.fakes.telegram import fake_telegram
from tests.fakes.twilio import fake_twilio

__all__ = ["dovecot", "fake_telegram", "fake_twilio", "smtp_sink"]


@pytest.fixture(autouse=True)
def _ptb_timedelta(monkeypatch: pytest.MonkeyPatch) -> None:
    # PTB 22 warns (an error under -W error) whenever a RetryAfter is built unless the future timedelta
    # behaviour is opted into; the channel reads retry_after in both forms.
    monkeypatch.setenv("PTB_TIMEDELTA", "true")
