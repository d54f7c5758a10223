from __future__ import annotations

import pytest

from nlp.acts import MAX_CHARS, Act, Reading, read

NON_QUESTIONS = [
    # greetings
    ("halo", Act.GREETING, "id"),
    ("HALOOOO MIN", Act.GREETING, "id"),
    ("selamat pagi kak", Act.GREETING, "id"),
    ("assalamualaikum kak", Act.GREETING, "id"),
    ("hi", Act.GREETING, "en"),
    ("hello", Act.GREETING, "en"),
    ("good evening", Act.GREETING, "en"),
    ("kak?", Act.GREETING, "id"),
    # thanks
    ("makasih kak", Act.THANKS, "id"),
    ("makasiiih kakkk 🙏", Act.THANKS, "id"),
    ("terima kasih banyak ya", Act.THANKS, "id"),
    ("oke kak makasih", Act.THANKS, "id"),
    ("oke ya kak, makasih", Act.THANKS, "id"),
    ("tq min", Act.THANKS, "id"),
    ("thanks a lot", Act.THANKS, "en"),
    ("thank you so much!", Act.THANKS, "en"),
    # acknowledgements
    ("oke kak", Act.ACKNOWLEDGEMENT, "id"),
    ("siap", Act.ACKNOWLEDGEMENT, "id"),
    ("siap kak, ditunggu", Act.ACKNOWLEDGEMENT, "id"),
    ("baik", Act.ACKNOWLEDGEMENT, "id"),
    ("noted", Act.ACKNOWLEDGEMENT, "en"),
    ("noted kak", Act.ACKNOWLEDGEMENT, "id"),
    ("okeee", Act.ACKNOWLEDGEMENT, None),
    ("got it", Act.ACKNOWLEDGEMENT, "en"),
    # goodbye
    ("bye", Act.GOODBYE, "en"),
    ("dadah kak", Act.GOODBYE, "id"),
    ("makasih kak, sampai jumpa", Act.GOODBYE, "id"),
    ("see you, thanks", Act.GOODBYE, "en"),
    # "I want to ask"
    ("halo kak mau tanya", Act.WANT_TO_ASK, "id"),
    ("permisi mau nanya", Act.WANT_TO_ASK, "id"),
    ("min mau tanya dong", Act.WANT_TO_ASK, "id"),
    ("selamat malam kak, mohon maaf mengganggu waktunya, saya mau tanya", Act.WANT_TO_ASK, "id"),
    ("maaf ganggu kak", Act.WANT_TO_ASK, "id"),
    ("tolong kak", Act.WANT_TO_ASK, "id"),
    ("hi, I have a question", Act.WANT_TO_ASK, "en"),
    ("excuse me, quick question", Act.WANT_TO_ASK, "en"),
    # yes / no (the answer to "did this help?")
    ("ya", Act.YES, "id"),
    ("iya kak", Act.YES, "id"),
    ("iya kak makasih", Act.YES, "id"),
    ("sudah bisa kak, makasih", Act.YES, "id"),
    ("yes", Act.YES, "en"),
    ("yes it helped, thanks", Act.YES, "en"),
    ("ga kak", Act.NO, "id"),
    ("belum", Act.NO, "id"),
    ("tidak membantu", Act.NO, "id"),
    ("masih belum bisa kak", Act.NO, "id"),
    ("no", Act.NO, "en"),
    ("not really", Act.NO, "en"),
    # a person
    ("petugas", Act.PERSON, None),
    ("saya mau bicara dengan admin", Act.PERSON, "id"),
    ("mau ngobrol sama admin aja kak", Act.PERSON, "id"),
    ("sambungkan ke petugas dong", Act.PERSON, "id"),
    ("can I talk to a person", Act.PERSON, None),
    ("I want to speak with a human", Act.PERSON, None),
    ("customer service please", Act.PERSON, None),
]


@pytest.mark.parametrize(("text", "act", "lang"), NON_QUESTIONS)
def test_non_questions(text: str, act: Act, lang: str | None) -> None:
    reading = read(text)
    assert (reading.act, reading.lang) == (act, lang)
    assert reading.question == ""
    assert reading.rating is None


@pytest.mark.parametrize(
    ("text", "rating"),
    [
        ("5", 5),
        ("1", 1),
        ("4/5", 4),
        ("3 / 5", 3),
        ("4 dari 5", 4),
        ("4 out of 5", 4),
        ("bintang 4", 4),
        ("5 bintang kak", 5),
        ("rating 2", 2),
        ("5 stars", 5),
        ("⭐⭐⭐⭐", 4),
        ("⭐⭐⭐⭐⭐ makasih kak", 5),
        ("★★★☆☆", 3),
    ],
)
def test_ratings(text: str, rating: int) -> None:
    assert read(text) == Reading(Act.RATING, rating=rating, lang=read(text).lang, seen=(Act.RATING,))


@pytest.mark.parametrize("text", ["6", "0", "10", "4/10", "13521045", "5 tugas"])
def test_numbers_that_are_not_ratings(text: str) -> None:
    assert read(text).act is Act.QUESTION


@pytest.mark.parametrize(
    ("text", "act"),
    [("😭😭😭", Act.EMOJI_ONLY), ("🙏", Act.EMOJI_ONLY), ("👍🏽", Act.EMOJI_ONLY), ("", Act.EMPTY),
     ("   ", Act.EMPTY), ("?", Act.EMPTY), ("...", Act.EMPTY)],
)
def test_emoji_and_empty(text: str, act: Act) -> None:
    assert read(text).act is act


QUESTIONS = [
    ("nilai saya belum keluar", "nilai saya belum keluar", ()),
    ("makasih kak, satu lagi: nilai saya kok belum keluar?", "nilai saya kok belum keluar?",
     (Act.THANKS, Act.WANT_TO_ASK)),
    ("selamat malam kak, mohon maaf mengganggu waktunya, saya mau tanya, nilai UTS saya belum keluar, terima kasih",
     "nilai UTS saya belum keluar", (Act.GREETING, Act.WANT_TO_ASK, Act.THANKS)),
    ("halo kak mau tanya, kenapa tugas saya tidak bisa diupload?", "kenapa tugas saya tidak bisa diupload?",
     (Act.GREETING, Act.WANT_TO_ASK)),
    ("permisi kak, maaf ganggu malem2, link zoom kuliah hari ini mana ya kak 🙏", "link zoom kuliah hari ini mana",
     (Act.GREETING, Act.WANT_TO_ASK)),
    ("admin tolong nilai saya belum keluar", "nilai saya belum keluar", (Act.WANT_TO_ASK,)),
    ("tolong reset password saya pls", "reset password saya", (Act.WANT_TO_ASK,)),
    ("oke kak, terus kalau sertifikatnya belum ada gimana?", "terus kalau sertifikatnya belum ada gimana?",
     (Act.ACKNOWLEDGEMENT,)),
    # yes/no words that open a real question stay in it
    ("ga bisa login kak", "ga bisa login", ()),
    ("belum bisa upload tugas", "belum bisa upload tugas", ()),
    ("ya tapi kuisnya masih error", "ya tapi kuisnya masih error", ()),
    ("hi, my quiz says no attempts left", "my quiz says no attempts left", (Act.GREETING,)),
    ("Dear Care Center, I cannot log in to Edunex. Thank you in advance.", "I cannot log in to Edunex.",
     (Act.GREETING, Act.THANKS)),
    ("sorry to bother you, where is my certificate? thanks", "where is my certificate?",
     (Act.WANT_TO_ASK, Act.THANKS)),
    ("where can I buy a bike", "where can I buy a bike", ()),
]


@pytest.mark.parametrize(("text", "question", "preamble"), QUESTIONS)
def test_questions_lose_their_preamble_and_closing(text: str, question: str, preamble: tuple[Act, ...]) -> None:
    reading = read(text)
    assert reading.act is Act.QUESTION
    assert reading.question == question
    assert reading.seen == (*preamble, Act.QUESTION)


def test_person_request_keeps_its_topic() -> None:
    reading = read("saya mau bicara dengan petugas soal nilai UTS saya yang belum keluar")
    assert reading.act is Act.PERSON
    assert "nilai UTS" in reading.question


def test_person_request_wins_over_greeting_and_thanks() -> None:
    assert read("halo kak, makasih, tapi saya mau bicara dengan petugas aja").act is Act.PERSON


@pytest.mark.parametrize(
    "text",
    [
        "min mau tanya",  # "min" is the addressee, not a request for one
        "admin, nilai saya belum keluar",
    ],
)
def test_addressing_the_admin_is_not_asking_for_a_person(text: str) -> None:
    assert read(text).act is not Act.PERSON


@pytest.mark.parametrize("value", [None, 12345, b"bytes"])
def test_odd_input_never_raises(value: object) -> None:
    assert isinstance(read(value), Reading)  # type: ignore[arg-type]


def test_long_text_is_read_on_its_first_part() -> None:
    text = "halo kak, " + "tugas saya tidak bisa diupload. " * 1000
    reading = read(text)
    assert reading.act is Act.QUESTION
    assert reading.question.startswith("tugas saya tidak bisa diupload.")
    assert len(reading.question) <= MAX_CHARS


@pytest.mark.parametrize("filler", ["ya ", "kak ", "makasih ", "😭", "a" * 50])
def test_pathological_repetition_is_still_read(filler: str) -> None:
    # Many repeats of one phrase, or one very long word: the reader's passes are linear in the length.
    assert isinstance(read(filler * 5000), Reading)


def test_reduplication_digit_is_part_of_the_word() -> None:
    reading = read("halo kak, tugas2 saya hilang semua")
    assert (reading.act, reading.question) == (Act.QUESTION, "tugas2 saya hilang semua")


def test_yes_and_no_together_say_nothing_either_way() -> None:
    assert read("iya tidak").act not in {Act.YES, Act.NO}
