"""Attachment limits from the environment: defaults, overrides, and errors that name the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import ConfigError, Settings
from handoff.attachments import DEFAULT_MAX_BYTES


def test_defaults_and_overrides(tmp_path: Path) -> None:
    default = Settings.from_env({}, env_file=None)
    assert default.max_attachment_bytes == DEFAULT_MAX_BYTES == 10 * 1024 * 1024
    assert "application/pdf" in default.attachment_types
    custom = Settings.from_env({"DATA_DIR": str(tmp_path), "MAX_ATTACHMENT_BYTES": "2048",
                                "ATTACHMENT_TYPES": "image/png, Audio/OGG"}, env_file=None)
    store = custom.attachment_store()
    assert store.root == tmp_path / "attachments"
    assert store.policy.max_bytes == 2048
    assert store.policy.allowed_types == frozenset({"image/png", "audio/ogg"})
    assert store.policy.refusal("application/pdf", 10) == "type_not_allowed"


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({"MAX_ATTACHMENT_BYTES": "ten megs"}, "MAX_ATTACHMENT_BYTES"),
        ({"MAX_ATTACHMENT_BYTES": "0"}, "MAX_ATTACHMENT_BYTES"),
        ({"ATTACHMENT_TYPES": "pdf"}, "ATTACHMENT_TYPES"),
    ],
)
def test_bad_values_name_the_variable(environ: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        Settings.from_env(environ, env_file=None)
