"""Evaluation with the definitions of issue 3 (and Larson et al. 2019 for out-of-scope)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from nlp.classifier import Classifier, Prediction


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
    predictions: list[Prediction] = []
    latencies: list[float] = []
    for i, text in enumerate(texts):
        started = time.perf_counter()
        predictions.append(classifier.predict(text))
        latencies.append((time.perf_counter() - started) * 1000.0)
        if progress is not None and (i + 1) % 200 == 0:
            progress(i + 1)
    n = len(texts)
    in_scope = [i for i, g in enumerate(labels) if g != oos]
    out_scope = [i for i, g in enumerate(labels) if g == oos]
    handed = [i for i, p in enumerate(predictions) if p.handoff]
    gold_in = [labels[i] for i in in_scope]
    pred_in = [predictions[i].label for i in in_scope]
    correct = [g == p for g, p in zip(gold_in, pred_in, strict=True)]

    def share(count: int, total: int) -> float | None:
        return round(count / total, 4) if total else None

    return {
        "n": n,
        "n_in_scope": len(in_scope),
        "n_out_of_scope": len(out_scope),
        "accuracy": share(sum(correct), len(in_scope)),
        "macro_f1": round(_macro_f1(gold_in, pred_in), 4) if in_scope else None,
        "in_scope_accuracy": share(
            sum(1 for i, ok in zip(in_scope, correct, strict=True) if ok and not predictions[i].handoff),
            len(in_scope),
        ),
        "oos_recall": share(sum(1 for i in out_scope if predictions[i].handoff), len(out_scope)),
        "oos_precision": share(sum(1 for i in handed if labels[i] == oos), len(handed)),
        "handoff_rate": share(len(handed), n),
        "latency_ms_p50": round(float(np.percentile(latencies, 50)), 4) if latencies else None,
        "latency_ms_p99": round(float(np.percentile(latencies, 99)), 4) if latencies else None,
        "threshold": round(classifier.threshold, 4),
        "margin": round(classifier.margin, 4),
        "model_version": classifier.version,
    }
