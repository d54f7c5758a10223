"""Dialogue acts: what a message does before what it is about.

The bot reads each message (after it has taken an identity out of it) with :func:`read` before it asks
the classifier anything. Only a QUESTION goes to the classifier, and then without its greeting and
apology preamble or its closing thanks, so that "selamat malam kak, mohon maaf mengganggu waktunya, saya
mau tanya, nilai UTS saya belum keluar, terima kasih" is classified as "nilai UTS saya belum keluar".

Acts (:class:`Act`): greeting, thanks, acknowledgement ("oke kak", "siap", "noted"), goodbye, "I want to
ask" ("halo kak mau tanya"), emoji only, a request for a person, a rating (1-5, stars), yes / no (an
answer to "did this help?"), empty, and question (everything else). A message that is only made of
such fixed phrases gets the strongest act among them (person > yes/no > goodbye > thanks >
acknowledgement > want to ask > greeting): "oke makasih kak" is thanks, "iya kak makasih" is yes. A
message with anything more is a question ("makasih kak, satu lagi: nilai saya kok belum keluar?"),
unless it asks for a person ("saya mau bicara dengan petugas soal nilai"), which wins and keeps the rest
as the question.

Context is the caller's: a bare "1" is read as the rating 1, and a bot that has just offered numbered
choices looks at digits itself first; "oke" after "did this help?" is an acknowledgement, which such a
bot may take as yes.

Words are matched after lower-casing and collapsing repeated letters on both sides ("makasiiih",
"haloooo", "okeee" match "makasih", "halo", "oke"). Processing is linear in the length of the message:
one tokenising pass, then a greedy longest-match over a phrase table whose phrases have at most
``MAX_PHRASE`` words; texts longer than ``MAX_CHARS`` are read on their first ``MAX_CHARS`` characters
(such a text is a question anyway).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

MAX_CHARS = 4000


class Act(StrEnum):
    GREETING = "greeting"
    THANKS = "thanks"
    ACKNOWLEDGEMENT = "acknowledgement"
    GOODBYE = "goodbye"
    WANT_TO_ASK = "want_to_ask"
    EMOJI_ONLY = "emoji_only"
    PERSON = "person"
    RATING = "rating"
    YES = "yes"
    NO = "no"
    EMPTY = "empty"
    QUESTION = "question"


@dataclass(frozen=True, slots=True)
class Reading:
    """What :func:`read` made of a message.

    ``question``: for QUESTION (and PERSON, when the person request came with a topic) the text the
    classifier should see, preamble and closing removed; empty otherwise. ``rating``: 1-5 for RATING.
    ``lang``: "id" or "en" when the fixed phrases recognised all belong to one language ("hi" and
    "hello" are English, "halo" and "makasih" Indonesian), else None; a language detector knows little
    about two-word messages, this lexicon does. ``seen``: every act recognised in the message, in order,
    the preamble of a question included (e.g. THANKS then WANT_TO_ASK before the question).
    """

    act: Act
    question: str = ""
    rating: int | None = None
    lang: str | None = None
    seen: tuple[Act, ...] = ()


# -- the phrase table ---------------------------------------------------------------------------------
# Kinds beyond the acts: words that address the helpdesk ("kak", "min") or soften ("dong", "ya") carry no
# act of their own; an apology opens a question the way "mau tanya" does.
_ADDRESS = "address"
_FILLER = "filler"
_APOLOGY = "apology"

# kind -> language -> phrases (one per line-separated entry; words separated by spaces).
_PHRASES: dict[str, dict[str | None, str]] = {
    Act.GREETING: {
        "id": """halo|hallo|hai|hay|selamat pagi|selamat siang|selamat sore|selamat malam|pagi|siang|sore|
            malam|met pagi|met siang|met sore|met malam|assalamualaikum|assalamualaikum wr wb|
            assalamualaikum warahmatullahi wabarakatuh|asalamualaikum|salam|punten|permisi|misi|
            selamat pagi menjelang siang|salam sejahtera|semoga sehat selalu|apa kabar""",
        "en": "hi|hello|hey|hiya|good morning|good afternoon|good evening|greetings|hi there|hello there|dear",
        None: "hola|yo",
    },
    Act.THANKS: {
        "id": """terima kasih|terimakasih|makasih|makasi|mksh|mks|trims|trimakasih|tengkyu|terima kasih banyak|
            makasih banyak|makasih ya|terima kasih atas bantuannya|makasih atas bantuannya|hatur nuhun|
            nuhun|matur nuwun|suwun|tq|tqs|terima kasih sebelumnya|makasih sebelumnya""",
        "en": """thanks|thank you|thx|thanks a lot|thank you so much|thanks so much|many thanks|ty|tysm|
            thank u|thanks in advance|thank you in advance|cheers|appreciate it""",
    },
    Act.ACKNOWLEDGEMENT: {
        "id": """siap|baik|baiklah|oke deh|okedeh|sip|sipp|mantap|mantul|paham|mengerti|dimengerti|
            noted kak|iya paham|oke siap|siap kak|baik kak|oke baik|ditunggu|ditunggu ya|gpp|gapapa|
            tidak apa apa|nggak papa|ga papa|nanti saya coba|saya coba dulu|akan saya coba|
            sudah jelas|jelas""",
        "en": """noted|got it|understood|alright|all right|i see|cool|great|nice|fine|sounds good|
            will do|i will try|ill try|no problem|no worries|perfect""",
        None: "ok|oke|okay|okey|okie|oki|k|kk|okk|sippp",
    },
    Act.GOODBYE: {
        "id": """dadah|dah|sampai jumpa|sampai nanti|selamat tinggal|pamit|pamit dulu|wassalamualaikum|
            wassalam|selamat beristirahat|sampai ketemu""",
        "en": "bye|goodbye|good bye|bye bye|see you|see ya|see you later|take care|good night|have a nice day",
    },
    Act.WANT_TO_ASK: {
        "id": """mau tanya|mau nanya|mau bertanya|ingin bertanya|ingin tanya|izin bertanya|ijin bertanya|
            izin tanya|boleh tanya|boleh nanya|boleh bertanya|numpang tanya|numpang nanya|tanya dong|
            nanya dong|mau tanya dong|mau nanya dong|saya mau tanya|aku mau tanya|aku mau nanya|
            saya mau nanya|saya ingin bertanya|saya ingin menanyakan|ingin menanyakan|mau menanyakan|
            saya mau menanyakan|mohon izin bertanya|satu lagi|ada satu lagi|ada pertanyaan|
            saya ada pertanyaan|aku ada pertanyaan|mau konsultasi|ingin konsultasi|tolong|minta tolong|
            tolong dong|tolong bantu|bantu|bantuin|mohon bantuan|mohon bantuannya|mohon dibantu|
            minta bantuan|butuh bantuan|perlu bantuan|urgent|penting|darurat""",
        "en": """i want to ask|i would like to ask|id like to ask|i have a question|quick question|
            one question|one more question|one more thing|can i ask|may i ask|i need help|need help|
            help|please help|help me|can you help|can you help me|could you help me|urgent|question""",
    },
    _APOLOGY: {
        "id": """maaf|mohon maaf|maaf mengganggu|mohon maaf mengganggu|maaf ganggu|mohon maaf mengganggu
            waktunya|maaf mengganggu waktunya|maaf sebelumnya|mohon maaf sebelumnya|mohon maaf
            sebelumnya|maaf ya|maaf banget|maaf bgt|afwan|punten ganggu|maaf malam malam|maaf pagi pagi|
            maaf ganggu malam malam|maaf kalau mengganggu|sebelumnya|maaf malam|maaf malem|maaf ganggu malam|
            maaf ganggu malem|maaf mengganggu malam malam|maaf ganggu pagi pagi""",
        "en": "sorry|sorry to bother you|sorry to bother|excuse me|pardon|apologies|sorry for the trouble",
    },
    _ADDRESS: {
        "id": """kak|kakak|ka|kk|min|mimin|admin|minn|pak|bapak|bu|ibu|mas|mbak|mba|teh|akang|kang|gan|
            sis|bro|bang|abang|tim care center|bapak ibu|bapak atau ibu|yth|kepada yth|
            dengan hormat|hormat saya""",
        "en": "sir|madam|maam|team|care center team|support|dear sir|dear madam|dear sir or madam|hi team",
        None: "care center|carecenter|edunex care center|helpdesk|help desk",
    },
    _FILLER: {
        "id": "dong|deh|nih|sih|ya|yah|nya|kok|lho|loh|tuh|aja|saja|wkwk|wkwkwk|hihi",
        "en": "lol|btw",
        None: "please|pls|plis|plz|haha|hehe",
    },
    Act.YES: {
        "id": """ya|iya|iyaa|iye|yoi|betul|benar|bener|sudah|udah|udh|sdh|sudah bisa|udah bisa|bisa|berhasil|
            sudah berhasil|membantu|sangat membantu|cukup membantu|terbantu|sangat terbantu|sudah beres|
            beres|sudah terjawab|terjawab|sudah kak|iya sudah|iya bisa|mantap bisa|ya membantu|
            iya membantu""",
        "en": """yes|yeah|yep|yup|yess|sure|correct|it helped|that helped|helpful|very helpful|it works|
            it worked|works now|solved|yes it helped|yes thanks""",
    },
    Act.NO: {
        "id": """tidak|tdk|ga|gak|gk|nggak|ngga|enggak|engga|kagak|belum|blm|blom|belom|tidak membantu|
            ga membantu|gak membantu|nggak membantu|kurang membantu|tidak terbantu|belum bisa|masih belum|
            masih belum bisa|masih gagal|masih error|belum berhasil|tidak berhasil|ga bisa|gak bisa|
            gabisa|masih ga bisa|masih gak bisa|belum terjawab|bukan|bukan itu|salah""",
        "en": """no|nope|nah|not really|not helpful|didnt help|did not help|it didnt help|doesnt work|
            does not work|still not working|still broken|no it didnt|not yet|wrong""",
    },
}

# Kinds that may open a question and be stripped from it: "ya", "bisa", "belum" or "ga" may not
# (they start real questions: "ga bisa login", "belum bisa upload", "ya tapi masih error"), so yes/no
# count only when the whole message is made of such phrases, and softeners only close a question.
_OPENERS = frozenset({Act.GREETING, Act.THANKS, Act.ACKNOWLEDGEMENT, Act.WANT_TO_ASK, _APOLOGY, _ADDRESS})
# Kinds a question may end with and lose: closing thanks, softeners and the addressee.
_CLOSERS = frozenset({Act.THANKS, _ADDRESS, _FILLER, Act.WANT_TO_ASK, Act.GOODBYE, _APOLOGY})
# The strongest act of a message made only of fixed phrases.
_PRIORITY = (Act.PERSON, Act.YES, Act.NO, Act.GOODBYE, Act.THANKS, Act.ACKNOWLEDGEMENT, Act.WANT_TO_ASK,
             Act.GREETING)

# A person request: a strong word on its own, or a weak one after a verb of talking (within a few
# words): "mau bicara dengan admin", "talk to a human", "sambungkan ke petugas".
_STRONG_PERSON = frozenset({"petugas", "operator", "agent", "agen", "human", "cs"})
_STRONG_PERSON_PHRASES = (("customer", "service"), ("live", "agent"), ("real", "person"), ("orang", "asli"))
_WEAK_PERSON = frozenset({"admin", "orang", "manusia", "person", "someone", "seseorang", "staf", "staff",
                          "pegawai", "karyawan", "somebody", "people"})
_TALK = frozenset({"bicara", "berbicara", "ngomong", "ngobrol", "chat", "chatting", "hubungi",
                   "menghubungi", "dihubungkan", "hubungkan", "sambungkan", "disambungkan", "sambung",
                   "talk", "speak", "connect", "connected", "transfer", "contact", "reach"})
_TALK_WINDOW = 4
# Words around the person word that belong to the request, not to its topic.
_REQUEST_WORDS = frozenset({"saya", "aku", "sy", "mau", "ingin", "pengen", "pingin", "minta", "tolong", "bisa",
                            "boleh", "dengan", "sama", "ke", "dgn", "sm", "i", "want", "to", "would", "like",
                            "can", "could", "please", "need", "a", "an", "the", "with", "customer", "live",
                            "real", "kak", "min", "dong"})
_REQUEST_TAIL = frozenset({"aja", "saja", "dong", "ya", "please", "asli", "nya", "yang", "service", "kak", "min",
                           "sekarang", "now"})
# Yes-words that are as often mere softeners ("makasih ya", "oke ya kak").
_SOFT_YES = frozenset({"ya"})

MAX_PHRASE = 8
# Words, numbers, and a word written with the reduplication digit ("malem2", "tugas2"), which reads as
# the word itself.
_TOKEN = re.compile(r"([^\W\d_]+)2(?!\d)|[^\W\d_]+|\d+")
_REPEATS = re.compile(r"(.)\1+")
_STARS = frozenset("⭐★🌟")
_RATING_WORDS = frozenset({"bintang", "star", "stars", "rating", "rate", "nilai", "skor", "score"})
_OUT_OF = frozenset({"dari", "of", "out"})


def _squeeze(word: str) -> str:
    """Collapse runs of one letter ("makasiiih" -> "makasih", "maaf" -> "maf"): applied to both sides."""
    return _REPEATS.sub(r"\1", word)


@dataclass(frozen=True, slots=True)
class _Entry:
    words: tuple[str, ...]
    kind: str
    lang: str | None


def _build(phrases: dict[str, dict[str | None, str]]) -> dict[str, list[_Entry]]:
    table: dict[str, list[_Entry]] = {}
    for kind, by_lang in phrases.items():
        for lang, text in by_lang.items():
            for raw in text.split("|"):
                words = tuple(token.word for token in _tokens(raw))
                if not words:
                    continue
                if len(words) > MAX_PHRASE:
                    raise ValueError(f"phrase longer than {MAX_PHRASE} words: {raw!r}")
                table.setdefault(words[0], []).append(_Entry(words, kind, lang))
    for entries in table.values():
        # Longest first, so "terima kasih banyak" beats "terima kasih"; a word in two kinds (e.g. "ya")
        # keeps every reading and the caller picks by context.
        entries.sort(key=lambda e: -len(e.words))
    return table


@dataclass(frozen=True, slots=True)
class _Token:
    word: str  # squeezed, lower-case
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class _Match:
    start: int  # token index
    stop: int
    kind: str
    lang: str | None


def _tokens(text: str) -> list[_Token]:
    return [_Token(_squeeze((m.group(1) or m.group()).lower()), m.start(), m.end()) for m in _TOKEN.finditer(text)]


_TABLE = _build(_PHRASES)


def _matches_at(tokens: list[_Token], i: int, allowed: Iterable[str] | None) -> list[_Match]:
    """Phrases starting at token ``i`` (longest first), restricted to ``allowed`` kinds if given."""
    found = []
    for entry in _TABLE.get(tokens[i].word, ()):
        n = len(entry.words)
        fits = i + n <= len(tokens) and all(tokens[i + k].word == entry.words[k] for k in range(1, n))
        if fits and (allowed is None or entry.kind in allowed):
            found.append(_Match(i, i + n, entry.kind, entry.lang))
    return found


def _cover_all(tokens: list[_Token]) -> list[_Match] | None:
    """A split of every token into phrases (any kind), or None if some token belongs to none.

    Dynamic programming over positions (each tries at most the phrases starting there, each at most
    MAX_PHRASE long), so the cost stays linear; the split with the fewest phrases is kept.
    """
    n = len(tokens)
    unreached: tuple[int, _Match | None] = (n + 1, None)
    best = [(0, None), *([unreached] * n)]
    for i in range(n):
        cost = best[i][0]
        if cost > n:
            continue
        for match in _matches_at(tokens, i, None):
            if cost + 1 < best[match.stop][0]:
                best[match.stop] = (cost + 1, match)
    if best[n][0] > n:
        return None
    # Walk back to collect every reading of the chosen split (a phrase may be in several kinds).
    chosen: list[_Match] = []
    at = n
    while at > 0:
        step = best[at][1]
        assert step is not None
        chosen.append(step)
        at = step.start
    chosen.reverse()
    readings: list[_Match] = []
    for segment in chosen:
        readings.extend(m for m in _matches_at(tokens, segment.start, None) if m.stop == segment.stop)
    return readings


def _strip_front(tokens: list[_Token]) -> tuple[int, list[_Match]]:
    """How many leading tokens are preamble, and the phrases found there."""
    at, found = 0, []
    while at < len(tokens):
        options = _matches_at(tokens, at, _OPENERS)
        if not options:
            break
        found.append(options[0])
        at = options[0].stop
    return at, found


def _strip_back(tokens: list[_Token], floor: int) -> tuple[int, list[_Match]]:
    """Where the closing starts (a token index >= floor), and the phrases found there."""
    end, found = len(tokens), []
    while end > floor:
        best: _Match | None = None
        # Phrases ending exactly at ``end``: starts within MAX_PHRASE tokens before it.
        for start in range(max(floor, end - MAX_PHRASE), end):
            for match in _matches_at(tokens, start, _CLOSERS):
                if match.stop == end and (best is None or match.start < best.start):
                    best = match
        if best is None:
            break
        found.append(best)
        end = best.start
    found.reverse()
    return end, found


def _person_at(words: list[str], i: int) -> bool:
    word = words[i]
    if word in _STRONG_PERSON or (i and (words[i - 1], word) in _STRONG_PERSON_PHRASES):
        return True
    return word in _WEAK_PERSON and any(w in _TALK for w in words[max(0, i - _TALK_WINDOW) : i])


def _person(tokens: list[_Token]) -> bool:
    words = [t.word for t in tokens]
    return any(_person_at(words, i) for i in range(len(words)))


def _rating(text: str, tokens: list[_Token], rest: list[_Token]) -> int | None:
    """1-5 from "5", "4/5", "5 bintang", "rating 4", "⭐⭐⭐⭐" or "★★★☆☆"; None if it is not a rating."""
    stars = sum(ch in _STARS for ch in text)
    if stars and not rest:
        return stars if 1 <= stars <= 5 else None
    digits = [t for t in rest if t.word.isdigit()]
    words = [t.word for t in rest if not t.word.isdigit()]
    if len(digits) not in (1, 2) or not set(words) <= _RATING_WORDS | _OUT_OF:
        return None
    value = int(digits[0].word)
    if len(digits) == 2:
        # "4/5", "4 dari 5", "4 out of 5": the second number must be the scale.
        between = text[digits[0].end : digits[1].start]
        if digits[1].word != "5" or not (between.strip() in {"/", ""} or set(words) & _OUT_OF):
            return None
    elif words and not set(words) & _RATING_WORDS:
        return None
    return value if 1 <= value <= 5 else None


def _language(matches: Iterable[_Match]) -> str | None:
    langs = {m.lang for m in matches if m.lang is not None}
    return langs.pop() if len(langs) == 1 else None


def _acts(matches: Iterable[_Match]) -> tuple[Act, ...]:
    seen: list[Act] = []
    for match in matches:
        act = Act.WANT_TO_ASK if match.kind == _APOLOGY else match.kind
        if isinstance(act, Act) and act not in seen:
            seen.append(act)
    return tuple(seen)


def _has_symbols(text: str) -> bool:
    return any(unicodedata.category(ch) in {"So", "Sk"} for ch in text)


def read(text: str) -> Reading:
    """Read one message (see the module docstring). Never raises; ``None`` reads as empty."""
    if not isinstance(text, str):
        text = "" if text is None else str(text)
    text = unicodedata.normalize("NFKC", text[:MAX_CHARS]).strip()
    tokens = _tokens(text)
    if not tokens:
        # "★★★☆☆" is three: only filled stars count.
        stars = sum(ch in _STARS for ch in text)
        if 1 <= stars <= 5:
            return Reading(Act.RATING, rating=stars, seen=(Act.RATING,))
        if _has_symbols(text):
            return Reading(Act.EMOJI_ONLY, seen=(Act.EMOJI_ONLY,))
        return Reading(Act.EMPTY)

    # Ratings: numbers and stars with at most the addressee, softeners and rating words around them.
    start, front = _strip_front(tokens)
    end, back = _strip_back(tokens, start)
    rating = _rating(text, tokens, tokens[start:end])
    if rating is not None:
        return Reading(Act.RATING, rating=rating, lang=_language(front + back), seen=(Act.RATING,))

    whole = _cover_all(tokens)
    if whole is not None and not _person(tokens):
        acts = _acts(whole)
        if Act.YES in acts and len(acts) > 1 and all(
            m.stop - m.start == 1 and tokens[m.start].word in _SOFT_YES for m in whole if m.kind == Act.YES
        ):
            # "oke ya kak, makasih": this "ya" softens the thanks, it answers nothing.
            acts = tuple(a for a in acts if a is not Act.YES)
        yes, no = Act.YES in acts, Act.NO in acts
        for act in _PRIORITY:
            if act in {Act.YES, Act.NO} and yes and no:
                continue  # "ya ga" says nothing either way
            if act in acts:
                return Reading(act, lang=_language(whole), seen=acts)
        # Only the addressee and softeners ("kak?", "min"): someone calling for attention.
        return Reading(Act.GREETING, lang=_language(whole), seen=(Act.GREETING,))

    question = _question_text(text, tokens, start, end)
    preamble = _acts(front + back)
    if _person(tokens):
        return Reading(Act.PERSON, question=_topic(text, tokens, start, end), lang=_language(front + back),
                       seen=(*preamble, Act.PERSON))
    return Reading(Act.QUESTION, question=question, lang=_language(front + back), seen=(*preamble, Act.QUESTION))


def _question_text(text: str, tokens: list[_Token], start: int, end: int) -> str:
    if start >= end:
        return text
    first = tokens[start].start
    last = tokens[end - 1].end
    # Keep the punctuation that closes the question ("keluar?", "error!!"), not what follows it.
    while last < len(text) and text[last] in "?!.)\"'”’":
        last += 1
    return text[first:last].strip()


def _topic(text: str, tokens: list[_Token], start: int, end: int) -> str:
    """What a person request is about, if it says: the message without the request itself.

    "saya mau bicara dengan petugas soal nilai UTS" -> "soal nilai UTS"; "mau ngobrol sama admin" -> "".
    """
    words = [t.word for t in tokens]
    noun = next(i for i in range(len(words)) if _person_at(words, i))
    first = noun
    while first > 0 and (words[first - 1] in _REQUEST_WORDS or words[first - 1] in _TALK):
        first -= 1
    last = noun + 1
    while last < len(words) and words[last] in _REQUEST_TAIL:
        last += 1
    before = _question_text(text, tokens, start, first) if first > start else ""
    after = _question_text(text, tokens, last, end) if end > last else ""
    topic = " ".join(part.strip(" ,.;:-") for part in (before, after) if part.strip(" ,.;:-"))
    return topic if len(_tokens(topic)) >= 2 else ""


__all__ = ["MAX_CHARS", "Act", "Reading", "read"]
