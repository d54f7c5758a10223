"""The name the bot calls a person by: titles and degrees dropped (issue 14: lecturers were "Dr.")."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.names import given_name


@pytest.mark.parametrize(
    ("full", "called"),
    [
        ("Budi Contoh (Fiktif)", "Budi"),
        ("Dr. Siti Rahma", "Siti"),
        ("Prof. Dr. Ir. Siti Rahma, M.Sc., Ph.D.", "Siti"),
        ("Ir. H. Ahmad Yusuf, S.T., M.T.", "Ahmad"),
        ("Prof.Dr. Made Wirawan", "Made"),
        ("Dr.Eng. Andi Pratama", "Andi"),
        ("drg. Rina", "Rina"),
        ("Budi S.T.", "Budi"),
        ("Ade S.Kom M.Kom", "Ade"),
        ("M. Rizky Maulana", "Rizky"),
        ("Dr. Ir.", ""),
        ("", ""),
    ],
)
def test_titles_and_degrees_are_dropped(full: str, called: str) -> None:
    assert given_name(full) == called


@given(st.text(max_size=300))
def test_any_name_gives_a_word_of_it_or_nothing(full: str) -> None:
    called = given_name(full)
    assert called == "" or called in full
    assert " " not in called
