"""The words the bot reads: yes and no (buttons or words), what a message does (nlp.acts, on its head),
asking for a code or cancelling one, a language request, the consent, a numbered choice, and what is left of
a message once its identity is taken out. Pure functions of text: no database, no turn.
"""

from __future__ import annotations

import re

from nlp.acts import Act, Reading
from nlp.acts import read as read_act

# The values of the "did this help?" buttons (and what the prompt tells people to type on channels without
# buttons); any other yes or no is read by nlp.acts.
BUTTON_YES = "1"
BUTTON_NO = "2"
_WORD = re.compile(r"[\w']+")
# Asking for a one-time code (the offer's button sends the first), and leaving the wait for one.
_SEND_CODE = frozenset({"kirim kode", "send code", "kode baru", "new code", "minta kode", "kirim ulang", "resend"})
CANCEL_WORDS = frozenset({"batal", "cancel", "batalkan"})
ENGLISH_REQUEST = re.compile(r"\b(english|inggris)\b")
INDONESIAN_REQUEST = re.compile(r"\b(bahasa indonesia|indonesian|indonesia)\b")


def words_of(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def is_yes(text: str, reading: Reading | None = None) -> bool:
    """The "yes" button, or a yes in words ("iya kak", "sudah bisa", "it helped"), by nlp.acts."""
    return text.strip().strip("!. ") == BUTTON_YES or (reading or read_message(text)).act is Act.YES


def is_no(text: str, reading: Reading | None = None) -> bool:
    """The "no" button, or a no in words ("belum", "masih error", "not helpful"), by nlp.acts."""
    return text.strip().strip("!. ") == BUTTON_NO or (reading or read_message(text)).act is Act.NO


# nlp.acts is slow on a message made only of its phrases: 2,000 characters of "halo " took 6.6 ms on this
# machine idle and 22 ms while tests ran beside it, on the event loop. So only a message's head is read
# (0.3 ms for the same text); a longer message is a question (or a request for a person, if its head says
# so) anyway, and its head's greeting is dropped.
ACTS_CHARS = 256


def asks_for_code(text: str) -> bool:
    return " ".join(words_of(text)) in _SEND_CODE


def read_message(text: str) -> Reading:
    """What a message does (nlp.acts), read on at most its first ACTS_CHARS characters."""
    if len(text) <= ACTS_CHARS:
        return read_act(text)
    head = read_act(text[:ACTS_CHARS])
    if head.act is Act.PERSON:
        return head
    start = text.find(head.question) if head.act is Act.QUESTION and head.question else -1
    return Reading(Act.QUESTION, question=text[start:] if start >= 0 else text, lang=head.lang, seen=head.seen)


# Words that only label an identity ("NIM saya 13521045", "my NIP is ..."): with the identity taken out,
# they are no question to classify.
_IDENTITY_LABELS = frozenset({"nim", "nip", "npm", "email", "e", "mail", "surel", "nomor", "no", "number", "induk",
                              "mahasiswa", "pegawai", "student", "staff", "id", "saya", "aku", "sy", "my", "is",
                              "adalah", "yaitu", "ini", "here", "it", "s", "kak", "min"})


def rest_of(remainder: str) -> Reading:
    """What a message says besides its identity: nothing (EMPTY) when the rest only labels the identity."""
    words = words_of(remainder)
    if all(word in _IDENTITY_LABELS for word in words):
        return Reading(Act.EMPTY)
    return read_message(remainder)


# What the consent button "says"; typed by hand it counts too, as does any yes (nlp.acts).
CONSENT_VALUE = "setuju"
CONSENT_WORDS = frozenset({"setuju", "agree", "i agree", "saya setuju"})


_CHOICE = re.compile(r"\s*(\d{1,2})\s*[.)]?\s*")


def choice(text: str, count: int) -> int | None:
    """The option number (1-based) a reply picks among ``count``, or None when it is not one."""
    match = _CHOICE.fullmatch(text)
    if match is None:
        return None
    number = int(match.group(1))
    return number if 1 <= number <= count else None
