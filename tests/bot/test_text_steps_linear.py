"""Every other text routine a message meets on its way in costs time linear in its length (issue 10 audit).

Each is run on texts made of a unit repeated up to the stored length (Hypothesis picks the units: runs of
word characters, digits, dots, '@', whitespace, emoji and the words the patterns look for), and its CPU
time at 10x the length is compared with 1x in the same run (tests/complexity.py)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.channels.base import MAX_STORED_CHARS, audit_payload
from bot.channels.mail import strip_quoted
from bot.channels.whatsapp import template_variable
from bot.conversation.lexicon import is_no, is_yes, read_message
from bot.i18n import detect_language
from handoff.survey import comment_kind, parse_rating
from handoff.webinput import clean_text
from nlp.acts import read as read_act
from tests.complexity import assert_linear, repeat_to

ROUTINES: dict[str, Callable[[str], object]] = {
    "acts.read": read_act,
    "read_message": read_message,
    "is_yes": is_yes,
    "is_no": is_no,
    "detect_language": detect_language,
    "comment_kind": comment_kind,
    "parse_rating": parse_rating,
    "strip_quoted": strip_quoted,
    "template_variable": template_variable,
    "clean_text": clean_text,
    "audit_payload": lambda text: audit_payload({"form": {"Body": text}}),
}
UNITS = st.one_of(
    st.lists(st.sampled_from(["_", "1", "a", ".", "@", " ", "\n", "-", "!", "😀", "\t", ">", "'"]), min_size=1,
             max_size=5).map("".join),
    st.sampled_from(["talk ", "talk to a ", "minta ", "terima kasih ", "ok ", "on x wrote:\n", "-- ", "halo ",
                     "admin ", "english ", "the is ", "saya "]),
)


@pytest.mark.parametrize("name", list(ROUTINES))
@given(unit=UNITS)
def test_cost_grows_linearly(name: str, unit: str) -> None:
    assert_linear(ROUTINES[name], repeat_to(unit), MAX_STORED_CHARS // 10, what=f"{name} of {unit!r}")
