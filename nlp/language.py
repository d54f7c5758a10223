"""Which of the bot's languages a message is written in: Indonesian, English, or "cannot tell".

The detector is py3langid (a maintained fork of langid.py, BSD-3-Clause; its model ships inside the
package), restricted to the two languages the bot speaks, with its probabilities normalised over them.
It was compared with lingua-language-detector on short Edunex-style messages (``benchmarks/
language_bench.py``, ``benchmarks/results-nlp.md``): at equal coverage the two were about as precise,
and py3langid is a 4.5 MB install against lingua's 96 MB and ~20 times faster per message.

A wrong language costs more than none (the bot then keeps the conversation's language), so the
answer is None below ``MIN_PROBABILITY``: one-word messages ("hi", "ok", "zoom") mostly end there.
Short fixed phrases the dialogue acts recognise carry their own language (``nlp.acts``).
"""

from __future__ import annotations

from functools import cache
from typing import Any

LANGUAGES = ("id", "en")
# Chosen on benchmarks/data/language-short.csv: at 0.9 the detector was right on 94 of the 95
# messages it answered (of 129); at 0.7 on 106 of 112, i.e. one wrong language in 19 instead of 95.
MIN_PROBABILITY = 0.9
# Longer texts carry no more signal about the language and only cost time.
MAX_CHARS = 500


@cache
def _identifier() -> Any:
    # Loaded once per process (about 2 s: the model is stored xz-compressed); read-only afterwards,
    # so threads may share it.
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    identifier.set_languages(list(LANGUAGES))
    return identifier


def language_probability(text: str) -> tuple[str, float]:
    """The more likely of ``LANGUAGES`` and its probability (0.5 for text with no letters at all)."""
    sample = text[:MAX_CHARS].lower()
    if not any(ch.isalpha() for ch in sample):
        return LANGUAGES[0], 0.5
    lang, probability = _identifier().classify(sample)
    return str(lang), float(probability)


def detect_language(text: str) -> str | None:
    """'id' or 'en' when the text is clearly written in it, else None (keep the current language)."""
    lang, probability = language_probability(text)
    return lang if probability >= MIN_PROBABILITY else None


__all__ = ["LANGUAGES", "MIN_PROBABILITY", "detect_language", "language_probability"]
