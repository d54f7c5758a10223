"""The whole app served on 127.0.0.1 for the supervisor pages, on a chosen database, with tiny NLP data."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

from bot.config import Settings
from nlp.dataset import read_examples
from nlp.model import HELD_OUT, TrainConfig, train
from nlp.store import ModelStore
from tests.handoff.console.conftest import Served, serve_console

DATA = Path(__file__).parent / "data"
TINY_TRAIN = DATA / "tiny-train.csv"
TINY_TEST = DATA / "tiny-test.csv"


def seed_model(model_dir: Path, *, held_out: dict[str, Any] | None = None) -> str:
    """Activate a model trained on the tiny file, so a retrain compares like with like (and fast).

    ``held_out``: the held-out figures its file records (as ``nlp eval --record`` writes them)."""
    texts, labels = read_examples(TINY_TRAIN)
    store = ModelStore(model_dir)
    model = train(texts, labels, TrainConfig()).model
    if held_out is not None:
        model.meta[HELD_OUT] = held_out
    version = store.save(model, note="seed")
    store.activate(version)
    return version


def serve(tmp_path: Path, *, database_url: str = "") -> AbstractAsyncContextManager[Served]:
    """The console app on a chosen database, retraining from the tiny NLP files."""
    settings = Settings(data_dir=tmp_path, database_url=database_url, nlp_train_data=TINY_TRAIN,
                        nlp_test_data=TINY_TEST)
    return serve_console(tmp_path, settings)
