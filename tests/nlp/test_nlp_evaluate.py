from __future__ import annotations

from datetime import UTC, datetime

from nlp.classifier import Prediction
from nlp.decision import Decision
from nlp.evaluate import (
    DECISION_FIGURES,
    HELD_OUT_SOURCE,
    OUT_OF_FOLD_SOURCE,
    ModelFigures,
    active_model_figures,
    held_out_record,
    recorded_figures,
    score,
)
from nlp.model import HELD_OUT

OOS = "out_of_scope"


def _p(label: str, decision: Decision, candidates: tuple[tuple[str, float], ...] = ()) -> Prediction:
    return Prediction(label, 0.5, ((label, 0.5),), decision is not Decision.ANSWER, "x", decision, candidates)


def test_score_counts_a_clarification_that_offered_the_right_label() -> None:
    predictions = [
        _p("nilai", Decision.ANSWER),  # right
        _p("nilai", Decision.CLARIFY, (("nilai", 0.5), ("kuis-ujian", 0.45))),  # gold kuis-ujian: offered
        _p("nilai", Decision.CLARIFY, (("nilai", 0.6), ("sertifikat", 0.35))),  # gold kuis-ujian: not offered
        _p(OOS, Decision.HANDOFF),  # gold out of scope: recalled
        _p("nilai", Decision.ANSWER),  # gold out of scope: a wrong template
    ]
    gold = ["nilai", "kuis-ujian", "kuis-ujian", OOS, OOS]
    result = score(predictions, gold, OOS)
    assert {key: result[key] for key in DECISION_FIGURES} == {
        "precision_answered": 0.5,
        "coverage_direct": round(1 / 3, 4),
        "coverage_clarified": round(2 / 3, 4),
        "clarify_rate": 0.4,
        "oos_recall": 0.5,
        "handoff_rate": 0.2,
    }
    assert result["accuracy"] == round(1 / 3, 4)  # top label only: nilai, nilai, nilai against the gold
    assert result["in_scope_accuracy"] == result["coverage_direct"]
    assert result["oos_precision"] == 1.0


FIGURES = {"precision_answered": 0.99, "coverage_direct": 0.7, "coverage_clarified": 0.9, "clarify_rate": 0.2,
           "oos_recall": 0.95, "handoff_rate": 0.15}


def test_a_held_out_record_is_read_back_with_its_rows_and_date() -> None:
    metrics = {**FIGURES, "n": 510, "accuracy": 0.9, "latency_ms_p50": 0.3}
    record = held_out_record(metrics, data="edunex-heldout.csv", tickets=3,
                             measured_at=datetime(2026, 12, 4, 10, 0, tzinfo=UTC))
    meta = {"version": "abc", "trained_at": "2026-12-01T00:00:00+00:00", HELD_OUT: record,
            "validation": {**FIGURES, "precision_answered": 0.5, "n": 3000}}
    assert recorded_figures(meta) == ModelFigures(
        version="abc", source=HELD_OUT_SOURCE, data="edunex-heldout.csv", tickets=3, n=510,
        measured_at="2026-12-04T10:00:00+00:00", figures=FIGURES, below_target=(),
    )


def test_without_a_held_out_record_the_out_of_fold_figures_are_shown_with_the_training_date() -> None:
    meta = {"version": "abc", "trained_at": "2026-12-01T00:00:00+00:00",
            "validation": {**FIGURES, "precision_answered": 0.96, "n": 3000, "source": "out-of-fold"}}
    figures = recorded_figures(meta)
    assert figures is not None
    assert (figures.source, figures.n, figures.measured_at, figures.data) == (
        OUT_OF_FOLD_SOURCE, 3000, "2026-12-01T00:00:00+00:00", "")
    assert figures.below_target == ("precision_answered",)
    assert recorded_figures({"version": "old"}) is None


def test_the_shipped_model_records_its_held_out_figures() -> None:
    # The README's held-out table comes from the same run (`nlp eval --record` on edunex-heldout.csv).
    figures = active_model_figures()
    assert figures is not None
    assert (figures.source, figures.data, figures.n) == (HELD_OUT_SOURCE, "edunex-heldout.csv", 510)
    assert figures.below_target == ()
