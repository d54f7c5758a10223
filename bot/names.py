"""How the bot calls a person: the given name from the directory's full name, without academic titles
and degrees, and the salutation that fits their role (from the catalogue: "Kak" for students,
"Bapak/Ibu" for lecturers and staff in Indonesian).

Indonesian names carry titles before the name ("Dr.", "Prof.", "Ir.", "Drs.", "H.") and degrees after
it, usually after a comma ("Siti Rahma, S.T., M.Sc., Ph.D."): the greeting used to take the first word,
so lecturers were greeted "Terima kasih, Dr.". Linear in the length of the name (one split, one pass).
"""

from __future__ import annotations

import re

# Titles written before a name, compared without dots and case ("Dr.", "dr", "Prof.Dr." splits into two).
_TITLES = frozenset({"dr", "drs", "dra", "prof", "ir", "h", "hj", "kh", "drg", "drh", "apt", "ns", "ust", "ustadz",
                     "ustazah", "eng", "ing", "mr", "mrs", "ms", "miss", "sir", "pak", "bu", "bapak", "ibu", "kak"})
# A degree written without a comma ("Budi S.T."): short dotted letters ("S.T.", "M.Sc.", "Ph.D.", "S.Kom.").
_DEGREE = re.compile(r"(?:[A-Za-z]{1,4}\.){1,4}[A-Za-z]{0,4}\.?")
_WORD = re.compile(r"[^\s.]+\.?|\.")
MAX_NAME_CHARS = 200


def given_name(full_name: str) -> str:
    """The word to call a person by: "Prof. Dr. Ir. Siti Rahma, M.Sc., Ph.D." -> "Siti"; "" if none."""
    name = (full_name or "")[:MAX_NAME_CHARS].split(",", 1)[0]  # degrees follow the first comma
    words: list[str] = _WORD.findall(name)
    for word in words:
        bare = word.strip(".").lower()
        # An initial ("M. Rizky") is no name to call someone by either.
        initial = len(bare) == 1 and word.endswith(".")
        if not bare or bare in _TITLES or initial or "(" in word or (_DEGREE.fullmatch(word) and "." in word[:-1]):
            continue
        return word.strip(".")
    return ""


__all__ = ["MAX_NAME_CHARS", "given_name"]
