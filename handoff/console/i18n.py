"""The console's own catalogue (Indonesian by default, English available): ``locales/<lang>.toml``, read
and chosen the way every catalogue is (handoff.i18n)."""

from __future__ import annotations

from dataclasses import dataclass

from handoff.i18n import DEFAULT_LANGUAGE, LANGUAGES, choose_language, entry, load_catalogue

__all__ = ["DEFAULT_LANGUAGE", "LANGUAGES", "ConsoleCatalog", "console_catalog", "known"]

PACKAGE = "handoff.console"


def known(key: str) -> bool:
    return key in load_catalogue(PACKAGE, DEFAULT_LANGUAGE)


@dataclass(frozen=True, slots=True)
class ConsoleCatalog:
    lang: str

    def __call__(self, key: str, **values: object) -> str:
        template = entry(PACKAGE, self.lang, key)
        if template is None:  # missing in both languages: the key itself, so a page still renders
            template = key
        return str(template).format(**values) if values else str(template)


def console_catalog(lang: str | None) -> ConsoleCatalog:
    return ConsoleCatalog(choose_language(lang))
