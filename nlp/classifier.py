"""The classifier the bot calls once per message, and the handoff rule."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from nlp.model import OUT_OF_SCOPE, LinearTextModel, ModelFileError, softmax

log = logging.getLogger(__name__)

SHIPPED_MODEL = "edunex-model.zip"

CONFIDENT = "confident"
LOW_CONFIDENCE = "low_confidence"
AMBIGUOUS = "ambiguous"
OUT_OF_SCOPE_REASON = "out_of_scope"
EMPTY = "empty"


@dataclass(frozen=True, slots=True)
class Prediction:
    label: str
    confidence: float
    top: tuple[tuple[str, float], ...]
    handoff: bool
    reason: str


class Classifier:
    """An exported model plus the handoff rule (confidence threshold + top-2 margin, like Rasa's fallback)."""

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
        self.version: str = version or str(model.meta.get("version") or model.fingerprint())
        self.oos_label = model.oos_label

    def predict(self, text: str) -> Prediction:
        """Never raises: anything odd about the text ends in a handoff, not an exception."""
        try:
            return self._predict(text)
        except Exception:
            # The bot must keep answering; a broken prediction becomes a handoff to a person.
            log.exception("classifier failed on a message (version %s)", self.version)
            return Prediction(
                label=self._fallback_label(), confidence=0.0, top=(), handoff=True, reason=EMPTY
            )

    def _fallback_label(self) -> str:
        in_scope = [label for label in self.labels if label != self.oos_label]
        return in_scope[0] if in_scope else self.labels[0]

    def _predict(self, text: str) -> Prediction:
        if not isinstance(text, str):
            text = "" if text is None else str(text)
        scores, known = self.model.score_text(text)
        probs = softmax(scores * self.model.calibration.scale)
        order = np.argsort(-probs, kind="stable")
        top = tuple((self.labels[i], float(probs[i])) for i in order[:3])
        label, confidence = top[0]
        second = top[1][1] if len(top) > 1 else 0.0
        if not known:
            # Empty text, emoji only, or nothing the model has ever seen: the scores are only priors.
            return Prediction(label=label, confidence=confidence, top=top, handoff=True, reason=EMPTY)
        if label == self.oos_label:
            reason = OUT_OF_SCOPE_REASON
        elif confidence < self.threshold:
            reason = LOW_CONFIDENCE
        elif confidence - second < self.margin:
            reason = AMBIGUOUS
        else:
            reason = CONFIDENT
        return Prediction(
            label=label, confidence=confidence, top=top, handoff=reason != CONFIDENT, reason=reason
        )


def shipped_model_bytes() -> bytes:
    return resources.files("nlp.data").joinpath(SHIPPED_MODEL).read_bytes()


def load_classifier(model_dir: Path | None = None) -> Classifier:
    """The active versioned model under ``model_dir`` if one is activated there, else the shipped model."""
    if model_dir is not None:
        from nlp.store import ModelStore

        active = ModelStore(model_dir).active_path()
        if active is not None:
            try:
                return Classifier(LinearTextModel.load(active))
            except ModelFileError:
                # A damaged active model must not take the bot down; the shipped one still answers.
                log.exception("active model in %s is unreadable; using the shipped model", model_dir)
    return Classifier(LinearTextModel.from_bytes(shipped_model_bytes()))


__all__ = ["OUT_OF_SCOPE", "Classifier", "Prediction", "load_classifier"]
