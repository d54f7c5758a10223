"""The three-way decision (answer / clarify / hand off), its operating point, and the figures that judge it.

One implementation serves the bot (one message), the choice of the operating point (thousands of
out-of-fold rows, many candidate thresholds) and the evaluation, so that what is chosen is what runs and
what is reported:

- **answer**: the top label is in scope, its probability reaches ``threshold`` and leads the second by
  at least ``margin``. The bot sends that category's template.
- **clarify**: otherwise, when the smallest prefix of the in-scope labels (most probable first, at most
  ``clarify_max``) reaches a cumulative probability of ``clarify_mass``: the bot offers those labels as
  choices, plus "something else / a person".
- **handoff**: everything else: the top label is out of scope, nothing of the message is known, or the
  probability is spread too thin for a short list of choices.

The operating point is chosen for precision first: the share of answered messages that get the right
template must reach ``target_precision`` on held-out (out-of-fold) scores, 98 % by default so that new
messages reach the product's 97 % (``TARGET_PRECISION``), and among the thresholds that reach it the one
answering the most in-scope messages directly is kept.

Definitions of the figures (all shares of rows of an evaluation set; "in scope" is a gold label other
than the out-of-scope label):

- ``precision_answered``: answered rows whose label is the gold label / answered rows (an out-of-scope
  row answered with a template counts as wrong);
- ``coverage_direct``: in-scope rows answered with the gold label / in-scope rows;
- ``coverage_clarified``: in-scope rows answered right, or clarified with the gold label among the
  candidates ("answered after one clarification") / in-scope rows;
- ``clarify_rate``: clarified rows / all rows;
- ``oos_recall``: out-of-scope rows handed off (neither answered nor clarified) / out-of-scope rows;
- ``handoff_rate``: handed-off rows / all rows; ``in_scope_handoff_rate`` likewise over in-scope rows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]
BoolArray = npt.NDArray[np.bool_]

# The product's target: at least this share of the messages the bot answers get the right template.
TARGET_PRECISION = 0.97
# ... while at least this share of in-scope messages is answered right directly or after one clarification.
TARGET_COVERAGE = 0.80
# The figures the product has a target for, and that target (reports print them; the console warns below).
TARGETS: dict[str, float] = {"precision_answered": TARGET_PRECISION, "coverage_clarified": TARGET_COVERAGE}
# The defaults of the operating point, defined here once (training, the CLI and old model files ask).
# The rule is chosen on out-of-fold scores, whose precision overstates that on messages written by other
# people: in nested cross-validation on the Edunex training data a rule chosen for 97 % out of fold
# reached 96.97 % on the outer folds, one chosen for 98 % reached 97.96 % (benchmarks/results-nlp.md).
DEFAULT_TARGET_PRECISION = 0.98
DEFAULT_CLARIFY_MASS = 0.9
DEFAULT_CLARIFY_MAX = 3
DEFAULT_MARGINS: tuple[float, ...] = (0.0, 0.05, 0.1, 0.15, 0.2)
# Candidate thresholds tried per margin: quantiles of the held-out top probabilities (plus "answer
# nothing"), enough to resolve one row in a few thousand without a slow search.
THRESHOLD_CANDIDATES = 400


class Decision(StrEnum):
    ANSWER = "answer"
    CLARIFY = "clarify"
    HANDOFF = "handoff"


# Why the decision was taken (``Prediction.reason``; the bot stores it with the ticket).
CONFIDENT = "confident"
LOW_CONFIDENCE = "low_confidence"
AMBIGUOUS = "ambiguous"
OUT_OF_SCOPE_REASON = "out_of_scope"
EMPTY = "empty"


@dataclass(frozen=True, slots=True)
class Rule:
    """The parameters of the decision (stored in the model file as part of its calibration)."""

    threshold: float
    margin: float = 0.0
    clarify_mass: float = DEFAULT_CLARIFY_MASS
    clarify_max: int = DEFAULT_CLARIFY_MAX


@dataclass(frozen=True, slots=True)
class Decisions:
    """The rule applied to a batch of probability rows."""

    decision: npt.NDArray[np.str_]  # one Decision value per row
    reason: npt.NDArray[np.str_]
    top: IntArray  # column of the most probable label
    in_order: IntArray  # in-scope columns, most probable first (rows x clarify_max)
    n_candidates: IntArray  # how many of ``in_order`` a clarification offers (0 unless clarify)


def decide(
    probs: FloatArray,
    labels: Sequence[str],
    oos_label: str,
    rule: Rule,
    known: BoolArray | None = None,
) -> Decisions:
    """Apply ``rule`` to each row of ``probs`` (rows x labels). ``known`` False: nothing of the text was known."""
    probs = np.atleast_2d(np.asarray(probs, dtype=np.float64))
    n_rows, n_labels = probs.shape
    known_rows = np.ones(n_rows, dtype=bool) if known is None else np.asarray(known, dtype=bool)
    oos_col = labels.index(oos_label) if oos_label in labels else -1
    order = np.argsort(-probs, axis=1, kind="stable")
    rows = np.arange(n_rows)
    top = order[:, 0]
    top1 = probs[rows, top]
    top2 = probs[rows, order[:, 1]] if n_labels > 1 else np.zeros(n_rows)
    oos_top = top == oos_col
    low = top1 < rule.threshold
    close = top1 - top2 < rule.margin
    answer = known_rows & ~oos_top & ~low & ~close

    # Clarification candidates: the in-scope labels by probability, as few as reach the mass.
    width = max(0, min(rule.clarify_max, n_labels - (1 if oos_col >= 0 else 0)))
    in_scope_probs = probs.copy()
    if oos_col >= 0:
        in_scope_probs[:, oos_col] = -np.inf
    in_order = np.argsort(-in_scope_probs, axis=1, kind="stable")[:, :width]
    cumulative = np.cumsum(np.take_along_axis(probs, in_order, axis=1), axis=1) if width else np.zeros((n_rows, 0))
    reached = cumulative >= rule.clarify_mass - 1e-12
    first = np.where(reached.any(axis=1), reached.argmax(axis=1) + 1, 0) if width else np.zeros(n_rows, np.intp)
    clarify = known_rows & ~answer & ~oos_top & (first > 0)

    decision = np.full(n_rows, Decision.HANDOFF.value, dtype=object)
    decision[answer] = Decision.ANSWER.value
    decision[clarify] = Decision.CLARIFY.value
    reason = np.full(n_rows, CONFIDENT, dtype=object)
    reason[~answer & close] = AMBIGUOUS
    reason[~answer & low] = LOW_CONFIDENCE
    reason[oos_top] = OUT_OF_SCOPE_REASON
    reason[~known_rows] = EMPTY
    return Decisions(
        decision=decision.astype(str),
        reason=reason.astype(str),
        top=top.astype(np.intp),
        in_order=in_order.astype(np.intp),
        n_candidates=np.where(clarify, first, 0).astype(np.intp),
    )


def figures(
    gold: Sequence[str] | npt.NDArray[Any],
    decision: Sequence[str] | npt.NDArray[Any],
    label: Sequence[str] | npt.NDArray[Any],
    hit: Sequence[bool] | BoolArray,
    oos_label: str,
) -> dict[str, float | None]:
    """The figures of the module docstring. ``hit``: the gold label is among the row's clarification candidates."""
    gold_a = np.asarray(gold, dtype=object)
    decision_a = np.asarray(decision, dtype=object)
    label_a = np.asarray(label, dtype=object)
    hit_a = np.asarray(hit, dtype=bool)
    answered = decision_a == Decision.ANSWER.value
    clarified = decision_a == Decision.CLARIFY.value
    handed = decision_a == Decision.HANDOFF.value
    in_scope = gold_a != oos_label
    right = answered & (label_a == gold_a)

    def share(part: BoolArray, whole: BoolArray) -> float | None:
        total = int(whole.sum())
        return round(int((part & whole).sum()) / total, 4) if total else None

    everything = np.ones(len(gold_a), dtype=bool)
    return {
        "precision_answered": share(right, answered),
        "coverage_direct": share(right, in_scope),
        "coverage_clarified": share(right | (clarified & hit_a), in_scope),
        "clarify_rate": share(clarified, everything),
        "clarify_hit_rate": share(hit_a, clarified),
        "answered_rate": share(answered, everything),
        "oos_recall": share(handed, ~in_scope),
        "handoff_rate": share(handed, everything),
        "in_scope_handoff_rate": share(handed, in_scope),
    }


def batch_figures(
    probs: FloatArray, gold: Sequence[str], labels: Sequence[str], oos_label: str, rule: Rule
) -> dict[str, float | None]:
    """The figures of ``rule`` on held-out probabilities (e.g. out-of-fold scores)."""
    made = decide(probs, labels, oos_label, rule)
    names = np.asarray(labels, dtype=object)
    gold_a = np.asarray(gold, dtype=object)
    return figures(gold_a, made.decision, names[made.top], _hits(made, names, gold_a), oos_label)


def _hits(made: Decisions, names: npt.NDArray[Any], gold: npt.NDArray[Any]) -> BoolArray:
    width = made.in_order.shape[1]
    if not width:
        return np.zeros(len(gold), dtype=bool)
    offered = np.arange(width)[None, :] < made.n_candidates[:, None]
    result: BoolArray = ((names[made.in_order] == gold[:, None]) & offered).any(axis=1)
    return result


def choose_rule(
    probs: FloatArray,
    gold: Sequence[str],
    labels: Sequence[str],
    oos_label: str,
    *,
    target_precision: float = DEFAULT_TARGET_PRECISION,
    margins: Sequence[float] = DEFAULT_MARGINS,
    clarify_mass: float = DEFAULT_CLARIFY_MASS,
    clarify_max: int = DEFAULT_CLARIFY_MAX,
) -> tuple[Rule, dict[str, float | None]]:
    """The rule answering the most in-scope rows directly while the precision of answered rows reaches
    ``target_precision``, and its figures on these rows.

    When no threshold reaches the target the most precise one is kept (ties: the one answering more),
    and the figures say so. Ties in coverage go to the smaller margin (the simpler rule), then to the
    higher precision.
    """
    probs = np.atleast_2d(np.asarray(probs, dtype=np.float64))
    gold_a = np.asarray(gold, dtype=object)
    names = np.asarray(labels, dtype=object)
    n_rows = len(gold_a)
    if n_rows == 0:
        rule = Rule(threshold=0.5, margin=0.0, clarify_mass=clarify_mass, clarify_max=clarify_max)
        return rule, {}
    order = np.sort(probs, axis=1)
    top1 = order[:, -1]
    top2 = order[:, -2] if probs.shape[1] > 1 else np.zeros(n_rows)
    predicted = names[np.argmax(probs, axis=1)]
    in_scope = gold_a != oos_label
    eligible = predicted != oos_label
    correct = predicted == gold_a
    n_in = max(1, int(in_scope.sum()))
    quantiles = np.quantile(top1, np.linspace(0.0, 1.0, THRESHOLD_CANDIDATES))
    values = np.unique(np.concatenate([quantiles, [1.0 + 1e-9]]))
    # Midpoints between neighbouring candidate values: a threshold exactly on a held-out row's
    # probability would be fitted to that row.
    thresholds = np.unique(np.concatenate([[0.0], (values[:-1] + values[1:]) / 2, [values[-1]]]))
    best: tuple[tuple[float, ...], float, float] | None = None
    for margin_rank, margin in enumerate(margins):
        passes = eligible & (top1 - top2 >= margin)
        # answered[i, j]: row j answered at threshold i.
        answered = passes[None, :] & (top1[None, :] >= thresholds[:, None])
        n_answered = answered.sum(axis=1)
        n_right = (answered & correct[None, :]).sum(axis=1)
        precision = np.where(n_answered > 0, n_right / np.maximum(n_answered, 1), 1.0)
        coverage = (answered & correct[None, :] & in_scope[None, :]).sum(axis=1) / n_in
        feasible = precision >= target_precision - 1e-12
        for i in range(len(thresholds)):
            key = (
                (1.0, float(coverage[i]), -margin_rank, float(precision[i]))
                if feasible[i]
                else (0.0, float(precision[i]), float(coverage[i]), -margin_rank)
            )
            if best is None or key > best[0]:
                best = (key, float(thresholds[i]), float(margin))
    assert best is not None
    rule = Rule(threshold=best[1], margin=best[2], clarify_mass=clarify_mass, clarify_max=clarify_max)
    return rule, batch_figures(probs, list(gold_a), labels, oos_label, rule)


def below_target(measured: Mapping[str, Any]) -> tuple[str, ...]:
    """The keys of ``TARGETS`` whose figure in ``measured`` misses its target, in ``TARGETS``' order. A
    figure that could not be measured (no answered row has no precision) misses it too: nothing shows the
    target is met."""
    found: list[str] = []
    for key, target in TARGETS.items():
        value = measured.get(key)
        if not isinstance(value, int | float) or value < target:
            found.append(key)
    return tuple(found)
