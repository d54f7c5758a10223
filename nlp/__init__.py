"""Text normalisation, the message classifier and its handoff rule, and the seed data.

Stands alone: imports nothing else of carecenter.
"""

from nlp.classifier import Classifier, Prediction, load_classifier
from nlp.dataset import SeedTemplate, seed_templates
from nlp.model import OUT_OF_SCOPE
from nlp.normalize import normalize

__all__ = [
    "OUT_OF_SCOPE",
    "Classifier",
    "Prediction",
    "SeedTemplate",
    "load_classifier",
    "normalize",
    "seed_templates",
]
