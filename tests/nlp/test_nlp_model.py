from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import pytest

import nlp.model as model_module
from nlp.classifier import Classifier, load_classifier
from nlp.dataset import TEST_FILE, shipped_examples
from nlp.model import (
    LinearTextModel,
    ModelFileError,
    TrainConfig,
    TrainResult,
    pipeline_scores,
    softmax,
    train,
)

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


def test_weights_are_stored_as_float32(trained: TrainResult, tmp_path: Path) -> None:
    path = tmp_path / "model.zip"
    trained.model.save(path)
    with zipfile.ZipFile(path) as zf, np.load(io.BytesIO(zf.read("arrays.npz"))) as npz:
        assert {npz[key].dtype for key in npz.files} == {np.dtype(np.float32)}


def test_float64_model_files_still_load(trained: TrainResult) -> None:
    # Files written before weights were float32 hold float64 arrays; they load and score the same.
    arrays = io.BytesIO()
    model = trained.model
    np.savez_compressed(
        arrays,
        word_idf=model.word_idf.astype(np.float64),
        char_idf=model.char_idf.astype(np.float64),
        coef=model.coef.astype(np.float64),
        intercept=model.intercept.astype(np.float64),
    )
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(model.to_bytes())) as src, zipfile.ZipFile(out, "w") as dst:
        for name in src.namelist():
            dst.writestr(name, arrays.getvalue() if name == "arrays.npz" else src.read(name))
    loaded = LinearTextModel.from_bytes(out.getvalue())
    for message in ["lupa password", "zoom ga bisa join", *ODD]:
        assert np.array_equal(loaded.probabilities(message), model.probabilities(message))


def test_training_is_deterministic_with_parallel_fits(monkeypatch: pytest.MonkeyPatch) -> None:
    # liblinear shuffles with a process-global random state: fits run side by side must not share it.
    monkeypatch.setattr(model_module, "PARALLEL_MIN_WORK", 0)
    texts, labels = shipped_examples()
    texts, labels = texts[::3], labels[::3]
    first = train(texts, labels, TrainConfig(jobs=2)).model
    second = train(texts, labels, TrainConfig(jobs=2)).model
    in_process = train(texts, labels, TrainConfig(jobs=1)).model
    assert first.fingerprint() == second.fingerprint() == in_process.fingerprint()
    assert first.calibration == second.calibration == in_process.calibration


def test_labels_with_fewer_rows_than_folds_are_still_calibrated() -> None:
    texts, labels = shipped_examples()
    # One example of a new label: 5-fold calibration still runs (instead of falling back to defaults).
    result = train([*texts, "jadwal shuttle bus kampus"], [*labels, "shuttle"])
    assert result.oof_scores is not None
    assert result.oof_scores.shape == (len(texts) + 1, len(result.model.labels))
    assert result.model.calibration.scale != 5.0
    assert Classifier(result.model).predict("lupa password edunex").label == "reset-password"


def test_near_zero_weights_are_pruned_in_model_and_pipeline(trained: TrainResult) -> None:
    coef = np.abs(trained.model.coef)
    assert not ((coef > 0) & (coef < TrainConfig().prune)).any()
    assert np.array_equal(trained.pipeline.named_steps["clf"].coef_ == 0, trained.model.coef.T == 0)


def test_model_file_without_clarification_fields_loads_with_the_defaults() -> None:
    # Files written before the three-way decision: their calibration has scale, threshold and margin.
    from nlp.classifier import shipped_model_bytes
    from nlp.decision import DEFAULT_CLARIFY_MASS, DEFAULT_CLARIFY_MAX

    source = zipfile.ZipFile(io.BytesIO(shipped_model_bytes()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for name in source.namelist():
            data = source.read(name)
            if name == "meta.json":
                import json

                meta = json.loads(data)
                meta["calibration"] = {k: meta["calibration"][k] for k in ("scale", "threshold", "margin")}
                data = json.dumps(meta).encode()
            target.writestr(name, data)
    model = LinearTextModel.from_bytes(out.getvalue())
    assert (model.calibration.clarify_mass, model.calibration.clarify_max) == (
        DEFAULT_CLARIFY_MASS,
        DEFAULT_CLARIFY_MAX,
    )
    assert Classifier(model).predict("lupa password edunex").label == "reset-password"
