from __future__ import annotations

import numpy as np
import pytest

from nlp.decision import (
    AMBIGUOUS,
    CONFIDENT,
    EMPTY,
    LOW_CONFIDENCE,
    OUT_OF_SCOPE_REASON,
    Decision,
    Rule,
    batch_figures,
    below_target,
    choose_rule,
    decide,
    figures,
)

LABELS = ["a", "b", "c", "out_of_scope"]
OOS = "out_of_scope"
RULE = Rule(threshold=0.8, margin=0.1, clarify_mass=0.9, clarify_max=2)


@pytest.mark.parametrize(
    ("probs", "decision", "reason", "candidates"),
    [
        ([0.90, 0.05, 0.03, 0.02], Decision.ANSWER, CONFIDENT, []),
        ([0.60, 0.35, 0.03, 0.02], Decision.CLARIFY, LOW_CONFIDENCE, ["a", "b"]),
        # Exactly at the threshold is an answer.
        ([0.80, 0.15, 0.03, 0.02], Decision.ANSWER, CONFIDENT, []),
        ([0.46, 0.45, 0.07, 0.02], Decision.CLARIFY, LOW_CONFIDENCE, ["a", "b"]),
        ([0.45, 0.44, 0.09, 0.02], Decision.HANDOFF, LOW_CONFIDENCE, []),  # 0.89 < 0.9
        # Spread over three labels but clarify_max is 2: a person.
        ([0.40, 0.30, 0.28, 0.02], Decision.HANDOFF, LOW_CONFIDENCE, []),
        # Out of scope on top: never a clarification, even if the rest would fit.
        ([0.05, 0.03, 0.02, 0.90], Decision.HANDOFF, OUT_OF_SCOPE_REASON, []),
        ([0.30, 0.28, 0.02, 0.40], Decision.HANDOFF, OUT_OF_SCOPE_REASON, []),
    ],
)
def test_decide(probs: list[float], decision: Decision, reason: str, candidates: list[str]) -> None:
    made = decide(np.asarray([probs]), LABELS, OOS, RULE)
    assert made.decision[0] == decision.value
    assert made.reason[0] == reason
    offered = [LABELS[i] for i in made.in_order[0][: made.n_candidates[0]]]
    assert offered == candidates


def test_margin_turns_an_answer_into_a_clarification() -> None:
    rule = Rule(threshold=0.5, margin=0.3, clarify_mass=0.9, clarify_max=3)
    made = decide(np.asarray([[0.6, 0.38, 0.01, 0.01]]), LABELS, OOS, rule)
    assert (made.decision[0], made.reason[0]) == (Decision.CLARIFY.value, AMBIGUOUS)


def test_nothing_known_is_a_handoff_whatever_the_probabilities() -> None:
    made = decide(np.asarray([[0.97, 0.01, 0.01, 0.01]]), LABELS, OOS, RULE, np.asarray([False]))
    assert (made.decision[0], made.reason[0], made.n_candidates[0]) == (Decision.HANDOFF.value, EMPTY, 0)


def test_one_candidate_is_a_confirmation() -> None:
    rule = Rule(threshold=0.95, margin=0.0, clarify_mass=0.9, clarify_max=3)
    made = decide(np.asarray([[0.92, 0.04, 0.02, 0.02]]), LABELS, OOS, rule)
    assert (made.decision[0], made.n_candidates[0]) == (Decision.CLARIFY.value, 1)


def test_labels_without_an_out_of_scope_label() -> None:
    made = decide(np.asarray([[0.5, 0.45, 0.05]]), ["a", "b", "c"], OOS, RULE)
    assert (made.decision[0], made.n_candidates[0]) == (Decision.CLARIFY.value, 2)


def test_figures_by_hand() -> None:
    gold = ["a", "a", "b", "b", "c", OOS, OOS, OOS]
    decision = ["answer", "answer", "clarify", "clarify", "handoff", "handoff", "answer", "clarify"]
    label = ["a", "b", "a", "b", "c", OOS, "a", "a"]
    hit = [False, False, True, False, False, False, False, False]
    result = figures(gold, decision, label, hit, OOS)
    assert result == {
        "precision_answered": round(1 / 3, 4),  # a right, a wrong (gold a, said b), an OOS answered
        "coverage_direct": round(1 / 5, 4),
        "coverage_clarified": round(2 / 5, 4),  # plus the clarification that offered the right label
        "clarify_rate": round(3 / 8, 4),
        "clarify_hit_rate": round(1 / 3, 4),
        "answered_rate": round(3 / 8, 4),
        "oos_recall": round(1 / 3, 4),
        "handoff_rate": round(2 / 8, 4),
        "in_scope_handoff_rate": round(1 / 5, 4),
    }


def test_figures_of_an_empty_set_are_none() -> None:
    assert set(figures([], [], [], [], OOS).values()) == {None}


def _separable(n: int, seed: int) -> tuple[np.ndarray, list[str]]:
    """Probabilities whose top label is right more often the more confident it is."""
    rng = np.random.default_rng(seed)
    probs, gold = [], []
    for _ in range(n):
        confidence = rng.uniform(0.34, 1.0)
        true = int(rng.integers(0, 3))
        right = rng.uniform() < confidence
        top = true if right else (true + 1) % 3
        row = np.full(4, (1 - confidence) / 3)
        row[top] = confidence
        probs.append(row)
        gold.append(LABELS[true])
    return np.asarray(probs), gold


def test_choose_rule_reaches_the_target_and_answers_the_most() -> None:
    probs, gold = _separable(3000, seed=1)
    rule, result = choose_rule(probs, gold, LABELS, OOS, target_precision=0.9, margins=(0.0,))
    assert result["precision_answered"] is not None
    assert result["precision_answered"] >= 0.9
    # A slightly lower threshold would answer more and fall below the target.
    lower = batch_figures(probs, gold, LABELS, OOS, Rule(threshold=rule.threshold - 0.02, margin=0.0))
    assert lower["coverage_direct"] is not None
    assert result["coverage_direct"] is not None
    assert lower["coverage_direct"] >= result["coverage_direct"]
    assert lower["precision_answered"] is not None
    assert lower["precision_answered"] < 0.9


def test_choose_rule_without_a_feasible_threshold_keeps_the_most_precise() -> None:
    probs, gold = _separable(500, seed=2)
    _rule, result = choose_rule(probs, gold, LABELS, OOS, target_precision=1.01, margins=(0.0,))
    others = [batch_figures(probs, gold, LABELS, OOS, Rule(threshold=t, margin=0.0)) for t in (0.5, 0.8, 0.95)]
    best = max((o["precision_answered"] or 0.0) for o in others)
    assert (result["precision_answered"] or 1.0) >= best


@pytest.mark.parametrize(
    ("measured", "missed"),
    [
        ({"precision_answered": 0.97, "coverage_clarified": 0.80}, ()),
        ({"precision_answered": 0.9699, "coverage_clarified": 0.95}, ("precision_answered",)),
        ({"precision_answered": 0.99, "coverage_clarified": 0.79}, ("coverage_clarified",)),
        # Nothing answered: no precision to show, so the target is not shown to be met.
        ({"precision_answered": None, "coverage_clarified": 0.9}, ("precision_answered",)),
        ({}, ("precision_answered", "coverage_clarified")),
    ],
)
def test_below_target(measured: dict[str, float | None], missed: tuple[str, ...]) -> None:
    assert below_target(measured) == missed
