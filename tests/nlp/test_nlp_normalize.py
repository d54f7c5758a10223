from __future__ import annotations

import pytest

from nlp import normalize
from nlp.normalize import make_normalizer


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Min, sy gk bisa login", "admin saya tidak bisa login"),
        ("udh coba knp ga bisa? gmn dong", "sudah coba kenapa tidak bisa bagaimana dong"),
        ("lupa pw edunex bgt", "lupa password edunex banget"),
        ("tdk bisa, kak", "tidak bisa kakak"),
        ("tolonggg bangeeet", "tolong banget"),
        ("tugas2 sy ilang", "tugas tugas saya hilang"),
        ("maaf, zoom error", "maaf zoom error"),
        ("ＥＤＵＮＥＸ", "edunex"),
    ],
)
def test_slang_case_and_repeats(raw: str, expected: str) -> None:
    assert normalize(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("NIM saya 13521045", "nim saya _nim_"),
        ("NIP 198001012005011001", "nip _nip_"),
        ("NIP 19800101 200501 1 001 ya", "nip _nip_ ya"),
        ("email ke budi.s@itb.ac.id dong", "email ke _email_ dong"),
        ("buka https://edunex.itb.ac.id/course/view.php?id=12", "buka _url_"),
        ("deadline jam 23.59 tgl 12", "deadline jam _num_ tgl _num_"),
    ],
)
def test_personal_identifiers_are_masked(raw: str, expected: str) -> None:
    assert normalize(raw) == expected


@pytest.mark.parametrize("raw", ["", "   ", "🙏🙏🙏", "?!...", "\n\t"])
def test_empty_or_symbols_only_gives_empty(raw: str) -> None:
    assert normalize(raw) == ""


def test_code_mixed_text_keeps_english_words() -> None:
    assert (
        normalize("gk bisa submit assignment, udh deadline") == "tidak bisa submit assignment sudah deadline"
    )


def test_steps_can_be_switched_off() -> None:
    only_lower = make_normalizer(["lower"])
    assert only_lower("Sy GK bisa!!") == "sy gk bisa!!"


def test_unknown_step_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown normalisation steps"):
        make_normalizer(["lower", "stem"])
