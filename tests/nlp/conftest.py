from __future__ import annotations

import pytest

from nlp.dataset import shipped_examples
from nlp.model import TrainResult, train


@pytest.fixture(scope="session")
def shipped_training() -> tuple[list[str], list[str]]:
    return shipped_examples()


@pytest.fixture(scope="session")
def trained(shipped_training: tuple[list[str], list[str]]) -> TrainResult:
    texts, labels = shipped_training
    return train(texts, labels)
