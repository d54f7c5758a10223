"""The rows of a report's summary table, shared by the XLSX and PDF files so both show the same figures."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from handoff.reports.figures import Comparison, ConversationOutcome, Figures, change
from handoff.reports.text import ReportText

MINUTE = 60.0
HOUR = 3600.0


class Kind(StrEnum):
    COUNT = "count"
    SHARE = "share"  # 0..1
    MINUTES = "minutes"
    HOURS = "hours"
    AVERAGE = "average"  # a 1-5 rating


@dataclass(frozen=True, slots=True)
class Row:
    label: str  # a key under [label] in the catalogue
    kind: Kind
    current: float | None
    previous: float | None

    @property
    def change(self) -> float | None:
        """Relative change for counts, times and averages; shares are compared by eye, not divided again."""
        return None if self.kind == Kind.SHARE else change(self.current, self.previous)


def _per(seconds: float | None, unit: float) -> float | None:
    return None if seconds is None else seconds / unit


_ROWS: tuple[tuple[str, Kind, Callable[[Figures], float | None]], ...] = (
    ("conversations", Kind.COUNT, lambda f: f.conversations),
    ("bot_alone", Kind.COUNT, lambda f: f.outcome(ConversationOutcome.BOT)),
    ("handed_off", Kind.COUNT, lambda f: f.outcome(ConversationOutcome.HANDED_OFF)),
    ("abandoned", Kind.COUNT, lambda f: f.outcome(ConversationOutcome.ABANDONED)),
    ("in_progress", Kind.COUNT, lambda f: f.outcome(ConversationOutcome.IN_PROGRESS)),
    ("bot_share", Kind.SHARE, lambda f: f.bot_share),
    ("tickets", Kind.COUNT, lambda f: f.tickets),
    ("target_met", Kind.COUNT, lambda f: f.resolution_target.met),
    ("target_missed", Kind.COUNT, lambda f: f.resolution_target.missed),
    ("target_open", Kind.COUNT, lambda f: f.resolution_target.open),
    ("target_share", Kind.SHARE, lambda f: f.resolution_target.met_share),
    ("first_response_median", Kind.MINUTES, lambda f: _per(f.first_response.median, MINUTE)),
    ("first_response_p90", Kind.MINUTES, lambda f: _per(f.first_response.p90, MINUTE)),
    ("resolution_median", Kind.HOURS, lambda f: _per(f.resolution.median, HOUR)),
    ("resolution_p90", Kind.HOURS, lambda f: _per(f.resolution.p90, HOUR)),
    ("categorized_share", Kind.SHARE, lambda f: f.categorized_share),
    ("agent_categorized", Kind.COUNT, lambda f: f.agent_categorized),
    ("csat_average", Kind.AVERAGE, lambda f: f.csat.average),
    ("csat_count", Kind.COUNT, lambda f: f.csat.count),
    ("csat_satisfied", Kind.SHARE, lambda f: f.csat.satisfied_share),
    ("escalated", Kind.COUNT, lambda f: f.escalated),
    ("incidents_opened", Kind.COUNT, lambda f: f.incidents_opened),
    ("incidents_fixed", Kind.COUNT, lambda f: f.incidents_fixed),
)


def summary_rows(both: Comparison) -> list[Row]:
    return [Row(label, kind, get(both.current), get(both.previous)) for label, kind, get in _ROWS]


def shown(kind: Kind, value: float | None, text: ReportText) -> str:
    """A summary value as the PDF and the dashboard write it."""
    if value is None:
        return text("none")
    if kind == Kind.SHARE:
        return text.percent(value)
    if kind == Kind.COUNT:
        return text.number(value)
    return text.number(value, 2 if kind == Kind.AVERAGE else 1)


def shown_change(row: Row, text: ReportText) -> str:
    moved = row.change
    if moved is None:
        return ""
    return ("+" if moved > 0 else "") + text.percent(moved)
