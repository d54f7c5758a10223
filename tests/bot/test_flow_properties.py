"""The conversation's steps over generated messages (Hypothesis): whatever a person sends, in any order,
the turn never raises, the message is stored (cut to MAX_STORED_CHARS, clean_text on both databases) and
processed, and the bot sends a bounded number of replies.

One database for all the examples of a test (hence the suppressed health check): each example is a new
person, so no example sees another's conversation."""

from __future__ import annotations

import itertools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.channels.base import MAX_STORED_CHARS
from handoff.webinput import clean_text
from models import Direction, Message
from tests.conftest import FlowHarness, examples

# The most one turn sends: first contact is greeting, privacy notice, "question noted", "send your NIM".
MAX_REPLIES = 4

WORDS = st.sampled_from(
    ["halo", "13521045", "198503122010121001", "117123456", "dewi.sampel@itb.ac.id", "budi@gmail.com", "1352104",
     "agent", "1", "2", "ya", "tidak", "5", "/start", "/bahasa en", "/help", "/agen", "/x", "terima kasih",
     "saya lupa password", "nilai belum keluar", "login gagal", "english please", "skip", "", " ", "\n"]
)
RUNS = st.builds(
    lambda unit, length: (unit * (length // len(unit) + 1))[:length],
    st.sampled_from(["_", "1", "a.", "a@", "x-", " ", "😀", "1 ", "13521045 "]),
    st.integers(min_value=1, max_value=MAX_STORED_CHARS + 300),
)
ODD = st.text(st.characters(min_codepoint=0, max_codepoint=0xDFFF), max_size=30)  # NUL, controls, surrogates
MESSAGE = st.one_of(WORDS, st.text(max_size=200), RUNS, ODD, st.lists(WORDS, max_size=5).map(" ".join))
PEOPLE = itertools.count()


@settings(max_examples=examples(12, 300), suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(texts=st.lists(MESSAGE, min_size=1, max_size=4))
async def test_any_messages_are_stored_processed_and_answered_boundedly(flow: FlowHarness, texts: list[str]) -> None:
    user = f"prop-{next(PEOPLE)}"
    for text in texts:
        before = len(flow.channel.sent)
        result = await flow.send(text, user=user)
        assert not result.duplicate
        assert result.message_id is not None
        stored = await Message.get(id=result.message_id)
        assert stored.direction == Direction.INBOUND
        assert stored.text == clean_text(text)[:MAX_STORED_CHARS]
        assert stored.processed_at is not None
        assert len(flow.channel.sent) - before <= MAX_REPLIES
