"""Retraining from agents' confirmed tickets: train a candidate, compare it with the current model on
held-out data, and store it (not activated). The CLI (``nlp train --from-tickets``) and the console's
classifier page both call :func:`retrain_from_tickets`; what happens next (activate at once, or show the
figures to a supervisor first) is theirs to decide.

Blocking and CPU-bound: callers in an event loop run it in a worker thread.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from nlp.classifier import Classifier, load_classifier
from nlp.dataset import TEST_FILE, read_examples, shipped_examples
from nlp.evaluate import evaluate, held_out_record
from nlp.model import HELD_OUT, TrainConfig, train
from nlp.store import ModelStore

# How much a candidate may trail the current model on a coverage figure and still count as "no
# regression": a single message flipping on a few hundred held-out rows is noise, not a regression.
DEFAULT_TOLERANCE = 0.005
# Precision first: a candidate whose share of answered messages that get the right template is lower
# than the active model's, on the same held-out rows, is refused outright (no tolerance).
PRECISION = "precision_answered"
# Compared with the tolerance above, so that a candidate cannot buy precision by answering nothing.
COMPARED_WITH_TOLERANCE = ("coverage_clarified", "oos_recall")
# The figures that decide, and (more) the figures shown; all are keys of nlp.evaluate.evaluate.
COMPARED = (PRECISION, *COMPARED_WITH_TOLERANCE)
SHOWN = (
    PRECISION,
    "coverage_direct",
    "coverage_clarified",
    "clarify_rate",
    "oos_recall",
    "handoff_rate",
    "accuracy",
    "macro_f1",
    "in_scope_accuracy",
)


@dataclass(frozen=True, slots=True)
class Regression:
    """One figure on which the candidate falls behind the current model, on the same held-out rows."""

    key: str  # a key of COMPARED
    current: float
    candidate: float | None  # None: the candidate answered none of the rows, so it has no precision

    def __str__(self) -> str:  # for logs, the CLI and the stored note; people read the console's catalogue
        shown = "none answered" if self.candidate is None else f"{self.candidate:.4f}"
        return f"{self.key} {shown} < {self.current:.4f}"


class NoExamplesError(ValueError):
    """No confirmed ticket examples to learn from yet."""


@dataclass(frozen=True, slots=True)
class CategoryDelta:
    label: str
    n: int  # held-out rows of this category
    current: float  # F1 of the current model on them
    candidate: float

    @property
    def delta(self) -> float:
        return round(self.candidate - self.current, 4)


@dataclass(frozen=True, slots=True)
class RetrainResult:
    version: str  # the stored candidate (not activated)
    previous: str  # the model it was compared with
    n_tickets: int
    n_train: int
    n_held_out: int
    # The figures of SHOWN for each model on the same held-out rows (``current[PRECISION]`` and
    # ``candidate[PRECISION]`` are the two precisions the console compares).
    current: dict[str, Any]
    candidate: dict[str, Any]
    per_category: tuple[CategoryDelta, ...]
    regressions: tuple[Regression, ...]  # empty: the candidate may be activated

    @property
    def acceptable(self) -> bool:
        return not self.regressions

    @property
    def precision_current(self) -> float | None:
        """Share of answered held-out messages the active model got right."""
        value: float | None = self.current.get(PRECISION)
        return value

    @property
    def precision_candidate(self) -> float | None:
        """The same share for the candidate; below ``precision_current`` the candidate is refused."""
        value: float | None = self.candidate.get(PRECISION)
        return value

    @property
    def reason(self) -> str:
        return "regression on held-out data: " + "; ".join(map(str, self.regressions)) if self.regressions else ""


def per_category_f1(classifier: Classifier, texts: Sequence[str], labels: Sequence[str]) -> dict[str, float]:
    """F1 of each gold label (a hand-off counts as the label ``out_of_scope`` would, i.e. a miss)."""
    predicted = [classifier.predict(text).label for text in texts]
    scores: dict[str, float] = {}
    for label in sorted(set(labels)):
        tp = sum(1 for g, p in zip(labels, predicted, strict=True) if g == label and p == label)
        fp = sum(1 for g, p in zip(labels, predicted, strict=True) if g != label and p == label)
        fn = sum(1 for g, p in zip(labels, predicted, strict=True) if g == label and p != label)
        scores[label] = round(2 * tp / (2 * tp + fp + fn), 4) if tp + fp + fn else 0.0
    return scores


def compare(current: dict[str, Any], candidate: dict[str, Any], tolerance: float) -> tuple[Regression, ...]:
    """Why the candidate may not replace the current model (empty: it may)."""
    found: list[Regression] = []
    mine, theirs = candidate.get(PRECISION), current.get(PRECISION)
    if theirs is not None and (mine is None or mine < theirs):
        found.append(Regression(key=PRECISION, current=theirs, candidate=mine))
    for key in COMPARED_WITH_TOLERANCE:
        mine, theirs = candidate.get(key), current.get(key)
        if mine is not None and theirs is not None and mine < theirs - tolerance:
            found.append(Regression(key=key, current=theirs, candidate=mine))
    return tuple(found)


def _noop(_message: str) -> None:
    return None


def retrain_from_tickets(
    tickets: Sequence[tuple[str, str]],
    store: ModelStore,
    *,
    config: TrainConfig | None = None,
    tolerance: float = DEFAULT_TOLERANCE,
    progress: Callable[[str], None] = _noop,
    train_data: Path | None = None,
    test_data: Path | None = None,
    note: str | None = None,
) -> RetrainResult:
    """Train on the base data plus 4/5 of the tickets, compare on the test data plus the other fifth.

    ``train_data`` / ``test_data`` replace the shipped Edunex files (CSV or JSONL with text,label).
    The candidate is saved in ``store`` with its figures and NOT activated.
    """
    config = config or TrainConfig()
    cleaned = [(str(t).strip(), str(c).strip()) for t, c in tickets]
    cleaned = [(t, c) for t, c in cleaned if t and c]
    progress(f"{len(cleaned)} confirmed ticket examples")
    if not cleaned:
        raise NoExamplesError("no confirmed ticket examples yet; nothing to learn from")
    # Held-out rows: the test file (never trained on by any model) plus a fifth of the tickets. The
    # current model may have seen some of those tickets in an earlier round, which can only favour it,
    # so a candidate that still does not regress is a safe switch.
    rng = random.Random(config.seed)  # noqa: S311 - a reproducible data split, not a secret
    shuffled = cleaned[:]
    rng.shuffle(shuffled)
    n_held = max(1, len(shuffled) // 5) if len(shuffled) >= 5 else 0
    held_tickets, train_tickets = shuffled[:n_held], shuffled[n_held:]
    base_texts, base_labels = read_examples(train_data) if train_data else shipped_examples()
    test_texts, test_labels = read_examples(test_data) if test_data else shipped_examples(TEST_FILE)
    texts = base_texts + [t for t, _ in train_tickets]
    labels = base_labels + [c for _, c in train_tickets]
    held_texts = test_texts + [t for t, _ in held_tickets]
    held_labels = test_labels + [c for _, c in held_tickets]
    progress(f"training candidate on {len(texts)} examples; {len(held_texts)} held out")
    candidate_model = train(texts, labels, config, progress=progress).model
    current = load_classifier(store.root)
    candidate = Classifier(candidate_model)
    progress("evaluating the current model and the candidate on the held-out rows")
    current_metrics = evaluate(current, held_texts, held_labels, oos_label=config.oos_label)
    candidate_metrics = evaluate(candidate, held_texts, held_labels, oos_label=config.oos_label)
    regressions = compare(current_metrics, candidate_metrics, tolerance)
    current_f1 = per_category_f1(current, held_texts, held_labels)
    candidate_f1 = per_category_f1(candidate, held_texts, held_labels)
    counts = {label: held_labels.count(label) for label in current_f1}
    per_category = tuple(
        CategoryDelta(label=label, n=counts[label], current=current_f1[label], candidate=candidate_f1[label])
        for label in sorted(current_f1)
    )
    # The candidate carries its figures on these rows, so that once active the console shows them.
    candidate_model.meta[HELD_OUT] = held_out_record(
        candidate_metrics, data=test_data.name if test_data else TEST_FILE, tickets=len(held_tickets),
        measured_at=datetime.now(UTC),
    )
    shown_current = {key: current_metrics[key] for key in SHOWN}
    shown_candidate = {key: candidate_metrics[key] for key in SHOWN}
    if note is None:
        note = ("rejected: " + "; ".join(map(str, regressions))) if regressions else "candidate"
    version = store.save(candidate_model, note=note, metrics={key: candidate_metrics[key] for key in COMPARED})
    progress(f"candidate {version} stored")
    return RetrainResult(
        version=version,
        previous=current.version,
        n_tickets=len(cleaned),
        n_train=len(texts),
        n_held_out=len(held_texts),
        current=shown_current,
        candidate=shown_candidate,
        per_category=per_category,
        regressions=regressions,
    )
