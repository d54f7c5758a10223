"""The linear-time searches give exactly the matches of the plain patterns, and their cost grows linearly.

The plain patterns are the reference: on short texts they are fast, so Hypothesis compares the two there,
over an alphabet made of the characters these patterns turn on. The cost guards use the long runs that made
the plain patterns quadratic (issue 10: 2,000 characters of "a-a-a-…" took 100 ms in the classifier)."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from bot.channels.base import MAX_CLASSIFIED_CHARS
from nlp.normalize import _EMAIL, _HOST, _WEB_ADDRESS, EMAIL_MARK, URL_MARK, _mask, normalize
from nlp.textscan import substitute
from tests.complexity import assert_linear, repeat_to

PLAIN_URL = re.compile(r"(?:https?://|www\.)\S+|\b[\w-]+(?:\.[\w-]+)*\.(?:com|id|ac\.id|org|net|io)(?:/\S*)?\b")
PLAIN_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")

PIECES = st.sampled_from(
    ["a", "b", "1", "_", "-", ".", "+", "@", " ", "/", ":", "é", "ß", "٣", "\t", "😀", "com", "id", "ac.id", "org",
     "www.", "http://", "https://", "itb", "x.com", "a@b.id"]
)
SHORT = st.lists(PIECES, max_size=16).map("".join)
UNITS = st.lists(PIECES, min_size=1, max_size=6).map("".join)


@given(SHORT)
def test_email_search_matches_the_plain_pattern(text: str) -> None:
    assert [m.span() for m in _EMAIL.finditer(text)] == [m.span() for m in PLAIN_EMAIL.finditer(text)]


@given(SHORT)
def test_url_search_matches_the_plain_pattern(text: str) -> None:
    assert substitute(text, " U ", _WEB_ADDRESS, _HOST) == PLAIN_URL.sub(" U ", text)


@given(st.text(max_size=40))
def test_masking_arbitrary_text_matches_the_plain_patterns(text: str) -> None:
    expected = PLAIN_URL.sub(f" {URL_MARK} ", PLAIN_EMAIL.sub(f" {EMAIL_MARK} ", text))
    assert substitute(_EMAIL.sub(f" {EMAIL_MARK} ", text), f" {URL_MARK} ", _WEB_ADDRESS, _HOST) == expected


def test_known_addresses_are_masked() -> None:
    assert normalize("buka https://edunex.itb.ac.id/login atau www.itb.ac.id, tanya budi@itb.ac.id") == (
        "buka _url_ atau _url_ tanya _email_"
    )


@given(UNITS)
def test_masking_cost_grows_linearly(unit: str) -> None:
    assert_linear(_mask, repeat_to(unit), MAX_CLASSIFIED_CHARS // 10, what=f"_mask of {unit!r}")


def test_masking_cost_grows_linearly_on_the_runs_that_were_quadratic() -> None:
    for unit in ("a-", "a.", "1.", "a+", "_", "a.com-", "x@"):
        assert_linear(normalize, repeat_to(unit), MAX_CLASSIFIED_CHARS // 10, what=f"normalize of {unit!r}")
