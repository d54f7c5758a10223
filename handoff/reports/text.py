"""The reports' catalogue (``locales/<lang>.toml``, Indonesian by default) and the way numbers, dates
and durations are written in each language (Babel's CLDR data: 1.234,5 in Indonesian, 1,234.5 in English)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from babel import Locale
from babel.dates import format_date, format_datetime
from babel.numbers import format_decimal

from handoff.i18n import DEFAULT_LANGUAGE, LANGUAGES, choose_language, entry
from handoff.reports.period import Period

__all__ = ["DEFAULT_LANGUAGE", "LANGUAGES", "ReportText", "report_text"]
# Durations are written in minutes below this many, in hours below DAYS_FROM, in days above.
HOURS_FROM = 90 * 60
DAYS_FROM = 48 * 3600


@dataclass(frozen=True, slots=True)
class ReportText:
    lang: str

    def _entry(self, key: str) -> Any:
        found = entry("handoff.reports", self.lang, key)  # missing in one language: the default language's
        if found is None:
            raise KeyError(key)
        return found

    def __call__(self, key: str, **values: object) -> str:
        return str(self._entry(key)).format(**values)

    def count(self, key: str, n: int, **values: object) -> str:
        """A count's text: the ``zero`` form for none, otherwise the language's plural form of ``n``."""
        forms = self._entry(key)
        form = "zero" if n == 0 else Locale.parse(self.lang).plural_form(n)
        template = forms[form] if form in forms else forms["other"]
        return str(template).format(n=self.number(n), **values)

    def number(self, value: float, decimals: int = 0) -> str:
        pattern = "#,##0" + ("." + "#" * decimals if decimals else "")
        return format_decimal(value, format=pattern, locale=self.lang)

    def percent(self, share: float | None) -> str:
        if share is None:
            return self("none")
        return self("percent", value=self.number(share * 100, 1))

    def duration(self, seconds: float | None) -> str:
        if seconds is None:
            return self("none")
        if seconds < HOURS_FROM:
            minutes = round(seconds / 60)
            return self.count("minutes", minutes)
        if seconds < DAYS_FROM:
            hours = round(seconds / 3600, 1)
            return self._count_decimal("hours", hours)
        return self._count_decimal("days", round(seconds / 86400, 1))

    def _count_decimal(self, key: str, value: float) -> str:
        forms = self._entry(key)
        form = "one" if value == 1 and "one" in forms else "other"
        return str(forms[form]).format(n=self.number(value, 1))

    def month(self, day: date) -> str:
        return format_date(day, self("month_format"), locale=self.lang)

    def day(self, day: date) -> str:
        return format_date(day, self("day_format"), locale=self.lang)

    def moment(self, moment: datetime) -> str:
        return format_datetime(moment, self("datetime_format"), tzinfo=moment.tzinfo, locale=self.lang)

    def period(self, period: Period) -> str:
        if period.is_month:
            return self.month(period.start)
        last = period.days[-1] if period.days else period.start
        return self("date_range", start=format_date(period.start, "d MMM yyyy", locale=self.lang),
                    end=format_date(last, "d MMM yyyy", locale=self.lang))


def report_text(lang: str | None) -> ReportText:
    return ReportText(choose_language(lang))
