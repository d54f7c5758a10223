"""Text normalisation, the message classifier and its three-way decision, dialogue acts, language
detection, and the seed data.

Stands alone: imports nothing else of carecenter. Entry points for the bot:

- ``nlp.acts.read(text) -> Reading``: what the message does (greeting, thanks, ..., question) and,
  for a question, the text to classify;
- ``Classifier.predict(text, exclude=...) -> Prediction``: the category and the decision (answer,
  clarify with candidates, hand off);
- ``nlp.language.detect_language(text) -> "id" | "en" | None``.
"""

from nlp.acts import Act, Reading
from nlp.classifier import Classifier, Prediction, load_classifier
from nlp.dataset import SeedTemplate, seed_templates
from nlp.decision import Decision
from nlp.language import detect_language
from nlp.model import OUT_OF_SCOPE
from nlp.normalize import normalize

__all__ = [
    "OUT_OF_SCOPE",
    "Act",
    "Classifier",
    "Decision",
    "Prediction",
    "Reading",
    "SeedTemplate",
    "detect_language",
    "load_classifier",
    "normalize",
    "seed_templates",
]
