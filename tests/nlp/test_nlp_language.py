from __future__ import annotations

import pytest

from bot.i18n import detect_language as bot_detect_language
from nlp.language import MIN_PROBABILITY, detect_language, language_probability


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I can't log in to Edunex since this morning", "en"),
        ("the quiz closed before I could submit my answers", "en"),
        ("saya tidak bisa masuk ke edunex sejak pagi", "id"),
        ("kak nilai uts saya belum keluar di edunex", "id"),
        ("Dengan hormat, saya tidak dapat mengakses akun saya", "id"),
        ("Dear Care Center, I am unable to access my account", "en"),
    ],
)
def test_clear_sentences_get_their_language(text: str, expected: str) -> None:
    assert detect_language(text) == expected


@pytest.mark.parametrize("text", ["", "   ", "👍", "🙏🙏", "13521045", "?!", "ok", "hi"])
def test_unsure_or_language_less_text_is_none(text: str) -> None:
    assert detect_language(text) is None


def test_probability_is_over_the_two_languages_only() -> None:
    lang, probability = language_probability("bonjour, je ne peux pas me connecter")
    assert lang in {"id", "en"}
    assert 0.5 <= probability <= 1.0


def test_long_text_is_cut_not_refused() -> None:
    assert detect_language("saya tidak bisa mengumpulkan tugas. " * 2000) == "id"


def test_threshold_is_what_decides() -> None:
    lang, probability = language_probability("hello")
    assert (detect_language("hello") is None) == (probability < MIN_PROBABILITY)
    assert lang == "en"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # The hand-written word list on main found too few of its function words in these and
        # answered None, so the conversation kept its old language.
        ("Edunex is down again since morning", "en"),
        ("password reset email never arrives", "en"),
        ("assignment upload keeps failing at ninety percent", "en"),
        ("tugas gagal terkirim terus sejak pagi", "id"),
        ("login edunex error terus pas jam kuliah", "id"),
    ],
)
def test_bot_delegates_to_the_detector(text: str, expected: str) -> None:
    assert bot_detect_language(text) == expected == detect_language(text)
