"""What every channel's InboundMessage keeps: a bounded audit payload, and text both databases store."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from bot.channels.base import (
    CUT_MARK,
    MAX_PAYLOAD_DEPTH,
    MAX_PAYLOAD_ITEMS,
    MAX_STORED_CHARS,
    InboundMessage,
    audit_payload,
)
from handoff.webinput import clean_text
from models import ChannelKind


def test_the_raw_payload_is_cut_once_for_every_channel() -> None:
    body = "x" * 900_000
    deep: dict[str, object] = {}
    node = deep
    for _ in range(MAX_PAYLOAD_DEPTH + 5):
        node["next"] = {}
        node = node["next"]  # type: ignore[assignment]
    message = InboundMessage(
        channel=ChannelKind.WHATSAPP, external_id="whatsapp:+62812", provider_message_id="SM1", text=body,
        received_at=datetime.now(UTC),
        raw={"form": {"Body": body, "k" * 5000: "v"}, "media": list(range(500)), "deep": deep, "n": 3},
    )
    assert message.text == body  # the text itself is whole until the store step
    assert message.raw["form"]["Body"] == "x" * MAX_STORED_CHARS + CUT_MARK
    assert ("k" * MAX_STORED_CHARS + CUT_MARK) in message.raw["form"]
    assert message.raw["media"] == list(range(MAX_PAYLOAD_ITEMS))
    assert message.raw["n"] == 3
    depth, node = 0, message.raw["deep"]
    while isinstance(node, dict):
        node, depth = node["next"], depth + 1
    assert node == CUT_MARK
    assert depth == MAX_PAYLOAD_DEPTH - 1


def test_small_payloads_are_kept_as_they_are() -> None:
    raw = {"update_id": 7, "message": {"text": "halo", "chat": {"id": 42, "type": "private"}, "entities": []}}
    assert audit_payload(raw) == raw


@given(st.text(st.characters(min_codepoint=0, max_codepoint=0x10FFFF)))
def test_storable_text_encodes_and_keeps_everything_else(text: str) -> None:
    kept = clean_text(text)
    kept.encode("utf-8")  # no lone surrogate left
    assert "\x00" not in kept
    if "\x00" not in text and not any(0xD800 <= ord(c) <= 0xDFFF for c in text):
        assert kept == text
