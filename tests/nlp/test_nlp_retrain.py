from __future__ import annotations

import pytest

from nlp.retrain import PRECISION, Regression, RetrainResult, compare

CURRENT = {PRECISION: 0.97, "coverage_clarified": 0.85, "oos_recall": 0.95}


@pytest.mark.parametrize(
    ("candidate", "refused"),
    [
        ({PRECISION: 0.97, "coverage_clarified": 0.85, "oos_recall": 0.95}, ()),
        ({PRECISION: 0.99, "coverage_clarified": 0.90, "oos_recall": 0.96}, ()),
        # Precision first: any drop refuses, however small, whatever else improves.
        ({PRECISION: 0.9699, "coverage_clarified": 0.95, "oos_recall": 1.0}, (PRECISION,)),
        # A candidate that answers nothing has no precision to show.
        ({PRECISION: None, "coverage_clarified": 0.85, "oos_recall": 0.95}, (PRECISION,)),
        # Coverage may trail by the tolerance (noise), not more: no buying precision by answering less.
        ({PRECISION: 0.99, "coverage_clarified": 0.846, "oos_recall": 0.95}, ()),
        ({PRECISION: 0.99, "coverage_clarified": 0.80, "oos_recall": 0.95}, ("coverage_clarified",)),
        ({PRECISION: 0.99, "coverage_clarified": 0.85, "oos_recall": 0.90}, ("oos_recall",)),
    ],
)
def test_compare(candidate: dict[str, float | None], refused: tuple[str, ...]) -> None:
    found = compare(CURRENT, candidate, tolerance=0.005)
    assert tuple(regression.key for regression in found) == refused


def test_result_exposes_both_precisions() -> None:
    result = RetrainResult(
        version="v0002-abc", previous="v0001-def", n_tickets=10, n_train=100, n_held_out=20,
        current=dict(CURRENT), candidate={**CURRENT, PRECISION: 0.96}, per_category=(),
        regressions=compare(CURRENT, {**CURRENT, PRECISION: 0.96}, tolerance=0.005),
    )
    assert (result.precision_current, result.precision_candidate) == (0.97, 0.96)
    assert not result.acceptable
    assert "precision_answered 0.9600 < 0.9700" in result.reason
    assert result.regressions == (Regression(key=PRECISION, current=0.97, candidate=0.96),)


def test_a_candidate_answering_nothing_has_no_precision_to_compare() -> None:
    (regression,) = compare(CURRENT, {**CURRENT, PRECISION: None}, tolerance=0.005)
    assert (regression.candidate, str(regression)) == (None, "precision_answered none answered < 0.9700")
