"""The classifier the bot calls once per message, and its three-way decision (answer / clarify / hand off)."""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from nlp.decision import (
    AMBIGUOUS,
    CONFIDENT,
    EMPTY,
    LOW_CONFIDENCE,
    OUT_OF_SCOPE_REASON,
    Decision,
    Rule,
    decide,
)
from nlp.model import OUT_OF_SCOPE, LinearTextModel, ModelFileError, softmax

log = logging.getLogger(__name__)

SHIPPED_MODEL = "edunex-model.zip"
# How many (label, probability) pairs ``Prediction.top`` carries.
TOP_K = 3


@dataclass(frozen=True, slots=True)
class Prediction:
    """What the classifier makes of one message.

    ``decision`` is the three-way outcome (``nlp.decision``): ANSWER with ``label``'s template, CLARIFY
    by offering ``candidates`` (in-scope labels with their probabilities, most probable first; the right
    one is among them with probability about ``clarify_mass``), or HANDOFF. ``handoff`` is True for
    anything but ANSWER, so a caller that knows no clarification step hands those messages to a person,
    as before. ``reason`` says why (confident, low_confidence, ambiguous, out_of_scope, empty).

    Built with the first five fields only (older callers, test doubles), ``decision`` follows
    ``handoff``.
    """

    label: str
    confidence: float
    top: tuple[tuple[str, float], ...]
    handoff: bool
    reason: str
    decision: Decision = Decision.ANSWER
    candidates: tuple[tuple[str, float], ...] = ()

    def __post_init__(self) -> None:
        if self.handoff and self.decision is Decision.ANSWER:
            object.__setattr__(self, "decision", Decision.HANDOFF)
        if not self.handoff and self.decision is not Decision.ANSWER:
            raise ValueError(f"a {self.decision.value} prediction must have handoff=True")
        if self.candidates and self.decision is not Decision.CLARIFY:
            raise ValueError("only a clarification offers candidates")

    @property
    def out_of_scope(self) -> bool:
        """The message is about something other than the categories (the model's own verdict)."""
        return self.reason == OUT_OF_SCOPE_REASON


class Classifier:
    """An exported model plus the decision rule (``nlp.decision``) chosen with it."""

    def __init__(
        self,
        model: LinearTextModel,
        *,
        threshold: float | None = None,
        margin: float | None = None,
        version: str | None = None,
    ) -> None:
        self.model = model
        self.labels: tuple[str, ...] = model.labels
        self.threshold: float = model.calibration.threshold if threshold is None else threshold
        self.margin: float = model.calibration.margin if margin is None else margin
        self.rule = Rule(
            threshold=self.threshold,
            margin=self.margin,
            clarify_mass=model.calibration.clarify_mass,
            clarify_max=model.calibration.clarify_max,
        )
        self.version: str = version or str(model.meta.get("version") or model.fingerprint())
        self.oos_label = model.oos_label

    @property
    def validation(self) -> dict[str, Any]:
        """The operating point's figures on the held-out (out-of-fold) scores it was chosen on; empty for
        files written before they were recorded. Keys: ``nlp.decision.figures`` plus source, n, folds and
        target_precision."""
        value = self.model.meta.get("validation")
        return dict(value) if isinstance(value, dict) else {}

    def predict(self, text: str, *, exclude: Collection[str] = ()) -> Prediction:
        """Never raises: anything odd about the text ends in a handoff, not an exception.

        ``exclude``: labels that must not be the answer or a candidate (for instance the template the
        person just said did not help); the remaining probabilities are renormalised.
        """
        try:
            return self._predict(text, exclude)
        except Exception:
            # The bot must keep answering; a broken prediction becomes a handoff to a person.
            log.exception("classifier failed on a message (version %s)", self.version)
            return Prediction(
                label=self._fallback_label(), confidence=0.0, top=(), handoff=True, reason=EMPTY
            )

    def _fallback_label(self) -> str:
        in_scope = [label for label in self.labels if label != self.oos_label]
        return in_scope[0] if in_scope else self.labels[0]

    def _predict(self, text: str, exclude: Collection[str]) -> Prediction:
        if not isinstance(text, str):
            text = "" if text is None else str(text)
        scores, known = self.model.score_text(text)
        probs = softmax(scores * self.model.calibration.scale)
        if exclude:
            dropped = [i for i, label in enumerate(self.labels) if label in exclude and label != self.oos_label]
            if dropped:
                probs[dropped] = 0.0
                total = float(probs.sum())
                if total > 0.0:
                    probs = probs / total
        made = decide(probs[None, :], self.labels, self.oos_label, self.rule, np.asarray([known]))
        order = np.argsort(-probs, kind="stable")
        top = tuple((self.labels[i], float(probs[i])) for i in order[:TOP_K])
        label, confidence = top[0]
        decision = Decision(str(made.decision[0]))
        candidates = tuple(
            (self.labels[i], float(probs[i])) for i in made.in_order[0][: int(made.n_candidates[0])]
        )
        return Prediction(
            label=label,
            confidence=confidence,
            top=top,
            handoff=decision is not Decision.ANSWER,
            reason=str(made.reason[0]),
            decision=decision,
            candidates=candidates,
        )


def shipped_model_bytes() -> bytes:
    return resources.files("nlp.data").joinpath(SHIPPED_MODEL).read_bytes()


def _active_path(model_dir: Path | None) -> Path | None:
    if model_dir is None:
        return None
    from nlp.store import ModelStore

    return ModelStore(model_dir).active_path()


def load_classifier(model_dir: Path | None = None) -> Classifier:
    """The active versioned model under ``model_dir`` if one is activated there, else the shipped model."""
    active = _active_path(model_dir)
    if active is not None:
        try:
            return Classifier(LinearTextModel.load(active))
        except ModelFileError:
            # A damaged active model must not take the bot down; the shipped one still answers.
            log.exception("active model in %s is unreadable; using the shipped model", model_dir)
    return Classifier(LinearTextModel.from_bytes(shipped_model_bytes()))


def active_model_meta(model_dir: Path | None = None) -> dict[str, Any]:
    """What the model ``load_classifier`` chooses records about itself, read without loading the model."""
    active = _active_path(model_dir)
    if active is not None:
        try:
            return LinearTextModel.read_meta(active)
        except ModelFileError:
            log.warning("active model in %s is unreadable; the shipped model answers", model_dir)
    return LinearTextModel.read_meta(shipped_model_bytes())


__all__ = [
    "AMBIGUOUS",
    "CONFIDENT",
    "EMPTY",
    "LOW_CONFIDENCE",
    "OUT_OF_SCOPE",
    "OUT_OF_SCOPE_REASON",
    "Classifier",
    "Decision",
    "Prediction",
    "load_classifier",
]
