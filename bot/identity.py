"""Recognise an identity anywhere in a message: ITB NIM, NIP, staff number or a campus e-mail.

The parser is pure (no I/O) so every format rule is unit-tested; the directory check lives in bot.directory.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from nlp.textscan import Finder


class IdentityKind(StrEnum):
    NIM = "nim"
    NIP = "nip"
    STAFF = "staff"
    EMAIL = "email"
    # Never parsed from a message (a phone number there is contact data): the address a WhatsApp message
    # comes from, looked up in the directory to prove it (issue 13).
    PHONE = "phone"


class Problem(StrEnum):
    WRONG_LENGTH = "nim_wrong_length"
    BAD_NIM = "nim_invalid"
    BAD_NIP = "nip_invalid"
    NOT_CAMPUS_EMAIL = "email_not_campus"


@dataclass(frozen=True, slots=True)
class Identity:
    kind: IdentityKind
    value: str  # canonical: digits only, or a lower-cased e-mail


@dataclass(frozen=True, slots=True)
class Attempt:
    """Something that looks like an identity but is not a valid one; ``problem`` keys the correction text."""

    problem: Problem
    value: str
    digits: int = 0


@dataclass(frozen=True, slots=True)
class ParseResult:
    identity: Identity | None
    attempt: Attempt | None
    remainder: str  # the message without the identity: the question, if any


DEFAULT_CAMPUS_DOMAINS = ("itb.ac.id",)

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", re.IGNORECASE)
# Searched in linear time (nlp.textscan), with the same matches: a match begins where a run of [\w.+-]
# begins (a later start in the run would reach the same '@' and domain) and the run reaches '@' and a
# dotted domain; a try that fails skips the run. ``_EMAIL.finditer`` tried every position of a run and
# read to its end each time: quadratic, and 100,000 digits froze the bot for 105 s.
_EMAILS = Finder(_EMAIL, starts=re.compile(r"(?<![\w.+-])(?=[\w.+-]+@[\w-]+\.[\w-])"), run=re.compile(r"[\w.+-]+"))
# NIPs are often written in groups: "19850312 201012 1 001". Digit runs may be split by single spaces,
# dots or dashes; a run of 6+ digits is treated as an identity attempt (shorter numbers are course
# codes, quiz numbers and the like, and belong to the question). Linear as it stands: a try starts only at
# a digit with no word character before it, and fails only over digits that are unbroken after its first
# five, where no other try can start; so each character is read by a few tries at most.
_DIGITS = re.compile(r"(?<![\w])\d(?:[ .-]?\d){5,}(?![\w])")


def _valid_date(year: int, month: int, day: int) -> bool:
    try:
        date(year, month, day)
    except ValueError:
        return False
    return True


def validate_nim(digits: str, today: date) -> bool:
    """3-digit programme code (never starting with 0), 2-digit entry year not in the future, 3-digit sequence."""
    if len(digits) != 8 or digits[0] == "0":
        return False
    year = int(digits[3:5])
    full_year = 2000 + year if 2000 + year <= today.year else 1900 + year
    return full_year >= 1960 and digits[5:] != "000"


def validate_nip(digits: str, today: date) -> bool:
    if len(digits) != 18:
        return False
    by, bm, bd = int(digits[0:4]), int(digits[4:6]), int(digits[6:8])
    ay, am = int(digits[8:12]), int(digits[12:14])
    if not _valid_date(by, bm, bd) or not (1930 <= by <= today.year - 17):
        return False
    if not (1 <= am <= 12) or not (by + 17 <= ay <= today.year):
        return False
    return digits[14] in "12" and digits[15:] != "000"


def is_campus_email(email: str, domains: tuple[str, ...]) -> bool:
    host = email.rsplit("@", 1)[-1].lower()
    return any(host == d or host.endswith("." + d) for d in domains)


def parse_identity(text: str, *, today: date, campus_domains: tuple[str, ...] = DEFAULT_CAMPUS_DOMAINS) -> ParseResult:
    """Find the first valid identity in ``text``; otherwise report the first malformed attempt."""
    attempt: Attempt | None = None
    for match in _EMAILS.finditer(text):
        email = match.group(0).lower().rstrip(".")
        if is_campus_email(email, campus_domains):
            remainder = (text[: match.start()] + " " + text[match.end() :]).strip()
            return ParseResult(Identity(IdentityKind.EMAIL, email), None, _tidy(remainder))
        attempt = attempt or Attempt(Problem.NOT_CAMPUS_EMAIL, email)
    scrubbed = _EMAILS.sub(" ", text)
    for match in _DIGITS.finditer(scrubbed):
        digits = re.sub(r"\D", "", match.group(0))
        identity: Identity | None = None
        if len(digits) == 8:
            if validate_nim(digits, today):
                identity = Identity(IdentityKind.NIM, digits)
            else:
                attempt = attempt or Attempt(Problem.BAD_NIM, digits, len(digits))
        elif len(digits) == 18:
            if validate_nip(digits, today):
                identity = Identity(IdentityKind.NIP, digits)
            else:
                attempt = attempt or Attempt(Problem.BAD_NIP, digits, len(digits))
        elif len(digits) == 9:
            identity = Identity(IdentityKind.STAFF, digits)
        elif len(digits) <= 20 and not _looks_like_phone(digits):
            attempt = attempt or Attempt(Problem.WRONG_LENGTH, digits, len(digits))
        # Longer runs are phone numbers, order ids...: not an identity attempt.
        if identity is not None:
            remainder = scrubbed[: match.start()] + " " + scrubbed[match.end() :]
            # Keep e-mails that were not the identity in the question text.
            if scrubbed != text:
                remainder = text.replace(match.group(0), " ", 1)
            return ParseResult(identity, None, _tidy(remainder))
    return ParseResult(None, attempt, text.strip())


def _looks_like_phone(digits: str) -> bool:
    # Indonesian mobile numbers (08..., 628...) are contact details, not a mistyped NIM.
    return len(digits) >= 10 and digits.startswith(("08", "628"))


_E164 = re.compile(r"\+[1-9]\d{7,14}")


def normalise_phone(value: str) -> str | None:
    """E.164 (+6281234567890) from how people write Indonesian numbers (0812-3456-7890, 62 812..., +62 (812)
    ...); None when it is not a phone number."""
    digits = re.sub(r"[\s().-]", "", value.strip())
    if digits.startswith("00"):
        digits = "+" + digits[2:]
    elif digits.startswith("0"):
        digits = "+62" + digits[1:]
    elif digits.startswith("62"):
        digits = "+" + digits
    return digits if _E164.fullmatch(digits) else None


def _tidy(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip(" ,.;:-")


def mask(value: str) -> str:
    """For logs and audit: never the full number or address."""
    if "@" in value:
        name, _, host = value.partition("@")
        return f"{name[:1]}***@{host}"
    return value[:3] + "*" * max(0, len(value) - 5) + value[-2:] if len(value) > 5 else "***"
