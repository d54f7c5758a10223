"""Benchmark the nlp classifier on CLINC150, BANKING77 and xSID-id, plus the Edunex choices (validation only).

Usage: python benchmarks/nlp_bench.py [--ablation] [--no-test] [--datasets ../shared/datasets]
                                      [--out benchmarks/results-nlp.md]

Protocol: every choice (normalisation steps, C, class weights, CLINC150's operating point, the Edunex
operating point) is made on validation data carved from the training data (BANKING77: 15 % of train;
CLINC150: its own val split; xSID-id: CV on its only training file; Edunex: CV and nested CV on the
training file plus the validation file ``nlp/data/edunex-test.csv``); each test split is used once, for
the final figures. ``--no-test`` runs everything but the test splits (to check the script). The held-out
Edunex set (``nlp/data/edunex-heldout.csv``) is not read here: its figures come from one run of
``carecenter nlp eval`` saved in ``benchmarks/results-heldout.json``, which the report quotes. The
datasets are read in place and never copied into the repository.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import re
import sys
import time
import warnings
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
from joblib import Parallel, delayed

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from nlp.acts import read as read_acts  # noqa: E402
from nlp.classifier import Classifier, load_classifier  # noqa: E402
from nlp.dataset import TEST_FILE, shipped_examples  # noqa: E402
from nlp.decision import DEFAULT_TARGET_PRECISION, TARGET_COVERAGE, TARGET_PRECISION, batch_figures  # noqa: E402
from nlp.evaluate import classify_all, evaluate, score  # noqa: E402
from nlp.model import LinearTextModel, TrainConfig, build_pipeline, calibrate, softmax, train  # noqa: E402
from nlp.normalize import DEFAULT_STEPS, SLANG, STEP_ORDER, make_normalizer  # noqa: E402

MINIMAL = ("lower", "punct")
C_GRID = (0.3, 0.6, 1.0, 2.0)
# Operating points tried for CLINC150: the out-of-fold precision of answered messages the rule is chosen
# for (two-way, answer or reject, as in the published figures: no clarification step); the one kept is
# the best in-scope accuracy on CLINC150's val split among those with val out-of-scope recall >= 80 %
# (the target), so the test split is still used once.
CLINC_TARGETS = (0.90, 0.93, 0.95, 0.97, 0.98, 0.99)
OOS_RECALL_GOAL = 0.80


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def read_csv(path: Path, text: str, label: str) -> tuple[list[str], list[str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    return [r[text] for r in rows], [r[label] for r in rows]


def split(texts: Sequence[str], labels: Sequence[str], share: float, seed: int = 0):  # type: ignore[no-untyped-def]
    from sklearn.model_selection import train_test_split

    return train_test_split(list(texts), list(labels), test_size=share, random_state=seed, stratify=list(labels))


def val_accuracy(config: TrainConfig, fit: tuple[list[str], list[str]], val: tuple[list[str], list[str]]) -> float:
    norm = make_normalizer(config.steps)
    pipe = build_pipeline(config).fit([norm(t) for t in fit[0]], fit[1])
    predicted = pipe.predict([norm(t) for t in val[0]])
    return float(np.mean(predicted == np.asarray(val[1])))


def cv_accuracy(config: TrainConfig, texts: list[str], labels: list[str], folds: int, repeats: int = 1) -> float:
    from sklearn.model_selection import RepeatedStratifiedKFold

    norm = make_normalizer(config.steps)
    prepared = np.asarray([norm(t) for t in texts], dtype=object)
    y = np.asarray(labels)
    hits = []
    splitter = RepeatedStratifiedKFold(n_splits=folds, n_repeats=repeats, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # labels with fewer rows than folds
        for fit_idx, held_idx in splitter.split(prepared, y):
            pipe = build_pipeline(config).fit(list(prepared[fit_idx]), y[fit_idx])
            hits.append(float(np.mean(pipe.predict(list(prepared[held_idx])) == y[held_idx])))
    return float(np.mean(hits))


def cv_scores(config: TrainConfig, texts: list[str], labels: list[str], folds: int = 5) -> tuple[float, float]:
    from sklearn.metrics import f1_score
    from sklearn.model_selection import StratifiedKFold

    norm = make_normalizer(config.steps)
    prepared = np.asarray([norm(t) for t in texts], dtype=object)
    y = np.asarray(labels)
    predicted = np.empty(len(y), dtype=object)
    for fit_idx, held_idx in StratifiedKFold(folds, shuffle=True, random_state=0).split(prepared, y):
        pipe = build_pipeline(config).fit(list(prepared[fit_idx]), y[fit_idx])
        predicted[held_idx] = pipe.predict(list(prepared[held_idx]))
    return float(np.mean(predicted == y)), float(f1_score(y, predicted.astype(str), average="macro"))


def grid(oos_label: str, weights: Sequence[str | None], folds: int = 5) -> list[TrainConfig]:
    return [
        TrainConfig(steps=steps, c=c, class_weight=cw, oos_label=oos_label, folds=folds)
        for steps in (MINIMAL, DEFAULT_STEPS)
        for c in C_GRID
        for cw in weights
    ]


def describe(config: TrainConfig) -> str:
    weight = f", class_weight={config.class_weight}" if config.class_weight else ""
    return f"{'+'.join(config.steps)}, C={config.c}{weight}"


def select(name: str, configs: list[TrainConfig], scores: list[float]) -> TrainConfig:
    for config, value in zip(configs, scores, strict=True):
        log(f"  {name} validation: {describe(config)}: {value:.4f}")
    best = int(np.argmax(scores))  # first best: the grid lists simpler settings first
    return configs[best]


def run(name: str, train_xy, test_xy, config: TrainConfig, val_xy=None) -> dict[str, object]:  # type: ignore[no-untyped-def]
    """Train on the train split, pick the CLINC150 operating point on val if given, then test once."""
    started = time.perf_counter()
    result = train(train_xy[0], train_xy[1], config, progress=lambda m: log(f"  {name}: {m}"))
    seconds = time.perf_counter() - started
    model = result.model
    extra: dict[str, object] = {}
    if val_xy is not None and result.oof_scores is not None:
        y = np.asarray(train_xy[1])
        points = []
        for target in CLINC_TARGETS:
            cal = calibrate(result.oof_scores, y, model.labels, replace(config, target_precision=target))
            model.calibration = cal
            val = evaluate(Classifier(model), *val_xy)
            log(f"  {name} val at {target:.0%} target: {json.dumps(val)}")
            points.append((target, cal, val))
        feasible = [p for p in points if (p[2]["oos_recall"] or 0.0) >= OOS_RECALL_GOAL]
        target, cal, val = (
            max(feasible, key=lambda p: p[2]["in_scope_accuracy"])  # type: ignore[arg-type, return-value]
            if feasible
            else max(points, key=lambda p: p[2]["oos_recall"])  # type: ignore[arg-type, return-value]
        )
        model.calibration = cal
        extra = {"target_precision": target, "val_points": [(t, v) for t, _, v in points]}
    classifier = Classifier(model)
    metrics = evaluate(classifier, test_xy[0], test_xy[1], oos_label=config.oos_label)
    cost = fast_path_cost(classifier, test_xy[0])
    metrics.update(
        {
            "cost_ms_p50": round(float(np.percentile(cost, 50)), 4),
            "cost_ms_p99": round(float(np.percentile(cost, 99)), 4),
            "train_seconds": round(seconds, 1),
            "model_mb": round(len(model.to_bytes()) / 1e6, 2),
            "config": describe(config),
            **extra,
        }
    )
    log(f"  {name}: {json.dumps({k: v for k, v in metrics.items() if k != 'val_points'})}")
    return metrics


def fast_path_cost(classifier: Classifier, texts: Sequence[str], repeats: int = 3) -> np.ndarray:
    """Per-message time of ``predict``, best of ``repeats``: the code's own cost without the scheduling
    noise of a shared 2-core machine (which is what dominates the single-run p99)."""
    best = []
    for text in texts:
        runs = []
        for _ in range(repeats):
            started = time.perf_counter()
            classifier.predict(text)
            runs.append((time.perf_counter() - started) * 1000.0)
        best.append(min(runs))
    return np.asarray(best)


def reliability(confidence: np.ndarray, correct: np.ndarray, bins: int = 10) -> float:
    """Expected calibration error: |confidence - accuracy| averaged over equal-width confidence bins."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    total = 0.0
    for lo, hi in itertools.pairwise(edges):
        inside = (confidence > lo) & (confidence <= hi)
        if inside.any():
            total += float(inside.mean()) * abs(float(confidence[inside].mean()) - float(correct[inside].mean()))
    return total


# The decision's figures shown in the validation tables (definitions in nlp/decision.py).
SHOWN = ("precision_answered", "coverage_direct", "coverage_clarified", "clarify_rate", "oos_recall", "handoff_rate")


def rule_on_held_out(classifier: Classifier, texts: Sequence[str], labels: Sequence[str], oos: str) -> dict[str, float]:
    """The decision's figures, top-1 accuracy and calibration error on rows the model never saw."""
    predictions, _ = classify_all(classifier, texts)
    figures = score(predictions, labels, oos)
    gold = np.asarray(labels)
    ok = np.asarray([p.label for p in predictions]) == gold
    confidence = np.asarray([p.confidence for p in predictions])
    return {
        "top1": figures["accuracy"],
        **{key: figures[key] for key in SHOWN},
        "ece": reliability(confidence, ok),
    }


def edunex_nested_cv(config: TrainConfig, texts: list[str], labels: list[str], folds: int = 5) -> dict[str, float]:
    """The whole training procedure (operating point included) on 4/5 of the Edunex rows, judged on the rest."""
    from sklearn.model_selection import StratifiedKFold

    x = np.asarray(texts, dtype=object)
    y = np.asarray(labels)
    predictions = [None] * len(y)
    for fit_idx, held_idx in StratifiedKFold(folds, shuffle=True, random_state=1).split(x, y):
        model = train(list(x[fit_idx]), list(y[fit_idx]), config).model
        made, _ = classify_all(Classifier(model), list(x[held_idx]))
        for i, prediction in zip(held_idx, made, strict=True):
            predictions[i] = prediction  # type: ignore[call-overload]
    figures = score(predictions, list(y), config.oos_label)  # type: ignore[arg-type]
    return {"top1": figures["accuracy"], **{key: figures[key] for key in SHOWN}, "ece": float("nan")}


EDUNEX_TARGETS = (0.97, 0.975, 0.98)
EDUNEX_MASSES = (0.8, 0.85, 0.9, 0.95)


def edunex_operating_points(
    config: TrainConfig, texts: list[str], labels: list[str]
) -> list[tuple[float, float, dict[str, float]]]:
    """Nested CV of the operating point: each outer fold trains once, then the rule is re-chosen on that
    fold's own out-of-fold scores for every (out-of-fold precision target, clarification mass) and applied
    to the outer fold's rows, which no part of the procedure saw."""
    from sklearn.model_selection import StratifiedKFold

    x = np.asarray(texts, dtype=object)
    y = np.asarray(labels)
    folds = []
    for fit_idx, held_idx in StratifiedKFold(5, shuffle=True, random_state=1).split(x, y):
        result = train(list(x[fit_idx]), list(y[fit_idx]), config)
        held = np.vstack([result.model.scores(t) for t in x[held_idx]])
        folds.append((result, y[fit_idx], held, y[held_idx]))
    rows = []
    for target, mass in itertools.product(EDUNEX_TARGETS, EDUNEX_MASSES):
        chosen = replace(config, target_precision=target, clarify_mass=mass)
        weighted: dict[str, list[tuple[float, int]]] = {key: [] for key in SHOWN}
        for result, fit_y, held, held_y in folds:
            cal = calibrate(result.oof_scores, fit_y, result.model.labels, chosen)
            probs = softmax(held * cal.scale)
            part = batch_figures(probs, list(held_y), result.model.labels, config.oos_label, cal.rule)
            for key in SHOWN:
                if part[key] is not None:
                    weighted[key].append((float(part[key]), len(held_y)))  # type: ignore[arg-type]
        rows.append((target, mass, {k: sum(v * n for v, n in w) / sum(n for _, n in w) for k, w in weighted.items()}))
        log(f"  Edunex operating point {target} / {mass}: {rows[-1][2]}")
    return rows


def edunex_c_grid(texts: list[str], labels: list[str]) -> list[tuple[str, float, float]]:
    configs = grid("out_of_scope", (None, "balanced"))
    scores = Parallel(n_jobs=2)(delayed(cv_scores)(c, texts, labels) for c in configs)
    return [(describe(c), acc, f1) for c, (acc, f1) in zip(configs, scores, strict=True)]


def slang_comparison(texts: list[str], labels: list[str]) -> list[tuple[str, float, float]]:
    """The hand-written slang map against indo-normalizer's corpus (its slangs.csv), if installed."""
    import importlib.util

    rows = []
    ours = dict(SLANG)
    spec = importlib.util.find_spec("indo_normalizer")
    variants: list[tuple[str, dict[str, str]]] = [("hand-written slang map (shipped)", ours)]
    if spec is not None and spec.origin is not None:
        corpus = Path(spec.origin).parent / "corpus" / "slangs.csv"
        with corpus.open(encoding="utf-8") as fh:
            theirs = {
                r["slang"].strip().lower(): r["formal"].strip().lower()
                for r in csv.DictReader(fh)
                if r["slang"].strip()
            }
        variants += [
            (f"indo-normalizer's slangs.csv ({len(theirs)} pairs) instead", theirs),
            ("both (hand-written first)", {**theirs, **ours}),
        ]
    try:
        for name, mapping in variants:
            SLANG.clear()
            SLANG.update(mapping)
            acc, f1 = cv_scores(TrainConfig(), texts, labels)
            rows.append((name, acc, f1))
            log(f"  slang {name}: {acc:.4f}")
    finally:
        SLANG.clear()
        SLANG.update(ours)
    if spec is None:
        missing = "indo-normalizer: not installed (pip install indo-normalizer to compare)"
        rows.append((missing, float("nan"), float("nan")))
    return rows


def acts_cost(texts: Sequence[str]) -> dict[str, float]:
    """Time of nlp.acts.read per message (best of 3), on the given messages and on a 4,000-character one."""
    def best(text: str) -> float:
        runs = []
        for _ in range(3):
            started = time.perf_counter()
            read_acts(text)
            runs.append((time.perf_counter() - started) * 1000.0)
        return min(runs)

    costs = np.asarray([best(t) for t in texts])
    long_text = "halo kak, maaf mengganggu, " + "tugas saya tidak bisa diupload ke edunex. " * 100
    return {
        "p50": float(np.percentile(costs, 50)),
        "p99": float(np.percentile(costs, 99)),
        "long": best(long_text[:4000]),
    }


def pct(value: object) -> str:
    return "–" if value is None or value != value else f"{100 * float(value):.1f} %"  # type: ignore[arg-type]


def ablation(b_fit, b_val) -> list[tuple[str, str, str]]:  # type: ignore[no-untyped-def]
    """Classifier, feature and calibration variants on the BANKING77 validation split (85/15 of train)."""
    from scipy.sparse import hstack
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression, SGDClassifier
    from sklearn.svm import LinearSVC

    norm = make_normalizer(DEFAULT_STEPS)
    fx, vx = [norm(t) for t in b_fit[0]], [norm(t) for t in b_val[0]]
    fy, vy = np.asarray(b_fit[1]), np.asarray(b_val[1])
    rows: list[tuple[str, str, str]] = []

    def tfidf(analyzer: str, lo: int, hi: int, min_df: int = 1):  # type: ignore[no-untyped-def]
        vec = TfidfVectorizer(analyzer=analyzer, ngram_range=(lo, hi), sublinear_tf=True, min_df=min_df)
        return vec.fit_transform(fx), vec.transform(vx)

    def timed(name: str, clf, fit_x, val_x) -> None:  # type: ignore[no-untyped-def]
        started = time.perf_counter()
        clf.fit(fit_x, fy)
        acc = float(np.mean(clf.predict(val_x) == vy))
        rows.append((name, pct(acc), f"{time.perf_counter() - started:.1f} s"))
        log(f"  ablation {name}: {acc:.4f}")

    word, char = tfidf("word", 1, 2), tfidf("char_wb", 2, 5)
    both = (hstack([word[0], char[0]]).tocsr(), hstack([word[1], char[1]]).tocsr())
    shipped_name = f"LinearSVC C=0.3, word 1-2 + char_wb 2-5 (shipped design, {both[0].shape[1]} features)"
    timed(shipped_name, LinearSVC(C=0.3), *both)
    timed("LogisticRegression multinomial lbfgs C=20", LogisticRegression(C=20, max_iter=300), *both)
    sgd = SGDClassifier(loss="modified_huber", alpha=1e-4, random_state=0)
    timed("SGDClassifier modified_huber alpha=1e-4", sgd, *both)
    started = time.perf_counter()
    lr_word = LogisticRegression(C=30, max_iter=300).fit(word[0], fy)
    lr_char = LogisticRegression(C=30, max_iter=300).fit(char[0], fy)
    averaged = (lr_word.predict_proba(word[1]) + lr_char.predict_proba(char[1])) / 2
    acc = float(np.mean(lr_word.classes_[averaged.argmax(axis=1)] == vy))
    rows.append(("word LR + char LR averaged in probability space", pct(acc), f"{time.perf_counter() - started:.1f} s"))
    token = re.compile(r"(?u)\b\w\w+\b")

    def with_pairs(text: str) -> list[str]:
        # Word 1-2-grams plus every unordered pair of words in the message (interactions a linear
        # model cannot form from unigrams): "card|declined", "arrive|card".
        tokens = token.findall(text)
        grams = tokens + [f"{a} {b}" for a, b in itertools.pairwise(tokens)]
        n = len(tokens)
        grams += ["|".join(sorted((tokens[i], tokens[j]))) for i in range(n) for j in range(i + 2, n)]
        return grams

    pairs = TfidfVectorizer(analyzer=with_pairs, sublinear_tf=True)
    x_pairs = (hstack([pairs.fit_transform(fx), char[0]]).tocsr(), hstack([pairs.transform(vx), char[1]]).tocsr())
    pairs_name = f"LinearSVC C=0.3, word 1-2 + all word pairs + char_wb 2-5 ({x_pairs[0].shape[1]} features)"
    timed(pairs_name, LinearSVC(C=0.3), *x_pairs)
    for name, (lo, hi, analyzer, min_df, wlo, whi) in {
        "char_wb 1-6": (1, 6, "char_wb", 1, 1, 2),
        "char 2-6 (across word boundaries)": (2, 6, "char", 1, 1, 2),
        "word 1-3": (2, 5, "char_wb", 1, 1, 3),
        "min_df=2 (half the features)": (2, 5, "char_wb", 2, 1, 2),
    }.items():
        w, c = tfidf("word", wlo, whi, min_df), tfidf(analyzer, lo, hi, min_df)
        x = (hstack([w[0], c[0]]).tocsr(), hstack([w[1], c[1]]).tocsr())
        timed(f"LinearSVC C=0.3, {name}", LinearSVC(C=0.3), *x)
    return rows


def calibration_variants(b_fit, b_val, config: TrainConfig) -> list[tuple[str, dict[str, float]]]:  # type: ignore[no-untyped-def]
    """Refit-on-all (shipped) vs the average of the fold models, both calibrated on out-of-fold scores."""
    result = train(b_fit[0], b_fit[1], config)
    refit = rule_on_held_out(Classifier(result.model), b_val[0], b_val[1], config.oos_label)
    # The fold models share the refit model's features; averaging them is one more linear model.
    norm = make_normalizer(config.steps)
    prepared = [norm(t) for t in b_fit[0]]
    features = result.pipeline.named_steps["features"]
    matrix = features.transform(prepared).tocsr()
    from sklearn.model_selection import StratifiedKFold

    y = np.asarray(b_fit[1])
    coefs, intercepts = [], []
    for fit_idx, _ in StratifiedKFold(config.folds, shuffle=True, random_state=config.seed).split(matrix, y):
        clf = build_pipeline(config).named_steps["clf"].fit(matrix[fit_idx], y[fit_idx])
        coefs.append(clf.coef_)
        intercepts.append(clf.intercept_)
    averaged = LinearTextModel(
        labels=result.model.labels,
        spec=result.model.spec,
        steps=result.model.steps,
        word_vocab=result.model.word_vocab,
        char_vocab=result.model.char_vocab,
        word_idf=result.model.word_idf,
        char_idf=result.model.char_idf,
        coef=np.mean(coefs, axis=0).T,
        intercept=np.mean(intercepts, axis=0),
        calibration=result.model.calibration,
        oos_label=config.oos_label,
    )
    folded = rule_on_held_out(Classifier(averaged), b_val[0], b_val[1], config.oos_label)
    return [("refit on all rows (shipped)", refit), ("average of the 5 fold models", folded)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--datasets", type=Path, default=ROOT.parent / "shared" / "datasets")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results-nlp.md")
    parser.add_argument("--ablation", action="store_true", help="Also compare classifiers/features (slower).")
    parser.add_argument("--no-test", action="store_true", help="Skip the benchmarks' test splits.")
    args = parser.parse_args()
    ds: Path = args.datasets
    results: dict[str, dict[str, object]] = {}
    chosen: dict[str, TrainConfig] = {}
    parallel = Parallel(n_jobs=2)

    log("BANKING77")
    b_train = read_csv(ds / "banking77" / "train.csv", "text", "category")
    b_test = read_csv(ds / "banking77" / "test.csv", "text", "category")
    fx, vx, fy, vy = split(*b_train, share=0.15)
    configs = grid("out_of_scope", (None, "balanced"))
    scores = parallel(delayed(val_accuracy)(c, (fx, fy), (vx, vy)) for c in configs)
    chosen["BANKING77"] = select("BANKING77", configs, scores)
    if not args.no_test:
        results["BANKING77"] = run("BANKING77", b_train, b_test, chosen["BANKING77"])
    log("BANKING77 operating point on its validation split")
    calibration = calibration_variants((fx, fy), (vx, vy), chosen["BANKING77"])

    log("CLINC150")
    clinc = json.loads((ds / "clinc150" / "data_full.json").read_text(encoding="utf-8"))

    def pairs(*keys: str) -> tuple[list[str], list[str]]:
        rows = [row for key in keys for row in clinc[key]]
        return [r[0] for r in rows], [r[1] for r in rows]

    c_train, c_val = pairs("train", "oos_train"), pairs("val", "oos_val")
    # CLINC150 is balanced (100 rows per intent), so class weights change nothing there. Two-way rule
    # (answer or reject), as in the published figures.
    configs = [replace(c, clarify_max=0) for c in grid("oos", (None,))]
    scores = parallel(delayed(val_accuracy)(c, c_train, c_val) for c in configs)
    chosen["CLINC150"] = select("CLINC150", configs, scores)
    if not args.no_test:
        results["CLINC150"] = run("CLINC150", c_train, pairs("test", "oos_test"), chosen["CLINC150"], val_xy=c_val)

    log("xSID-id")
    x_valid = read_csv(ds / "xsid_id" / "id_valid.csv", "text", "intent")
    x_test = read_csv(ds / "xsid_id" / "id_test.csv", "text", "intent")
    # 300 rows, some intents with a handful: repeated 3-fold CV on the training (valid) file for selection.
    configs = grid("out_of_scope", (None, "balanced"), folds=3)
    scores = parallel(delayed(cv_accuracy)(c, *x_valid, 3, 3) for c in configs)
    chosen["xSID-id"] = select("xSID-id", configs, scores)
    if not args.no_test:
        results["xSID-id"] = run("xSID-id", x_valid, x_test, chosen["xSID-id"])

    e_train = shipped_examples()
    e_val = shipped_examples(TEST_FILE)
    log("Edunex: C and class weights (5-fold CV on the training file)")
    c_rows = edunex_c_grid(*e_train)
    log("Edunex: normalisation ablation (5-fold CV on the training file)")
    ablation_rows: list[tuple[str, float, float]] = []
    variants: list[tuple[str, tuple[str, ...]]] = [("all steps (shipped)", DEFAULT_STEPS)]
    variants += [(f"without {s}", tuple(x for x in DEFAULT_STEPS if x != s)) for s in STEP_ORDER]
    variants += [("lower only", ("lower",)), ("none", ())]
    for label, steps in variants:
        acc, f1 = cv_scores(TrainConfig(steps=steps), *e_train)
        log(f"  {label}: acc {acc:.4f} macro-F1 {f1:.4f}")
        ablation_rows.append((label, acc, f1))
    slang_rows = slang_comparison(*e_train)
    log("Edunex: operating point, nested CV on the training file")
    points = edunex_operating_points(TrainConfig(), *e_train)
    log("Edunex: the whole training procedure, 5-fold nested CV on the training file")
    edunex_cv = edunex_nested_cv(TrainConfig(), *e_train)
    log(f"  {edunex_cv}")

    classifier_rows = ablation((fx, fy), (vx, vy)) if args.ablation else []

    shipped = load_classifier()
    shipped_metrics = evaluate(shipped, *e_val)
    shipped_val = rule_on_held_out(shipped, *e_val, shipped.oos_label)
    shipped_size = (ROOT / "nlp" / "data" / "edunex-model.zip").stat().st_size
    acts = acts_cost(e_val[0] + e_train[0][:500])

    from language_bench import table as language_table

    write_report(
        args.out,
        results=results,
        ablation=ablation_rows,
        slang=slang_rows,
        c_rows=c_rows,
        points=points,
        shipped=shipped_metrics,
        shipped_val=shipped_val,
        shipped_size=shipped_size,
        calibration=calibration,
        edunex_cv=edunex_cv,
        classifier_rows=classifier_rows,
        acts=acts,
        language=language_table(),
        command="python benchmarks/nlp_bench.py" + (" --ablation" if args.ablation else "")
        + (" --no-test" if args.no_test else ""),
    )
    log(f"written {args.out}")


NOTES = """
## Notes

- Model: word 1-2-gram + char_wb 2-5-gram TF-IDF (sublinear tf) -> LinearSVC (one-vs-rest). The TF-IDF
  vocabulary and idf are fitted once on all training rows; the classifier is fitted on each of 5 folds
  and on all rows (two worker processes). A softmax scale fitted on the out-of-fold scores turns
  margins into probabilities, and the same scores set the operating point of the three-way decision
  (nlp/decision.py): answer when the top probability reaches a threshold (and leads the second by a
  margin, 0-0.2, so far always 0), chosen as the lowest threshold whose out-of-fold precision of
  answered messages reaches the target (98 % for Edunex, so that new messages reach 97 %); otherwise
  offer up to 3 in-scope labels holding 90 % of the probability as choices; otherwise hand off. The
  shipped model is the all-rows refit, and its file records the operating point with its out-of-fold
  figures (`meta.json`, "validation").
- Weights and idf are stored as float32 (half of float64); the fast path sums in float64 and matches
  the scikit-learn pipeline to < 1e-5 in probability (tested), the same top label everywhere.
- BANKING77 and CLINC150 remain below their targets: every linear TF-IDF variant tried (classifier
  ablation) lands within noise of the shipped one on the validation split, about where the published
  TF-IDF baselines are. The pretrained representations that ship inside a registry package (table
  below) add at most about a point on BANKING77 validation data and nothing on the Edunex validation
  file; the targets are set at fine-tuned BERT.
- CLINC150's operating point: the out-of-fold precision target was chosen on its val split (table
  above) as the best in-scope accuracy among those with val out-of-scope recall >= 80 %; the test
  split was then used once.
- The Edunex operating point: in nested CV a rule chosen for 97 % out-of-fold precision reached just
  under 97 % on the outer folds; 98 % keeps a margin for messages written differently from the
  training rows, and with the clarification step (90 % of the probability, at most 3 choices) still
  answers well over 80 % of in-scope messages directly or after one clarification. A lower clarification
  mass answers a little more after clarifying but offers the right label less often and asks about more
  out-of-scope messages.
- Model size: weights are float32 and those below 3e-3 in magnitude are set to zero after training
  (most of a LinearSVC's weights are exactly zero already; zeros compress away).
- Latency is measured one message at a time on a 2-core machine shared with other work, so the
  single-pass p99 moves with the machine's load; the best-of-3 column is the fast path's own cost.
- Normalisation: each step is switched off in turn on the Edunex training file (5-fold CV, no test
  data). The hand-written slang map was compared with the corpus of a maintained Indonesian
  normaliser (indo-normalizer's slangs.csv, as a drop-in map, and the union of both). Its full
  normaliser (fuzzy typo correction against 18k common words) was tried once by hand in front of the
  other steps: 90.2 % against 91.0 % for the hand-written map (5-fold CV at C = 0.6), at about 320 ms
  per message, far over the latency budget. The shipped model keeps the hand-written map.
- Stripping the greeting/apology preamble and the closing (nlp.acts) before classifying neither helped
  nor hurt beyond one message (5-fold CV 91.1 % stripped against 91.3 % raw; validation file 93.6 %
  against 94.5 %, one message): the training rows carry such preambles too, so the classifier reads
  either form.
"""


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + ["| " + " | ".join(r) + " |" for r in rows]


def _figures_cells(m: dict[str, float]) -> list[str]:
    return [pct(m.get(key)) for key in SHOWN]


def write_report(  # type: ignore[no-untyped-def]
    out: Path, *, results, ablation, slang, c_rows, points, shipped, shipped_val, shipped_size, calibration,
    edunex_cv, classifier_rows, acts, language, command,
) -> None:
    import datetime as dt

    lines = [
        "# nlp benchmarks",
        "",
        f"Produced by `{command}` on {dt.datetime.now(dt.UTC).date().isoformat()} (2-core machine, scikit-learn "
        f"{__import__('sklearn').__version__}). Each model is trained on the train split; normalisation "
        "steps, C and class weights are chosen on a validation split carved from training data (BANKING77: "
        "15 % of train; CLINC150: its `val` split; xSID-id: repeated 3-fold CV on `valid`, which is its only "
        "training data); each test split is used once. Latency is one message at a time through the fast "
        "path (`Classifier.predict`).",
        "",
    ]
    if results:
        b, c, x = results["BANKING77"], results["CLINC150"], results["xSID-id"]
        lines += [
            "| benchmark | metric | carecenter | published reference (DESIGN.md §7) | target |",
            "|---|---|---|---|---|",
            f"| BANKING77 | test accuracy | **{pct(b['accuracy'])}** (macro-F1 {pct(b['macro_f1'])}) "
            "| BERT-Large 93.66 %; TF-IDF word+char LR ≈ 91.8 % | ≥ 93.7 % |",
            f"| CLINC150 | in-scope accuracy / OOS recall (answer-or-reject rule chosen for "
            f"{c['target_precision']:.0%} out-of-fold precision on val) | **{pct(c['in_scope_accuracy'])} / "
            f"{pct(c['oos_recall'])}** (top-1 {pct(c['accuracy'])}) | BERT 96.2 / 52.3; TF-IDF LR at 5 % "
            "rejection 90.6 / 76 | ≥ 93 / ≥ 80 |",
            f"| xSID Indonesian | test accuracy (trained on the 300-row `valid`) | **{pct(x['accuracy'])}** | – "
            "| ≥ 93 % |",
            "",
            "| benchmark | train time | model file | latency p50 / p99 | fast-path cost p50 / p99 (best of 3) "
            "| chosen on validation |",
            "|---|---|---|---|---|---|",
        ]
        for name, r in results.items():
            lines.append(
                f"| {name} | {r['train_seconds']} s | {r['model_mb']} MB | {r['latency_ms_p50']} / "
                f"{r['latency_ms_p99']} ms | {r['cost_ms_p50']} / {r['cost_ms_p99']} ms | {r['config']} |"
            )
        lines += [
            "",
            "Train time is the whole `train()` call: features, 5 calibration folds and the final fit. Latency is "
            "`carecenter nlp eval`'s single pass; the fast-path cost column times each test message three times "
            "and keeps the fastest, which removes the scheduling noise of the shared machine.",
            "",
            "### CLINC150 operating point (val split only)",
            "",
            "| out-of-fold precision target | val in-scope accuracy | val OOS recall | val handoff rate |",
            "|---|---|---|---|",
        ]
        lines += [
            f"| {target:.0%}{' (kept)' if target == c['target_precision'] else ''} | {pct(v['in_scope_accuracy'])} "
            f"| {pct(v['oos_recall'])} | {pct(v['handoff_rate'])} |"
            for target, v in c["val_points"]
        ]
    else:
        lines += ["(test splits skipped: `--no-test`)"]
    heldout_path = ROOT / "benchmarks" / "results-heldout.json"
    lines += ["", "## Shipped Edunex model", ""]
    if heldout_path.is_file():
        held = json.loads(heldout_path.read_text(encoding="utf-8").strip().splitlines()[-1])
        lines += [
            "On the held-out `nlp/data/edunex-heldout.csv` (510 rows written for evaluation only, in other styles "
            "than the training rows; never used for a choice), one run of `carecenter nlp eval --data "
            "nlp/data/edunex-heldout.csv` saved in `benchmarks/results-heldout.json`:",
            "",
            *_table(["precision of answered", "coverage direct", "coverage with one clarification",
                     "clarification share", "OOS recall", "hand-off share", "latency p50 / p99"],
                    [[*_figures_cells(held), f"{held['latency_ms_p50']} / {held['latency_ms_p99']} ms"]]),
            "",
            f"Targets: precision of answered ≥ {TARGET_PRECISION:.0%}, coverage with one clarification ≥ "
            f"{TARGET_COVERAGE:.0%}.",
            "",
        ]
    lines += [
        f"On the validation file `nlp/data/edunex-test.csv` (109 rows; model file {shipped_size / 1e6:.2f} MB), "
        "`carecenter nlp eval --data nlp/data/edunex-test.csv`:",
        "",
        "```json",
        json.dumps(shipped, sort_keys=True),
        "```",
        "",
        "## Does the operating point hold on unseen data? (validation only)",
        "",
        f"Chosen on out-of-fold scores for {DEFAULT_TARGET_PRECISION:.0%} precision of answered messages. "
        "ECE: expected calibration error of the top probability (10 bins).",
        "",
    ]
    rows = [["BANKING77 val (trained on the other 85 %)", name, pct(m["top1"]), *_figures_cells(m), f"{m['ece']:.3f}"]
            for name, m in calibration]
    rows.append(["Edunex train, 5-fold nested CV (whole procedure per fold)", "refit on all rows (shipped)",
                 pct(edunex_cv["top1"]), *_figures_cells(edunex_cv), "–"])
    rows.append(["Edunex validation file (109 rows)", "shipped model", pct(shipped_val["top1"]),
                 *_figures_cells(shipped_val), f"{shipped_val['ece']:.3f}"])
    lines += _table(["data", "model", "top-1", *SHOWN, "ECE"], rows)
    lines += [
        "",
        "### Edunex operating point (nested 5-fold CV on the training file)",
        "",
        "Each outer fold trains once; the rule is chosen on that fold's own out-of-fold scores for each out-of-fold "
        "precision target and clarification mass and applied to the outer fold.",
        "",
    ]
    lines += _table(["out-of-fold precision target", "clarification mass", *SHOWN],
                    [[f"{t:.1%}", f"{m:.2f}", *_figures_cells(f)] for t, m, f in points])
    lines += ["", "## Edunex: C and class weights (5-fold CV on the training file, validation only)", ""]
    lines += _table(["variant", "accuracy", "macro-F1"], [[n, pct(a), pct(f)] for n, a, f in c_rows])
    lines += ["", "## Normalisation ablation (Edunex training data, 5-fold CV, validation only)", ""]
    lines += _table(["variant", "accuracy", "macro-F1"], [[n, pct(a), pct(f)] for n, a, f in ablation])
    lines += ["", "### Slang map against a maintained normaliser's corpus (5-fold CV)", ""]
    lines += _table(["slang step", "accuracy", "macro-F1"], [[n, pct(a), pct(f)] for n, a, f in slang])
    if classifier_rows:
        lines += ["", "## Classifier and feature ablation (BANKING77, 85 % of train -> 15 % validation)", ""]
        lines += _table(["variant", "validation accuracy", "fit time"], [list(r) for r in classifier_rows])
    encoders = ROOT / "benchmarks" / "results-encoders.md"
    lines += ["", "## Pretrained representations (validation only, not shipped)", ""]
    if encoders.is_file():
        lines += [
            "From `python benchmarks/static_embedding_experiment.py` (in an environment with the packages it "
            "names; see its docstring), each representation appended to the TF-IDF features:",
            "",
            encoders.read_text(encoding="utf-8").strip(),
        ]
    lines += [
        "",
        "## Language detection (benchmarks/data/language-short.csv, `python benchmarks/language_bench.py`)",
        "",
        *language,
        "",
        "## Dialogue acts",
        "",
        f"`nlp.acts.read` per message (best of 3): p50 {acts['p50']:.3f} ms, p99 {acts['p99']:.3f} ms on the "
        f"Edunex validation messages and 500 training messages; {acts['long']:.3f} ms on a 4,000-character message.",
    ]
    out.write_text("\n".join(lines) + "\n" + NOTES, encoding="utf-8")


if __name__ == "__main__":
    main()
