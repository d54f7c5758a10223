"""Settings for the channels' extras: the WhatsApp window warning lead."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.config import ConfigError, Settings


def test_the_window_warning_defaults_to_two_hours_and_can_be_turned_off() -> None:
    assert Settings.from_env({}, env_file=None).whatsapp_window_warning == timedelta(minutes=120)
    assert Settings.from_env({"WHATSAPP_WINDOW_WARNING_MINUTES": "45"}, env_file=None).whatsapp_window_warning == (
        timedelta(minutes=45)
    )
    assert Settings.from_env({"WHATSAPP_WINDOW_WARNING_MINUTES": "0"}, env_file=None).whatsapp_window_warning == (
        timedelta(0)
    )


@pytest.mark.parametrize("value", ["two hours", "1.5", "-5", "1440"])
def test_a_bad_window_warning_names_the_variable(value: str) -> None:
    with pytest.raises(ConfigError, match="WHATSAPP_WINDOW_WARNING_MINUTES"):
        Settings.from_env({"WHATSAPP_WINDOW_WARNING_MINUTES": value}, env_file=None)
