from __future__ import annotations

from nlp.classifier import Prediction
from nlp.decision import Decision
from nlp.evaluate import DECISION_FIGURES, score

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
