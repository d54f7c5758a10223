"""One catalogue reader and one language choice (handoff.i18n) behind the bot, console, survey and reports."""

from __future__ import annotations

import pytest

from bot.i18n import catalog
from handoff.i18n import DEFAULT_LANGUAGE, LANGUAGES, choose_language, console_catalog, entry, load_catalogue
from handoff.reports.text import report_text


def test_the_first_language_we_speak_wins_else_indonesian() -> None:
    assert choose_language("en", "id") == "en"
    assert choose_language("fr", None, "", "en") == "en"
    assert choose_language(None, "xx") == DEFAULT_LANGUAGE == "id"
    assert choose_language() == "id"


@pytest.mark.parametrize("package", ["bot", "handoff", "handoff.reports"])
def test_every_catalogue_is_read_in_both_languages(package: str) -> None:
    assert all(load_catalogue(package, lang) for lang in LANGUAGES)


def test_an_unknown_key_is_none_and_each_catalogue_decides_what_that_means() -> None:
    assert entry("bot", "en", "no_such_key") is None
    with pytest.raises(KeyError):
        catalog("en").t("no_such_key")  # the bot never sends a key name to a person
    assert console_catalog("en")("no_such_key") == "no_such_key"  # a page still renders
    with pytest.raises(KeyError):
        report_text("en")("no_such_key")


def test_an_unknown_language_reads_the_default_catalogue() -> None:
    assert catalog("fr").t("greeting") == catalog("id").t("greeting")
    assert console_catalog(None).lang == report_text("xx").lang == "id"
