"""One way to read a message catalogue and one language choice, for every room that shows words to people.

Each room keeps its own words (``bot/locales``, ``handoff/locales``, ``handoff/reports/locales``: what the
user reads in a chat is not what an agent reads in the console), but they are all read here and all answer
the same question the same way: which of the two languages, Indonesian by default.

``handoff/locales`` is the helpdesk's catalogue (``console_catalog``): the console's pages, and the error
codes of ``handoff.actions.ConsoleError`` that the console and /api/v1 both explain.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

DEFAULT_LANGUAGE = "id"
LANGUAGES = ("id", "en")


def choose_language(*wanted: str | None) -> str:
    """The first of ``wanted`` that is a language we speak, else the default: a request's ``?lang=``,
    then a cookie or the conversation's language, then a browser's hint, in the caller's order."""
    for lang in wanted:
        if lang is not None and lang in LANGUAGES:
            return lang
    return DEFAULT_LANGUAGE


def other_language(lang: str) -> str:
    """The language a page's switch offers."""
    return "en" if lang == "id" else "id"


@cache
def load_catalogue(package: str, lang: str) -> dict[str, Any]:
    """``<package>/locales/<lang>.toml``, read once."""
    text = resources.files(package).joinpath(f"locales/{lang}.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


def _lookup(data: dict[str, Any], key: str) -> Any:
    node: Any = data
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def entry(package: str, lang: str, key: str) -> Any:
    """The entry ``key`` (dots reach into tables) in ``lang``; a key missing from one language falls back to
    the default language's; None when neither has it (each catalogue decides what a miss means)."""
    found = _lookup(load_catalogue(package, lang), key)
    if found is None and lang != DEFAULT_LANGUAGE:
        found = _lookup(load_catalogue(package, DEFAULT_LANGUAGE), key)
    return found


HELPDESK = "handoff"


def known(key: str) -> bool:
    """Whether ``key`` is in the helpdesk's catalogue (a notice named in a URL must be one of ours)."""
    return key in load_catalogue(HELPDESK, DEFAULT_LANGUAGE)


@dataclass(frozen=True, slots=True)
class ConsoleCatalog:
    """The helpdesk's catalogue in one language, as the console's pages and the API use it."""

    lang: str

    def __call__(self, key: str, **values: object) -> str:
        template = entry(HELPDESK, self.lang, key)
        if template is None:  # missing in both languages: the key itself, so a page still renders
            template = key
        return str(template).format(**values) if values else str(template)


def console_catalog(lang: str | None) -> ConsoleCatalog:
    return ConsoleCatalog(choose_language(lang))
