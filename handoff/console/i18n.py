"""The console's own catalogue (Indonesian by default, English available): ``locales/<lang>.toml``."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

DEFAULT_LANGUAGE = "id"
LANGUAGES = ("id", "en")


@cache
def _load(lang: str) -> dict[str, Any]:
    text = resources.files("handoff.console").joinpath(f"locales/{lang}.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


def known(key: str) -> bool:
    return key in _load(DEFAULT_LANGUAGE)


@dataclass(frozen=True, slots=True)
class ConsoleCatalog:
    lang: str

    def __call__(self, key: str, **values: object) -> str:
        template = _load(self.lang).get(key)
        if template is None:  # missing in one language: fall back to the default, then to the key itself
            template = _load(DEFAULT_LANGUAGE).get(key, key)
        return str(template).format(**values) if values else str(template)


def console_catalog(lang: str | None) -> ConsoleCatalog:
    return ConsoleCatalog(lang if lang in LANGUAGES else DEFAULT_LANGUAGE)
