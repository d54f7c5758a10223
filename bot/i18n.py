"""The message catalogue: every text a user sees comes from ``bot/locales/<lang>.toml``, never from the flow."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from importlib import resources
from typing import Any

from nlp.language import detect_language as nlp_detect_language

DEFAULT_LANGUAGE = "id"
LANGUAGES = ("id", "en")


@cache
def _load(lang: str) -> dict[str, Any]:
    text = resources.files("bot").joinpath(f"locales/{lang}.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


@dataclass(frozen=True, slots=True)
class Catalog:
    lang: str

    def t(self, key: str, **values: object) -> str:
        template = _load(self.lang).get(key)
        if template is None:  # a key missing from one language falls back to the default one
            template = _load(DEFAULT_LANGUAGE)[key]
        return str(template).format(**values) if values else str(template)

    def weekday(self, index: int) -> str:
        """Monday is 0, as in ``datetime.weekday()``."""
        return str(_load(self.lang)["weekdays"][index])

    def when(self, moment: datetime) -> str:
        """A local date and time written the way people of this language write it."""
        data = _load(self.lang)
        return str(data["datetime_format"]).format(
            weekday=data["weekdays"][moment.weekday()],
            day=moment.day,
            month=data["months"][moment.month - 1],
            year=moment.year,
            hour=moment.hour,
            minute=moment.minute,
        )


def catalog(lang: str | None) -> Catalog:
    return Catalog(lang if lang in LANGUAGES else DEFAULT_LANGUAGE)


def detect_language(text: str) -> str | None:
    """'en' or 'id' when the text clearly leans one way; None when it does not (keep the current language).

    Delegates to the language detector in ``nlp.language`` (a library model restricted to the two
    languages), which replaced a hand-written word list.
    """
    return nlp_detect_language(text)
