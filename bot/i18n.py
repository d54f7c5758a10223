"""The message catalogue: every text a user sees comes from ``bot/locales/<lang>.toml``, never from the flow.

Read and chosen the way every catalogue is (handoff.i18n); these are the bot's words and helpers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from handoff.i18n import DEFAULT_LANGUAGE, LANGUAGES, choose_language, entry, load_catalogue
from nlp.language import detect_language as nlp_detect_language

__all__ = ["DEFAULT_LANGUAGE", "LANGUAGES", "Catalog", "catalog", "detect_language"]

PACKAGE = "bot"


def _load(lang: str) -> dict[str, Any]:
    return load_catalogue(PACKAGE, lang)


@dataclass(frozen=True, slots=True)
class Catalog:
    lang: str

    def t(self, key: str, **values: object) -> str:
        template = entry(PACKAGE, self.lang, key)  # a key missing from one language falls back to the default
        if template is None:
            raise KeyError(key)
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
    return Catalog(choose_language(lang))


def detect_language(text: str) -> str | None:
    """'en' or 'id' when the text clearly leans one way; None when it does not (keep the current language).

    Delegates to the language detector in ``nlp.language`` (a library model restricted to the two
    languages), which replaced a hand-written word list.
    """
    return nlp_detect_language(text)
