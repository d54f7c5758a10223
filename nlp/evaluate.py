"""Evaluation of the classifier as the bot uses it: one message at a time, through the three-way decision.

The decision's figures (precision of answered messages, coverage direct and within one clarification,
clarification share, out-of-scope recall, hand-off share) are defined once, in ``nlp.decision``; this adds
the label-only figures (accuracy and macro-F1 of the top label on in-scope rows) and the latency.

A model file can carry its own figures on a held-out set (``held_out_record``, written when it is
evaluated with ``nlp eval --record`` or retrained), and ``recorded_figures`` reads back what a file says
about itself, so the console shows the active model's figures without evaluating anything.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from nlp.classifier import Classifier, Prediction, active_model_meta
from nlp.decision import TARGETS, Decision, below_target, figures
from nlp.model import HELD_OUT

# The keys of ``evaluate``'s result, in the order a report shows them.
DECISION_FIGURES = (
    "precision_answered",
    "coverage_direct",
    "coverage_clarified",
    "clarify_rate",
    "oos_recall",
    "handoff_rate",
)
# Where recorded figures come from: rows set aside for evaluation, or (files without such a record) the
# out-of-fold rows of the training data the operating point was chosen on.
HELD_OUT_SOURCE = "held_out"
OUT_OF_FOLD_SOURCE = "out_of_fold"


def _macro_f1(gold: Sequence[str], predicted: Sequence[str]) -> float:
    # Over the labels that occur in the gold rows: a label only ever predicted (e.g. out_of_scope on
    # in-scope rows) lowers the recall of the gold label, which is what the reported figure means.
    scores = []
    for label in sorted(set(gold)):
        tp = sum(1 for g, p in zip(gold, predicted, strict=True) if g == label and p == label)
        fp = sum(1 for g, p in zip(gold, predicted, strict=True) if g != label and p == label)
        fn = sum(1 for g, p in zip(gold, predicted, strict=True) if g == label and p != label)
        denominator = 2 * tp + fp + fn
        scores.append(2 * tp / denominator if denominator else 0.0)
    return float(np.mean(scores)) if scores else 0.0


def classify_all(
    classifier: Classifier, texts: Sequence[str], *, progress: Callable[[int], None] | None = None
) -> tuple[list[Prediction], list[float]]:
    """Each message through ``predict`` on its own, as the bot sends them, with its latency in ms."""
    predictions: list[Prediction] = []
    latencies: list[float] = []
    for i, text in enumerate(texts):
        started = time.perf_counter()
        predictions.append(classifier.predict(text))
        latencies.append((time.perf_counter() - started) * 1000.0)
        if progress is not None and (i + 1) % 200 == 0:
            progress(i + 1)
    return predictions, latencies


def score(
    predictions: Sequence[Prediction], labels: Sequence[str], oos: str
) -> dict[str, Any]:
    """The figures of predictions already made (no latency)."""
    in_scope = [i for i, g in enumerate(labels) if g != oos]
    out_scope = [i for i, g in enumerate(labels) if g == oos]
    gold_in = [labels[i] for i in in_scope]
    pred_in = [predictions[i].label for i in in_scope]
    correct = sum(g == p for g, p in zip(gold_in, pred_in, strict=True))
    handed = [i for i, p in enumerate(predictions) if p.decision is Decision.HANDOFF]
    hits = [any(c == gold for c, _ in p.candidates) for p, gold in zip(predictions, labels, strict=True)]
    decided = figures(
        labels, [p.decision.value for p in predictions], [p.label for p in predictions], hits, oos
    )
    return {
        "n": len(labels),
        "n_in_scope": len(in_scope),
        "n_out_of_scope": len(out_scope),
        "accuracy": round(correct / len(in_scope), 4) if in_scope else None,
        "macro_f1": round(_macro_f1(gold_in, pred_in), 4) if in_scope else None,
        **decided,
        "oos_precision": round(sum(labels[i] == oos for i in handed) / len(handed), 4) if handed else None,
        # The older name of coverage_direct (in-scope rows answered with the right label), kept for the
        # console's comparison table and scripts reading it.
        "in_scope_accuracy": decided["coverage_direct"],
    }


def evaluate(
    classifier: Classifier,
    texts: Sequence[str],
    labels: Sequence[str],
    *,
    oos_label: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Classify one message at a time through the fast path, as the bot does, and score it."""
    oos = classifier.oos_label if oos_label is None else oos_label
    predictions, latencies = classify_all(classifier, texts, progress=progress)
    result = score(predictions, labels, oos)
    result.update(
        {
            "latency_ms_p50": round(float(np.percentile(latencies, 50)), 4) if latencies else None,
            "latency_ms_p99": round(float(np.percentile(latencies, 99)), 4) if latencies else None,
            "threshold": round(classifier.threshold, 4),
            "margin": round(classifier.margin, 4),
            "clarify_mass": classifier.rule.clarify_mass,
            "clarify_max": classifier.rule.clarify_max,
            "targets": dict(TARGETS),
            "model_version": classifier.version,
        }
    )
    return result


def held_out_record(
    metrics: Mapping[str, Any], *, data: str, tickets: int = 0, measured_at: datetime
) -> dict[str, Any]:
    """What a model file keeps of ``evaluate``'s result on held-out rows (``model.meta[HELD_OUT]``).

    ``data``: the file the rows came from (a name, not a path); ``tickets``: how many of the rows are
    agents' confirmed tickets added to it (a retrain's held-out fifth).
    """
    return {
        "data": data,
        "tickets": tickets,
        "measured_at": measured_at.isoformat(timespec="seconds"),
        "n": metrics["n"],
        **{key: metrics[key] for key in DECISION_FIGURES},
    }


@dataclass(frozen=True, slots=True)
class ModelFigures:
    """A model's figures as its file records them, for people to read (the console's classifier page)."""

    version: str
    source: str  # HELD_OUT_SOURCE or OUT_OF_FOLD_SOURCE
    data: str  # the held-out rows' file; "" for out-of-fold rows
    tickets: int  # confirmed tickets among the rows
    n: int  # rows measured
    measured_at: str  # ISO 8601 (for out-of-fold rows: when the model was trained)
    figures: dict[str, float | None]  # the keys of DECISION_FIGURES
    below_target: tuple[str, ...]  # keys of nlp.decision.TARGETS whose target is missed


def recorded_figures(meta: Mapping[str, Any]) -> ModelFigures | None:
    """The figures a model file records (``LinearTextModel.read_meta``): on held-out rows when it has them,
    else on the out-of-fold rows of its training; None for files that record neither."""
    held = meta.get(HELD_OUT)
    validation = meta.get("validation")
    if isinstance(held, dict):
        record, source = held, HELD_OUT_SOURCE
        measured_at = str(held.get("measured_at", ""))
    elif isinstance(validation, dict):
        record, source = validation, OUT_OF_FOLD_SOURCE
        measured_at = str(meta.get("trained_at", ""))
    else:
        return None
    values = {key: _figure(record.get(key)) for key in DECISION_FIGURES}
    return ModelFigures(
        version=str(meta.get("version", "")),
        source=source,
        data=str(record.get("data", "")) if source == HELD_OUT_SOURCE else "",
        tickets=int(record.get("tickets", 0) or 0),
        n=int(record.get("n", 0) or 0),
        measured_at=measured_at,
        figures=values,
        below_target=below_target(values),
    )


def active_model_figures(model_dir: Path | None = None) -> ModelFigures | None:
    """The recorded figures of the model ``load_classifier(model_dir)`` runs (reads one small file)."""
    return recorded_figures(active_model_meta(model_dir))


def _figure(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
