"""The registry is a list of channel classes; each builds itself from its own settings, or stays off."""

from __future__ import annotations

from pathlib import Path

from bot.channels.registry import CHANNELS, build_channels
from bot.config import Settings
from handoff import reply_window
from models import ChannelKind

CONFIGURED = {
    "TELEGRAM_BOT_TOKEN": "123:abc",
    "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
    "TWILIO_AUTH_TOKEN": "secret",
    "TWILIO_WHATSAPP_FROM": "+6281200000000",
    "SMTP_HOST": "127.0.0.1",
    "SMTP_FROM": "care@cc.test",
    "IMAP_HOST": "127.0.0.1",
    "IMAP_USERNAME": "care@cc.test",
}


def test_each_channel_is_on_exactly_when_its_settings_are_present(tmp_path: Path) -> None:
    def kinds(env: dict[str, str]) -> list[ChannelKind]:
        settings = Settings.from_env({"DATA_DIR": str(tmp_path), **env}, env_file=None)
        return [channel.kind for channel in build_channels(settings)]

    # The web chat needs no provider account: always on.
    assert kinds({}) == [ChannelKind.WEBCHAT]
    assert kinds(CONFIGURED) == [ChannelKind.WEBCHAT, ChannelKind.TELEGRAM, ChannelKind.WHATSAPP, ChannelKind.EMAIL]
    assert kinds({"TELEGRAM_BOT_TOKEN": "123:abc", "TWILIO_ACCOUNT_SID": "AC1"}) == [
        ChannelKind.WEBCHAT, ChannelKind.TELEGRAM]


def test_channels_declare_their_capabilities_and_the_helpdesk_sees_the_same_window() -> None:
    declared = {cls.kind: cls.capabilities for cls in CHANNELS}
    assert {kind: (c.buttons, c.files) for kind, c in declared.items()} == {
        ChannelKind.WEBCHAT: (True, True), ChannelKind.TELEGRAM: (True, True), ChannelKind.WHATSAPP: (True, True),
        ChannelKind.EMAIL: (False, True),
    }
    # Only the web chat's messages are read on our own pages, where a relative link works.
    assert {kind for kind, c in declared.items() if not c.absolute_links} == {ChannelKind.WEBCHAT}
    assert {kind: c.reply_window for kind, c in declared.items() if c.reply_window} == reply_window.WINDOWS
