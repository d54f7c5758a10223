"""Feature extraction shared by training and the single-message fast path.

Training hands these analyzers to scikit-learn's ``TfidfVectorizer`` as callables, and the fast path
calls the very same functions, so both paths see identical n-grams by construction instead of by a
best-effort re-implementation of scikit-learn's private analyzers.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

# Same token definition as scikit-learn's default ``token_pattern``: words of two or more word
# characters. One-letter tokens ("a", "x") carry almost no signal and blow up bigram counts.
_TOKEN = re.compile(r"(?u)\b\w\w+\b")
_SPACES = re.compile(r"\s\s+")


@dataclass(frozen=True, slots=True)
class FeatureSpec:
    """Which n-grams the model uses; stored in the model file so loading needs no code of the trainer."""

    word_min: int = 1
    word_max: int = 2
    char_min: int = 2
    char_max: int = 5
    use_char: bool = True

    def to_json(self) -> dict[str, int | bool]:
        return {
            "word_min": self.word_min,
            "word_max": self.word_max,
            "char_min": self.char_min,
            "char_max": self.char_max,
            "use_char": self.use_char,
        }

    @classmethod
    def from_json(cls, data: dict[str, object]) -> FeatureSpec:
        def _int(key: str, default: int) -> int:
            value = data.get(key, default)
            if not isinstance(value, int) or isinstance(value, bool):
                raise ValueError(f"feature spec field {key!r} must be an integer")
            return value

        use_char = data.get("use_char", True)
        if not isinstance(use_char, bool):
            raise ValueError("feature spec field 'use_char' must be a boolean")
        return cls(
            word_min=_int("word_min", 1),
            word_max=_int("word_max", 2),
            char_min=_int("char_min", 2),
            char_max=_int("char_max", 5),
            use_char=use_char,
        )


def word_ngrams(text: str, lo: int, hi: int) -> list[str]:
    tokens = _TOKEN.findall(text)
    if lo == 1 and hi == 1:
        return tokens
    grams: list[str] = []
    n_tokens = len(tokens)
    if lo == 1:
        grams.extend(tokens)
        lo = 2
    for n in range(lo, min(hi, n_tokens) + 1):
        for i in range(n_tokens - n + 1):
            grams.append(" ".join(tokens[i : i + n]))
    return grams


def char_wb_ngrams(text: str, lo: int, hi: int) -> list[str]:
    """Character n-grams inside word boundaries, padded with one space (scikit-learn's ``char_wb``)."""
    grams: list[str] = []
    append = grams.append
    for word in _SPACES.sub(" ", text).split():
        padded = f" {word} "
        length = len(padded)
        for n in range(lo, hi + 1):
            if n > length:
                # A short word yields itself once (padded), as scikit-learn does, then stops growing.
                if n == lo:
                    append(padded)
                break
            for i in range(length - n + 1):
                append(padded[i : i + n])
    return grams


def word_analyzer(spec: FeatureSpec) -> Callable[[str], list[str]]:
    def analyze(text: str) -> list[str]:
        return word_ngrams(text, spec.word_min, spec.word_max)

    return analyze


def char_analyzer(spec: FeatureSpec) -> Callable[[str], list[str]]:
    def analyze(text: str) -> list[str]:
        return char_wb_ngrams(text, spec.char_min, spec.char_max)

    return analyze
