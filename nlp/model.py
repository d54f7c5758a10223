"""Training, the exported linear model, its fast single-message path, and the model file format.

Why a hand-rolled inference path: a scikit-learn ``Pipeline.predict`` on one string costs ~3-4 ms, almost
all of it per-call validation overhead. The model is linear (TF-IDF features, one weight matrix), so
scoring one message is: n-grams -> dictionary look-ups -> sublinear tf * idf -> l2 norm -> a few hundred
rows of the weight matrix summed. That is tens of microseconds in plain Python + numpy.

Why this file format: a zip holding ``meta.json``, the vocabularies as JSON lists and the numeric arrays
as ``.npz`` loaded with ``allow_pickle=False``. It survives scikit-learn upgrades (nothing of
scikit-learn is stored) and loading it cannot execute code, unlike a pickle or joblib dump.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import zipfile
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import repeat
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from nlp.decision import (
    DEFAULT_CLARIFY_MASS,
    DEFAULT_CLARIFY_MAX,
    DEFAULT_MARGINS,
    DEFAULT_TARGET_PRECISION,
    Rule,
    batch_figures,
    choose_rule,
)
from nlp.features import FeatureSpec, char_wb_ngrams, word_ngrams
from nlp.normalize import DEFAULT_STEPS, make_normalizer

FORMAT = "carecenter-linear-text-model"
FORMAT_VERSION = 1
OUT_OF_SCOPE = "out_of_scope"
# Beyond this many characters a message is a pasted log or essay; the first part is where people state
# the problem, and the cap keeps the worst-case latency bounded.
DEFAULT_MAX_CHARS = 2000
# Rows x labels below which training fits its classifiers in-process (the Edunex data: ~700 x 14).
PARALLEL_MIN_WORK = 200_000

FloatArray = npt.NDArray[np.float64]
# Weights and idf are stored (and held in memory) as float32: half the file and the memory of float64,
# and the scores still match the float64 scikit-learn pipeline to ~1e-7 because the fast path sums in
# float64. A weight's float32 rounding error (~6e-8 relative) is far below anything the rule can see.
WeightArray = npt.NDArray[np.float32]


class ModelFileError(ValueError):
    """The model file is missing, corrupt, or of a format this code does not read."""


@dataclass(frozen=True, slots=True)
class TrainConfig:
    steps: tuple[str, ...] = DEFAULT_STEPS
    spec: FeatureSpec = field(default_factory=FeatureSpec)
    # Chosen by 5-fold CV on the Edunex training file (3,021 rows): C = 1.0 gave 91.3 % against 91.0 % at
    # 0.6 and 91.3 % at 2.0 (benchmarks/results-nlp.md); the benchmarks choose their own.
    c: float = 1.0
    # None or "balanced" (scikit-learn's class_weight): balanced helps when some labels have few rows.
    class_weight: str | None = None
    # Weights smaller than this are set to exactly zero in the final model (and in the pipeline kept
    # for the agreement test, so the two still agree). On CLINC150's val split 3e-3 left the accuracy
    # unchanged and cut the model file by a quarter (zeros compress away).
    prune: float = 0.003
    # The operating point (nlp.decision): answer only where the out-of-fold precision of answered
    # messages reaches this; offer up to ``clarify_max`` choices holding ``clarify_mass`` of the
    # probability otherwise.
    target_precision: float = DEFAULT_TARGET_PRECISION
    clarify_mass: float = DEFAULT_CLARIFY_MASS
    clarify_max: int = DEFAULT_CLARIFY_MAX
    margins: tuple[float, ...] = DEFAULT_MARGINS
    folds: int = 5
    seed: int = 13
    oos_label: str = OUT_OF_SCOPE
    max_chars: int = DEFAULT_MAX_CHARS
    # Worker processes for the calibration folds and the final fit (the target machine has two cores).
    jobs: int = 2


@dataclass(frozen=True, slots=True)
class Calibration:
    """How raw scores become probabilities and the decision rule's parameters, fitted on held-out scores."""

    scale: float
    threshold: float
    margin: float
    clarify_mass: float = DEFAULT_CLARIFY_MASS
    clarify_max: int = DEFAULT_CLARIFY_MAX

    @property
    def rule(self) -> Rule:
        return Rule(
            threshold=self.threshold,
            margin=self.margin,
            clarify_mass=self.clarify_mass,
            clarify_max=self.clarify_max,
        )

    def to_json(self) -> dict[str, float | int]:
        return {
            "scale": self.scale,
            "threshold": self.threshold,
            "margin": self.margin,
            "clarify_mass": self.clarify_mass,
            "clarify_max": self.clarify_max,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Calibration:
        # Files written before the clarification step have no clarify_* fields: the defaults apply.
        return cls(
            scale=float(data["scale"]),
            threshold=float(data["threshold"]),
            margin=float(data["margin"]),
            clarify_mass=float(data.get("clarify_mass", DEFAULT_CLARIFY_MASS)),
            clarify_max=int(data.get("clarify_max", DEFAULT_CLARIFY_MAX)),
        )


class LinearTextModel:
    """An exported TF-IDF + linear model: pure numpy, no scikit-learn needed at inference time."""

    def __init__(
        self,
        *,
        labels: Sequence[str],
        spec: FeatureSpec,
        steps: Sequence[str],
        word_vocab: Sequence[str],
        char_vocab: Sequence[str],
        word_idf: npt.ArrayLike,
        char_idf: npt.ArrayLike,
        coef: npt.ArrayLike,
        intercept: npt.ArrayLike,
        calibration: Calibration,
        oos_label: str = OUT_OF_SCOPE,
        max_chars: int = DEFAULT_MAX_CHARS,
        meta: dict[str, Any] | None = None,
    ) -> None:
        n_word, n_char = len(word_vocab), len(char_vocab)
        word_idf = np.ascontiguousarray(word_idf, dtype=np.float32)
        char_idf = np.ascontiguousarray(char_idf, dtype=np.float32)
        coef = np.ascontiguousarray(coef, dtype=np.float32)
        intercept = np.ascontiguousarray(intercept, dtype=np.float32)
        if coef.shape != (n_word + n_char, len(labels)) or intercept.shape != (len(labels),):
            raise ModelFileError("model arrays do not match the vocabulary and label list")
        if word_idf.shape != (n_word,) or char_idf.shape != (n_char,):
            raise ModelFileError("idf arrays do not match the vocabularies")
        self.labels = tuple(labels)
        self.spec = spec
        self.steps = tuple(steps)
        self.word_vocab = tuple(word_vocab)
        self.char_vocab = tuple(char_vocab)
        self.word_idf: WeightArray = word_idf
        self.char_idf: WeightArray = char_idf
        self.coef: WeightArray = coef
        self.intercept: WeightArray = intercept
        self.calibration = calibration
        self.oos_label = oos_label
        self.max_chars = max_chars
        self.meta: dict[str, Any] = dict(meta or {})
        self._normalize = make_normalizer(self.steps)
        self._word_index = {term: i for i, term in enumerate(self.word_vocab)}
        # Character columns follow the word columns in the weight matrix.
        self._char_index = {term: n_word + i for i, term in enumerate(self.char_vocab)}
        self._idf64: FloatArray = np.concatenate([word_idf, char_idf]).astype(np.float64)
        self._intercept64: FloatArray = intercept.astype(np.float64)

    # -- the fast path -------------------------------------------------------------------------------
    def prepare(self, text: str) -> str:
        return self._normalize(text[: self.max_chars])

    def _block(self, grams: list[str], index: dict[str, int]) -> tuple[npt.NDArray[np.intp], FloatArray]:
        # Counting, look-ups and arithmetic all run in C (Counter, map, numpy): a Python loop per n-gram
        # was most of the latency of a long message.
        counts = Counter(grams)
        n_distinct = len(counts)
        cols = np.fromiter(map(index.get, counts, repeat(-1, n_distinct)), dtype=np.intp, count=n_distinct)
        tf = np.fromiter(counts.values(), dtype=np.float64, count=n_distinct)
        known = cols >= 0
        cols, tf = cols[known], tf[known]
        # Sublinear tf (1 + ln count) times idf, then each block l2-normalised, exactly as the
        # TfidfVectorizer pair inside the training pipeline does.
        weights: FloatArray = (1.0 + np.log(tf)) * self._idf64[cols]
        norm = math.sqrt(float(weights @ weights))
        if norm > 0.0:
            weights /= norm
        return cols, weights

    def scores(self, text: str) -> FloatArray:
        """Raw decision scores for one message (same numbers as the pipeline's ``decision_function``)."""
        return self.score_text(text)[0]

    def score_text(self, text: str) -> tuple[FloatArray, bool]:
        """Scores, and whether any n-gram of the message is known (if not, the scores are just priors)."""
        prepared = self.prepare(text)
        spec = self.spec
        cols, weights = self._block(word_ngrams(prepared, spec.word_min, spec.word_max), self._word_index)
        if spec.use_char:
            c_cols, c_weights = self._block(char_wb_ngrams(prepared, spec.char_min, spec.char_max), self._char_index)
            cols = np.concatenate([cols, c_cols])
            weights = np.concatenate([weights, c_weights])
        if not len(cols):
            return self._intercept64.copy(), False
        # float64 accumulation over float32 weights (numpy promotes the gathered rows).
        result: FloatArray = weights @ self.coef[cols] + self._intercept64
        return result, True

    def probabilities(self, text: str) -> FloatArray:
        return softmax(self.scores(text) * self.calibration.scale)

    # -- file format --------------------------------------------------------------------------------
    def to_bytes(self) -> bytes:
        arrays = io.BytesIO()
        np.savez_compressed(
            arrays,
            word_idf=self.word_idf,
            char_idf=self.char_idf,
            coef=self.coef,
            intercept=self.intercept,
        )
        meta = {
            **self.meta,
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "labels": list(self.labels),
            "oos_label": self.oos_label,
            "spec": self.spec.to_json(),
            "steps": list(self.steps),
            "max_chars": self.max_chars,
            "calibration": self.calibration.to_json(),
        }
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("meta.json", json.dumps(meta, ensure_ascii=False, indent=1, sort_keys=True))
            zf.writestr("word_vocab.json", json.dumps(list(self.word_vocab), ensure_ascii=False))
            zf.writestr("char_vocab.json", json.dumps(list(self.char_vocab), ensure_ascii=False))
            zf.writestr("arrays.npz", arrays.getvalue(), compress_type=zipfile.ZIP_STORED)
        return out.getvalue()

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Write then rename, so a crash never leaves a half-written model where the bot looks for one.
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(self.to_bytes())
        tmp.replace(path)

    @classmethod
    def from_bytes(cls, data: bytes) -> LinearTextModel:
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as zf:
                meta = json.loads(zf.read("meta.json"))
                word_vocab = json.loads(zf.read("word_vocab.json"))
                char_vocab = json.loads(zf.read("char_vocab.json"))
                with np.load(io.BytesIO(zf.read("arrays.npz")), allow_pickle=False) as npz:
                    # Files written before float32 weights hold float64; both load as float32.
                    arrays = {key: np.asarray(npz[key], dtype=np.float32) for key in npz.files}
        except (zipfile.BadZipFile, KeyError, json.JSONDecodeError, ValueError, OSError, EOFError) as exc:
            raise ModelFileError(f"not a readable model file: {exc}") from exc
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise ModelFileError("not a carecenter model file")
        if meta.get("format_version") != FORMAT_VERSION:
            raise ModelFileError(f"unsupported model format version {meta.get('format_version')!r}")
        try:
            return cls(
                labels=[str(x) for x in meta["labels"]],
                spec=FeatureSpec.from_json(meta["spec"]),
                steps=[str(x) for x in meta["steps"]],
                word_vocab=[str(x) for x in word_vocab],
                char_vocab=[str(x) for x in char_vocab],
                word_idf=arrays["word_idf"],
                char_idf=arrays["char_idf"],
                coef=arrays["coef"],
                intercept=arrays["intercept"],
                calibration=Calibration.from_json(meta["calibration"]),
                oos_label=str(meta.get("oos_label", OUT_OF_SCOPE)),
                max_chars=int(meta.get("max_chars", DEFAULT_MAX_CHARS)),
                meta={k: v for k, v in meta.items() if k in _KEPT_META},
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelFileError(f"model file is incomplete: {exc}") from exc

    @staticmethod
    def read_meta(source: Path | bytes) -> dict[str, Any]:
        """What a model file records about itself (version, training, figures), without loading its arrays."""
        try:
            with zipfile.ZipFile(io.BytesIO(source) if isinstance(source, bytes) else source) as zf:
                meta = json.loads(zf.read("meta.json"))
        except (zipfile.BadZipFile, KeyError, json.JSONDecodeError, ValueError, OSError) as exc:
            raise ModelFileError(f"not a readable model file: {exc}") from exc
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise ModelFileError("not a carecenter model file")
        return {k: v for k, v in meta.items() if k in _KEPT_META}

    @classmethod
    def load(cls, path: Path) -> LinearTextModel:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ModelFileError(f"cannot read model file {path}: {exc}") from exc
        return cls.from_bytes(data)

    def fingerprint(self) -> str:
        digest = hashlib.sha256()
        for array in (self.word_idf, self.char_idf, self.coef, self.intercept):
            digest.update(np.ascontiguousarray(array).tobytes())
        digest.update("\n".join(self.labels + self.word_vocab + self.char_vocab).encode())
        return digest.hexdigest()[:12]


# The model's figures on a held-out set (``nlp.evaluate.held_out_record``), written when it was evaluated
# (``nlp eval --record``, ``nlp train --held-out``) or retrained, so the console shows them without
# evaluating anything.
HELD_OUT = "held_out"
_KEPT_META = {"version", "trained_at", "n_train", "train_seconds", "validation", HELD_OUT}


def softmax(scores: FloatArray) -> FloatArray:
    shifted = scores - np.max(scores, axis=-1, keepdims=True)
    exp = np.exp(shifted)
    result: FloatArray = exp / np.sum(exp, axis=-1, keepdims=True)
    return result


# -- training ---------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class TrainResult:
    model: LinearTextModel
    # The scikit-learn pipeline the model was exported from, kept for the agreement test and debugging.
    pipeline: Any
    # Each training row's scores from the calibration fold that did not see it (None: too little data),
    # so a caller can re-choose the rule's operating point without training again.
    oof_scores: FloatArray | None = None


Progress = Callable[[str], None]


def _noop(_: str) -> None:
    return None


def build_features(config: TrainConfig) -> Any:
    """The (unfitted) TF-IDF feature union: word n-grams, plus char_wb n-grams unless switched off."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import FeatureUnion

    from nlp.features import char_analyzer, word_analyzer

    parts: list[tuple[str, Any]] = [
        ("word", TfidfVectorizer(analyzer=word_analyzer(config.spec), sublinear_tf=True, dtype=np.float64))
    ]
    if config.spec.use_char:
        parts.append(
            (
                "char",
                TfidfVectorizer(analyzer=char_analyzer(config.spec), sublinear_tf=True, dtype=np.float64),
            )
        )
    return FeatureUnion(parts)


def build_classifier(config: TrainConfig) -> Any:
    from sklearn.svm import LinearSVC

    # LinearSVC (one-vs-rest hinge) is the strongest of the linear models compared on the validation
    # splits (multinomial logistic regression, SGD with modified Huber loss, word/char models averaged
    # in probability space: all within noise of it or below, and slower); see benchmarks/results-nlp.md.
    # Its margins become probabilities through a softmax scale fitted on out-of-fold scores.
    return LinearSVC(C=config.c, class_weight=config.class_weight, random_state=config.seed)


def build_pipeline(config: TrainConfig) -> Any:
    from sklearn.pipeline import Pipeline

    return Pipeline([("features", build_features(config)), ("clf", build_classifier(config))])


def _check_training_set(labels: Sequence[str]) -> None:
    if len(set(labels)) < 2:
        raise ValueError("training data needs at least two different labels")


def train(
    texts: Sequence[str],
    labels: Sequence[str],
    config: TrainConfig | None = None,
    *,
    progress: Progress = _noop,
) -> TrainResult:
    """Train, calibrate on out-of-fold scores, then refit on everything and export.

    The TF-IDF vocabulary and idf are fitted once on all rows (they never see a label), so the
    calibration folds and the final model share one feature matrix and only the classifier is fitted
    per fold; the fits run in ``config.jobs`` worker processes. The final model is the classifier refitted on
    all rows, with the scale and the operating point (``nlp.decision``) chosen on the folds'
    out-of-fold scores; the operating point's figures on those scores are kept in ``meta["validation"]``
    (refitting on all rows instead of averaging the fold models: see benchmarks/results-nlp.md).
    """
    import time

    from sklearn.pipeline import Pipeline

    config = config or TrainConfig()
    _check_training_set(labels)
    started = time.perf_counter()
    normalizer = make_normalizer(config.steps)
    prepared = [normalizer(t[: config.max_chars]) for t in texts]
    y = np.asarray(labels)
    classes = sorted(set(labels))

    progress("extracting features")
    features = build_features(config)
    matrix = features.fit_transform(prepared).tocsr()
    final, oof = fit_with_out_of_fold(matrix, y, classes, config, progress=progress)
    calibration = calibrate(oof, y, classes, config) if oof is not None else _uncalibrated(config)
    if config.prune > 0.0:
        final.coef_[np.abs(final.coef_) < config.prune] = 0.0
    pipeline = Pipeline([("features", features), ("clf", final)])
    model = export(pipeline, config, calibration)
    model.meta.update(
        {
            "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "n_train": len(prepared),
            "train_seconds": round(time.perf_counter() - started, 2),
        }
    )
    if oof is not None:
        # The operating point's figures on the out-of-fold scores it was chosen on, kept in the file
        # so that the console can show what the active model promised.
        model.meta["validation"] = {
            "source": "out-of-fold",
            "folds": config.folds,
            "n": len(prepared),
            "target_precision": config.target_precision,
            **held_out_figures(oof, list(labels), classes, calibration, config.oos_label),
        }
    model.meta["version"] = model.fingerprint()
    return TrainResult(model=model, pipeline=pipeline, oof_scores=oof)


def fit_with_out_of_fold(
    matrix: Any,
    y: npt.NDArray[Any],
    classes: Sequence[str],
    config: TrainConfig,
    *,
    progress: Progress = _noop,
) -> tuple[Any, FloatArray | None]:
    """The classifier fitted on all rows, and each row's scores from a fold model that did not see it.

    The out-of-fold scores are None when there is too little data for two folds. A label with fewer
    rows than folds is missing from some fold models; its column there gets a score below every other
    label's, so those rows count as the misses they would be.
    """
    import warnings

    from joblib import Parallel, delayed
    from sklearn.model_selection import StratifiedKFold

    n_rows = len(y)
    folds = min(config.folds, n_rows // 2)
    splits: list[tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]] = []
    if folds >= 2:
        splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=config.seed)
        with warnings.catch_warnings():
            # "The least populated class has only n members": handled as described above.
            warnings.simplefilter("ignore", UserWarning)
            splits = [
                (fit_idx, held_idx)
                for fit_idx, held_idx in splitter.split(np.zeros(n_rows), y)
                if len(set(y[fit_idx])) >= 2
            ]
    jobs = [np.arange(n_rows)] + [fit_idx for fit_idx, _ in splits]
    # Worker processes, not threads: liblinear shuffles with the C library's global random state, so
    # two fits running side by side in one process disturb each other's order and the model would
    # differ from run to run. Small problems are fitted in-process (a worker costs ~1 s to start).
    workers = max(1, config.jobs) if n_rows * len(classes) >= PARALLEL_MIN_WORK else 1
    progress(f"fitting the final model and {len(splits)} calibration folds ({workers} worker(s))")
    fitted: list[Any] = []
    results = Parallel(n_jobs=workers, backend="loky" if workers > 1 else "sequential", return_as="generator")(
        delayed(_fit_classifier)(config, matrix, y, rows) for rows in jobs
    )
    for clf in results:
        fitted.append(clf)
        progress(f"fitted {len(fitted)}/{len(jobs)}")
    final = fitted[0]
    if not splits:
        return final, None
    scores = np.zeros((n_rows, len(classes)))
    for clf, (_, held_idx) in zip(fitted[1:], splits, strict=True):
        scores[held_idx] = classifier_scores(clf, matrix[held_idx], classes)
    return final, scores


def _fit_classifier(config: TrainConfig, matrix: Any, y: npt.NDArray[Any], rows: npt.NDArray[np.intp]) -> Any:
    return build_classifier(config).fit(matrix[rows], y[rows])


def classifier_scores(clf: Any, matrix: Any, classes: Sequence[str]) -> FloatArray:
    """Decision scores with one column per label of ``classes``; labels the model lacks score lowest."""
    raw = np.asarray(clf.decision_function(matrix), dtype=np.float64)
    fitted = [str(c) for c in clf.classes_]
    if raw.ndim == 1:
        raw = np.column_stack([-raw, raw])
    result = np.empty((raw.shape[0], len(classes)))
    floor = raw.min(axis=1) - 1.0
    for j, label in enumerate(classes):
        result[:, j] = raw[:, fitted.index(label)] if label in fitted else floor
    return result


def pipeline_scores(pipeline: Any, prepared: Sequence[str], classes: Sequence[str]) -> FloatArray:
    """The pipeline's decision scores, one column per class of ``classes`` (binary case widened)."""
    raw = np.asarray(pipeline.decision_function(list(prepared)), dtype=np.float64)
    fitted = [str(c) for c in pipeline.classes_]
    if raw.ndim == 1:
        raw = np.column_stack([-raw, raw])
    result: FloatArray = raw[:, [fitted.index(c) for c in classes]]
    return result


def _uncalibrated(config: TrainConfig) -> Calibration:
    return Calibration(
        scale=5.0,
        threshold=0.5,
        margin=config.margins[0] if config.margins else 0.0,
        clarify_mass=config.clarify_mass,
        clarify_max=config.clarify_max,
    )


def fit_scale(scores: FloatArray, y_idx: npt.NDArray[np.intp]) -> float:
    """Softmax temperature minimising the negative log-likelihood of held-out scores (golden section)."""
    rows = np.arange(len(y_idx))

    def nll(log_scale: float) -> float:
        p = softmax(scores * math.exp(log_scale))
        return float(-np.mean(np.log(np.clip(p[rows, y_idx], 1e-12, None))))

    lo, hi = math.log(0.1), math.log(500.0)
    ratio = (math.sqrt(5) - 1) / 2
    a, b = hi - ratio * (hi - lo), lo + ratio * (hi - lo)
    fa, fb = nll(a), nll(b)
    for _ in range(60):
        if fa < fb:
            hi, b, fb = b, a, fa
            a = hi - ratio * (hi - lo)
            fa = nll(a)
        else:
            lo, a, fa = a, b, fb
            b = lo + ratio * (hi - lo)
            fb = nll(b)
    return math.exp((lo + hi) / 2)


def calibrate(scores: FloatArray, y: npt.NDArray[Any], classes: Sequence[str], config: TrainConfig) -> Calibration:
    """The softmax scale, then the operating point of ``nlp.decision.choose_rule``, both on held-out scores."""
    index = {c: i for i, c in enumerate(classes)}
    y_idx = np.asarray([index[label] for label in y], dtype=np.intp)
    scale = fit_scale(scores, y_idx)
    rule, _ = choose_rule(
        softmax(scores * scale),
        list(y),
        classes,
        config.oos_label,
        target_precision=config.target_precision,
        margins=config.margins,
        clarify_mass=config.clarify_mass,
        clarify_max=config.clarify_max,
    )
    return Calibration(
        scale=scale,
        threshold=rule.threshold,
        margin=rule.margin,
        clarify_mass=rule.clarify_mass,
        clarify_max=rule.clarify_max,
    )


def held_out_figures(
    scores: FloatArray, y: Sequence[str], classes: Sequence[str], calibration: Calibration, oos_label: str
) -> dict[str, float | None]:
    """The decision's figures on held-out scores (what the model file records as its validation)."""
    return batch_figures(softmax(scores * calibration.scale), y, classes, oos_label, calibration.rule)


def export(pipeline: Any, config: TrainConfig, calibration: Calibration) -> LinearTextModel:
    features = pipeline.named_steps["features"]
    clf = pipeline.named_steps["clf"]
    vectorizers = dict(features.transformer_list)

    def vocab(name: str) -> tuple[list[str], FloatArray]:
        if name not in vectorizers:
            return [], np.zeros(0)
        vec = vectorizers[name]
        terms = [""] * len(vec.vocabulary_)
        for term, col in vec.vocabulary_.items():
            terms[col] = term
        return terms, np.asarray(vec.idf_, dtype=np.float64)

    word_vocab, word_idf = vocab("word")
    char_vocab, char_idf = vocab("char")
    coef = np.asarray(clf.coef_, dtype=np.float64)
    intercept = np.asarray(clf.intercept_, dtype=np.float64)
    labels = [str(c) for c in clf.classes_]
    if len(labels) == 2:
        # Binary LinearSVC keeps one weight vector for the positive class; give each class its own.
        coef = np.vstack([-coef[0], coef[0]])
        intercept = np.asarray([-intercept[0], intercept[0]])
    return LinearTextModel(
        labels=labels,
        spec=config.spec,
        steps=config.steps,
        word_vocab=word_vocab,
        char_vocab=char_vocab,
        word_idf=word_idf,
        char_idf=char_idf,
        coef=np.ascontiguousarray(coef.T),
        intercept=intercept,
        calibration=calibration,
        oos_label=config.oos_label,
        max_chars=config.max_chars,
    )
