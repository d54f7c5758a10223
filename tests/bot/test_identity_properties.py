"""Properties of the identity parser over generated text (Hypothesis), and how its cost grows.

Issue 10: the e-mail pattern, run with ``finditer`` over the whole message, cost the square of the length
of a run of word characters (10,000 "_" took 1.4 s, 100,000 digits 105 s, inside the event loop). The
parser now reads each character a bounded number of times, and gives the same answer as before: the
plain-regex parser below is the reference on short texts, where it is still fast."""

from __future__ import annotations

import re
from datetime import date

from hypothesis import given
from hypothesis import strategies as st

from bot.channels.base import MAX_STORED_CHARS
from bot.identity import (
    Attempt,
    Identity,
    IdentityKind,
    ParseResult,
    Problem,
    _looks_like_phone,
    _tidy,
    is_campus_email,
    parse_identity,
    validate_nim,
    validate_nip,
)
from tests.complexity import assert_linear, repeat_to

TODAY = date(2026, 11, 23)
DOMAINS = ("itb.ac.id",)
PLAIN_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", re.IGNORECASE)
DIGITS = re.compile(r"(?<![\w])\d(?:[ .-]?\d){5,}(?![\w])")


def reference_parse(text: str) -> ParseResult:
    """The parser as it was on 6a880d2 (plain ``finditer``): right, but quadratic."""
    attempt: Attempt | None = None
    for match in PLAIN_EMAIL.finditer(text):
        email = match.group(0).lower().rstrip(".")
        if is_campus_email(email, DOMAINS):
            remainder = (text[: match.start()] + " " + text[match.end() :]).strip()
            return ParseResult(Identity(IdentityKind.EMAIL, email), None, _tidy(remainder))
        attempt = attempt or Attempt(Problem.NOT_CAMPUS_EMAIL, email)
    scrubbed = PLAIN_EMAIL.sub(" ", text)
    for match in DIGITS.finditer(scrubbed):
        digits = re.sub(r"\D", "", match.group(0))
        identity: Identity | None = None
        if len(digits) == 8:
            if validate_nim(digits, TODAY):
                identity = Identity(IdentityKind.NIM, digits)
            else:
                attempt = attempt or Attempt(Problem.BAD_NIM, digits, len(digits))
        elif len(digits) == 18:
            if validate_nip(digits, TODAY):
                identity = Identity(IdentityKind.NIP, digits)
            else:
                attempt = attempt or Attempt(Problem.BAD_NIP, digits, len(digits))
        elif len(digits) == 9:
            identity = Identity(IdentityKind.STAFF, digits)
        elif len(digits) <= 20 and not _looks_like_phone(digits):
            attempt = attempt or Attempt(Problem.WRONG_LENGTH, digits, len(digits))
        if identity is not None:
            remainder = scrubbed[: match.start()] + " " + scrubbed[match.end() :]
            if scrubbed != text:
                remainder = text.replace(match.group(0), " ", 1)
            return ParseResult(identity, None, _tidy(remainder))
    return ParseResult(None, attempt, text.strip())


# What identities are made of, and what breaks them: digits and their separators, e-mail characters and
# campus domains, other scripts' digits and letters, emoji.
PIECES = st.sampled_from(
    ["1", "3", "5", "0", "9", " ", ".", "-", "+", "_", "@", "a", "B", "é", "٣", "😀", "\n", "itb.ac.id",
     "students.itb.ac.id", "gmail.com", "13521045", "198503122010121001", "117123456", "08123456789", "budi"]
)
SHORT = st.lists(PIECES, max_size=14).map("".join)
# Units repeated up to the stored length: runs of word characters, digits, dots, '@', whitespace, emoji.
UNITS = st.one_of(
    st.lists(st.sampled_from(["_", "1", "a", ".", "@", " ", "-", "+", "😀", "٣", "\t"]), min_size=1, max_size=5)
    .map("".join),
    st.sampled_from(["_", "1", "a.", "a-", "a@", "1 ", "1.", "a@b.c+", "x.itb.ac.id@", "1352104 "]),
)


@given(SHORT)
def test_same_answer_as_the_plain_regex_parser(text: str) -> None:
    assert parse_identity(text, today=TODAY, campus_domains=DOMAINS) == reference_parse(text)


@given(st.text(max_size=60))
def test_same_answer_on_arbitrary_text(text: str) -> None:
    assert parse_identity(text, today=TODAY, campus_domains=DOMAINS) == reference_parse(text)


@given(UNITS, st.integers(min_value=1, max_value=MAX_STORED_CHARS))
def test_the_answer_is_made_of_the_message(unit: str, length: int) -> None:
    text = repeat_to(unit)(length)
    result = parse_identity(text, today=TODAY, campus_domains=DOMAINS)
    if result.identity is not None:
        if result.identity.kind == IdentityKind.EMAIL:
            assert result.identity.value in text.lower()
        else:
            assert result.identity.value in re.sub(r"\D", "", text)
        assert len(result.remainder) < len(text)
    else:
        assert result.remainder == text.strip()
    if result.attempt is not None:
        assert result.attempt.value in (text.lower() if "@" in result.attempt.value else re.sub(r"\D", "", text))


@given(UNITS)
def test_cost_grows_linearly_up_to_the_stored_length(unit: str) -> None:
    def parse(text: str) -> object:
        return parse_identity(text, today=TODAY, campus_domains=DOMAINS)

    assert_linear(parse, repeat_to(unit), MAX_STORED_CHARS // 10, what=f"parse_identity of {unit!r}")


def test_the_runs_that_froze_the_bot_cost_linear_time() -> None:
    """The probes of issue 10: runs of underscores and digits, no '@' (quadratic before)."""
    def parse(text: str) -> object:
        return parse_identity(text, today=TODAY)

    for unit in ("_", "1", "a.", "x"):
        assert_linear(parse, repeat_to(unit), MAX_STORED_CHARS // 10, what=f"parse_identity of {unit!r}")
