from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest

from nlp.classifier import Classifier, load_classifier
from nlp.dataset import TEST_FILE, shipped_examples
from nlp.model import LinearTextModel, ModelFileError, TrainResult, pipeline_scores, softmax

ODD = [
    "",
    "🙏",
    "x" * 5000,
    "NIM 13521045 gk bisa login!!",
    "これは日本語",
    "UPLOAD TUGAS ERROR 500 https://x.id",
]


def _messages(training: tuple[list[str], list[str]]) -> list[str]:
    return training[0] + shipped_examples(TEST_FILE)[0] + ODD


def test_fast_path_agrees_with_sklearn_pipeline(
    trained: TrainResult, shipped_training: tuple[list[str], list[str]]
) -> None:
    model = trained.model
    messages = _messages(shipped_training)
    prepared = [model.prepare(m) for m in messages]
    expected = softmax(pipeline_scores(trained.pipeline, prepared, model.labels) * model.calibration.scale)
    actual = np.vstack([model.probabilities(m) for m in messages])
    # Weights are stored as float32 (half the size); the fast path still sums in float64.
    assert np.abs(actual - expected).max() < 1e-5
    assert list(actual.argmax(axis=1)) == list(expected.argmax(axis=1))


def test_save_load_round_trip(trained: TrainResult, tmp_path: Path) -> None:
    path = tmp_path / "model.zip"
    trained.model.save(path)
    loaded = LinearTextModel.load(path)
    assert loaded.labels == trained.model.labels
    assert loaded.calibration == trained.model.calibration
    assert loaded.fingerprint() == trained.model.fingerprint()
    for message in ["lupa password", "zoom ga bisa join", *ODD]:
        assert np.array_equal(loaded.probabilities(message), trained.model.probabilities(message))


def test_model_file_holds_no_pickle(trained: TrainResult, tmp_path: Path) -> None:
    path = tmp_path / "model.zip"
    trained.model.save(path)
    with zipfile.ZipFile(path) as zf:
        assert sorted(zf.namelist()) == ["arrays.npz", "char_vocab.json", "meta.json", "word_vocab.json"]


def test_shipped_model_is_small() -> None:
    shipped = Path(__file__).resolve().parents[2] / "nlp" / "data" / "edunex-model.zip"
    assert shipped.stat().st_size <= 5 * 1024 * 1024


def test_retraining_on_shipped_data_reproduces_shipped_model(trained: TrainResult) -> None:
    shipped = load_classifier()
    retrained = Classifier(trained.model)
    texts = shipped_examples(TEST_FILE)[0] + shipped_examples()[0][::5]
    for text in texts:
        a, b = shipped.predict(text), retrained.predict(text)
        assert (a.label, a.handoff, a.reason) == (b.label, b.handoff, b.reason)
        assert a.confidence == pytest.approx(b.confidence, abs=1e-6)


@pytest.mark.parametrize("payload", [b"", b"not a zip", b"PK\x03\x04garbage"])
def test_corrupt_model_file_is_a_clear_error(payload: bytes) -> None:
    with pytest.raises(ModelFileError):
        LinearTextModel.from_bytes(payload)


def test_model_from_another_format_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("meta.json", '{"format": "something-else"}')
        zf.writestr("word_vocab.json", "[]")
        zf.writestr("char_vocab.json", "[]")
        zf.writestr("arrays.npz", b"")
    with pytest.raises(ModelFileError):
        LinearTextModel.load(path)
