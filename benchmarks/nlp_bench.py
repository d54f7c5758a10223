"""Benchmark the nlp classifier on CLINC150, BANKING77 and xSID-id, plus the normalisation ablation.

Usage: python benchmarks/nlp_bench.py [--ablation] [--datasets ../shared/datasets] [--out benchmarks/results-nlp.md]

Protocol: every choice (normalisation steps, C, class weights, CLINC150's handoff operating point) is made
on a validation split carved from the training data (BANKING77: 15 % of train; CLINC150: its own val
split; xSID-id: CV on its only training file); each test split is used once, for the final figures. The datasets
are read in place and never copied into the repository.
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

from nlp.classifier import Classifier, load_classifier  # noqa: E402
from nlp.dataset import TEST_FILE, shipped_examples  # noqa: E402
from nlp.evaluate import evaluate  # noqa: E402
from nlp.model import LinearTextModel, TrainConfig, build_pipeline, calibrate, train  # noqa: E402
from nlp.normalize import DEFAULT_STEPS, STEP_ORDER, make_normalizer  # noqa: E402

MINIMAL = ("lower", "punct")
C_GRID = (0.3, 0.6, 1.0, 2.0)
# Operating points tried for CLINC150 (share of in-scope training rows the rule may hand off, on
# out-of-fold scores); the one kept is the best in-scope accuracy on CLINC150's val split among those
# with val out-of-scope recall >= 80 % (the target), so the test split is still used once.
CLINC_TARGETS = (0.02, 0.03, 0.04, 0.05, 0.07, 0.10)
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
    for config, score in zip(configs, scores, strict=True):
        log(f"  {name} validation: {describe(config)}: {score:.4f}")
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
            cal = calibrate(result.oof_scores, y, model.labels, replace(config, target_handoff=target))
            val = evaluate(Classifier(model, threshold=cal.threshold, margin=cal.margin), *val_xy)
            log(f"  {name} val at {target:.0%} target: {json.dumps(val)}")
            points.append((target, cal, val))
        feasible = [p for p in points if (p[2]["oos_recall"] or 0.0) >= OOS_RECALL_GOAL]
        target, cal, val = (
            max(feasible, key=lambda p: p[2]["in_scope_accuracy"])  # type: ignore[arg-type, return-value]
            if feasible
            else max(points, key=lambda p: p[2]["oos_recall"])  # type: ignore[arg-type, return-value]
        )
        model.calibration = cal
        extra = {"target_handoff": target, "val_points": [(t, v) for t, _, v in points]}
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


def rule_on_held_out(classifier: Classifier, texts: Sequence[str], labels: Sequence[str], oos: str) -> dict[str, float]:
    predictions = [classifier.predict(t) for t in texts]
    gold = np.asarray(labels)
    label = np.asarray([p.label for p in predictions])
    handoff = np.asarray([p.handoff for p in predictions])
    confidence = np.asarray([p.confidence for p in predictions])
    ins = gold != oos
    ok = label == gold
    return {
        "top1": float(ok[ins].mean()),
        "in_scope_acc": float((ok & ~handoff)[ins].mean()),
        "in_scope_handoff": float(handoff[ins].mean()),
        "oos_recall": float(handoff[~ins].mean()) if (~ins).any() else float("nan"),
        "ece": reliability(confidence, ok),
    }


def edunex_nested_cv(config: TrainConfig, texts: list[str], labels: list[str], folds: int = 5) -> dict[str, float]:
    """The whole training procedure (calibration included) on 4/5 of the Edunex rows, judged on the rest."""
    from sklearn.model_selection import StratifiedKFold

    x = np.asarray(texts, dtype=object)
    y = np.asarray(labels)
    parts = []
    for fit_idx, held_idx in StratifiedKFold(folds, shuffle=True, random_state=1).split(x, y):
        model = train(list(x[fit_idx]), list(y[fit_idx]), config).model
        part = rule_on_held_out(Classifier(model), list(x[held_idx]), list(y[held_idx]), config.oos_label)
        parts.append((len(held_idx), part))
    n = sum(k for k, _ in parts)
    return {key: sum(k * p[key] for k, p in parts) / n for key in parts[0][1]}


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
    results["BANKING77"] = run("BANKING77", b_train, b_test, chosen["BANKING77"])
    log("BANKING77 calibration on its validation split")
    calibration = calibration_variants((fx, fy), (vx, vy), chosen["BANKING77"])

    log("CLINC150")
    clinc = json.loads((ds / "clinc150" / "data_full.json").read_text(encoding="utf-8"))

    def pairs(*keys: str) -> tuple[list[str], list[str]]:
        rows = [row for key in keys for row in clinc[key]]
        return [r[0] for r in rows], [r[1] for r in rows]

    c_train, c_val = pairs("train", "oos_train"), pairs("val", "oos_val")
    # CLINC150 is balanced (100 rows per intent), so class weights change nothing there.
    configs = grid("oos", (None,))
    scores = parallel(delayed(val_accuracy)(c, c_train, c_val) for c in configs)
    chosen["CLINC150"] = select("CLINC150", configs, scores)
    results["CLINC150"] = run("CLINC150", c_train, pairs("test", "oos_test"), chosen["CLINC150"], val_xy=c_val)

    log("xSID-id")
    x_valid = read_csv(ds / "xsid_id" / "id_valid.csv", "text", "intent")
    x_test = read_csv(ds / "xsid_id" / "id_test.csv", "text", "intent")
    # 300 rows, some intents with a handful: repeated 3-fold CV on the training (valid) file for selection.
    configs = grid("out_of_scope", (None, "balanced"), folds=3)
    scores = parallel(delayed(cv_accuracy)(c, *x_valid, 3, 3) for c in configs)
    chosen["xSID-id"] = select("xSID-id", configs, scores)
    results["xSID-id"] = run("xSID-id", x_valid, x_test, chosen["xSID-id"])

    log("Edunex normalisation ablation (5-fold CV on the shipped training file)")
    e_train = shipped_examples()
    ablation_rows: list[tuple[str, float, float]] = []
    variants: list[tuple[str, tuple[str, ...]]] = [("all steps (shipped)", DEFAULT_STEPS)]
    variants += [(f"without {s}", tuple(x for x in DEFAULT_STEPS if x != s)) for s in STEP_ORDER]
    variants += [("lower only", ("lower",)), ("none", ())]
    for label, steps in variants:
        acc, f1 = cv_scores(TrainConfig(steps=steps), *e_train)
        log(f"  {label}: acc {acc:.4f} macro-F1 {f1:.4f}")
        ablation_rows.append((label, acc, f1))
    log("Edunex: the whole training procedure, 5-fold nested CV on the shipped training file")
    edunex_cv = edunex_nested_cv(TrainConfig(), *e_train)
    log(f"  {edunex_cv}")

    classifier_rows = ablation((fx, fy), (vx, vy)) if args.ablation else []

    shipped = load_classifier()
    e_test = shipped_examples(TEST_FILE)
    shipped_metrics = evaluate(shipped, *e_test)
    shipped_size = (ROOT / "nlp" / "data" / "edunex-model.zip").stat().st_size

    write_report(
        args.out,
        results=results,
        ablation=ablation_rows,
        shipped=shipped_metrics,
        shipped_size=shipped_size,
        calibration=calibration,
        edunex_cv=edunex_cv,
        classifier_rows=classifier_rows,
        command="python benchmarks/nlp_bench.py" + (" --ablation" if args.ablation else ""),
    )
    log(f"written {args.out}")


NOTES = """
## Notes

- Model: word 1-2-gram + char_wb 2-5-gram TF-IDF (sublinear tf) -> LinearSVC (one-vs-rest). The TF-IDF
  vocabulary and idf are fitted once on all training rows; the classifier is fitted on each of 5 folds
  and on all rows (two worker processes). A softmax scale fitted on the out-of-fold scores turns
  margins into probabilities, and the same scores set the handoff threshold (and top-2 margin, 0-0.2)
  for the target share of in-scope messages handed off (5 % unless stated). The shipped model is the
  all-rows refit.
- Weights and idf are stored as float32 (half of float64); the fast path sums in float64 and matches
  the scikit-learn pipeline to < 1e-5 in probability (tested), the same top label everywhere.
- BANKING77 and CLINC150 remain below their targets: every linear TF-IDF variant tried (classifier
  ablation) lands within noise of the shipped one on the validation split, about where the published
  TF-IDF baselines are; the targets are set at fine-tuned BERT, which needs pretrained sentence
  representations this project cannot download.
- CLINC150's operating point: the in-scope handoff target was chosen on its val split (table above)
  as the best in-scope accuracy among those with val out-of-scope recall >= 80 %; the test split was
  then used once. CLINC150's val split hands off more in-scope rows than the out-of-fold target (its
  val queries differ from the train queries more than train folds differ from each other).
- The handoff threshold does transfer after the refit: on data the procedure never saw, the in-scope
  handoff share is at or below the 5 % target (BANKING77 val, Edunex nested CV), and averaging the 5
  fold models instead of refitting (so that the shipped model is the out-of-fold model) changed
  neither the handoff share nor the accuracy beyond noise. Most of the Edunex test file's handoffs are
  its out-of-scope rows (25 of 109 rows are out of scope). Probabilities near 1 on short messages are
  what the out-of-fold temperature gives for phrases like the training ones; the ECE column measures
  how far the top probability is from the observed accuracy.
- Model size: weights are float32 and those below 3e-3 in magnitude are set to zero after training
  (most of a LinearSVC's weights are exactly zero already; zeros compress away). On CLINC150's val
  split this pruning left the top-1 accuracy unchanged (93.2 %) and took the model from 5.7 to 4.4 MB;
  on Edunex nested CV it changed nothing.
- Latency is measured one message at a time on a 2-core machine shared with other work, so the
  single-pass p99 moves with the machine's load (earlier runs of this script saw 4-5 ms there); the
  best-of-3 column is the fast path's own cost.
- Normalisation ablation: each step is switched off in turn on the shipped Edunex training file (5-fold
  CV, no test data). On the enlarged file lower-casing (-1.0 point without it) and punctuation
  removal (-0.6) matter; masking, repeated letters and the slang map are within +-0.2 point (1-2 of
  1053 rows), i.e. noise. The shipped model keeps all five steps: the slang map and masking cover
  spellings and identifiers that a 1053-row file cannot show often enough to measure.
"""


def write_report(  # type: ignore[no-untyped-def]
    out: Path, *, results, ablation, shipped, shipped_size, calibration, edunex_cv, classifier_rows, command
) -> None:
    b, c, x = results["BANKING77"], results["CLINC150"], results["xSID-id"]
    lines = [
        "# nlp benchmarks",
        "",
        f"Produced by `{command}` (2-core machine, scikit-learn "
        f"{__import__('sklearn').__version__}). Each model is trained on the train split; normalisation "
        "steps, C and class weights are chosen on a validation split carved from training data (BANKING77: "
        "15 % of train; CLINC150: its `val` split; xSID-id: repeated 3-fold CV on `valid`, which is its only "
        "training data); each test split is used once. Latency is one message at a time through the fast "
        "path (`Classifier.predict`).",
        "",
        "| benchmark | metric | carecenter | published reference (DESIGN.md §7) | target |",
        "|---|---|---|---|---|",
        f"| BANKING77 | test accuracy | **{pct(b['accuracy'])}** (macro-F1 {pct(b['macro_f1'])}) "
        "| BERT-Large 93.66 %; TF-IDF word+char LR ≈ 91.8 % | ≥ 93.7 % |",
        f"| CLINC150 | in-scope accuracy / OOS recall (threshold rule, {c['target_handoff']:.0%} in-scope handoff "
        f"on train folds, chosen on val) | **{pct(c['in_scope_accuracy'])} / {pct(c['oos_recall'])}** "
        f"(top-1 {pct(c['accuracy'])}) | BERT 96.2 / 52.3; TF-IDF LR at 5 % rejection 90.6 / 76 | ≥ 93 / ≥ 80 |",
        f"| xSID Indonesian | test accuracy (trained on the 300-row `valid`) | **{pct(x['accuracy'])}** | – | ≥ 93 % |",
        "",
        "| benchmark | train time | model file | latency p50 / p99 | fast-path cost p50 / p99 (best of 3) "
        "| handoff rate | chosen on validation |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, r in results.items():
        lines.append(
            f"| {name} | {r['train_seconds']} s | {r['model_mb']} MB | {r['latency_ms_p50']} / "
            f"{r['latency_ms_p99']} ms | {r['cost_ms_p50']} / {r['cost_ms_p99']} ms | {pct(r['handoff_rate'])} "
            f"| {r['config']} |"
        )
    lines += [
        "",
        "Train time is the whole `train()` call: features, 5 calibration folds and the final fit. Latency is "
        "`carecenter nlp eval`'s single pass; the fast-path cost column times each test message three times "
        "and keeps the fastest, which removes the scheduling noise of the shared machine.",
        "",
        "### CLINC150 operating point (val split only)",
        "",
        "| in-scope handoff target (train folds) | val in-scope accuracy | val OOS recall | val handoff rate |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {target:.0%}{' (kept)' if target == c['target_handoff'] else ''} | {pct(v['in_scope_accuracy'])} "
        f"| {pct(v['oos_recall'])} | {pct(v['handoff_rate'])} |"
        for target, v in c["val_points"]
    ]
    lines += [
        "",
        "## Does the handoff rule hold on unseen data? (validation only)",
        "",
        "The threshold is chosen on out-of-fold scores for 5 % of in-scope messages; the question is whether "
        "the refitted model hands off about 5 % of new in-scope messages, and whether its probabilities mean "
        "what they say (ECE: expected calibration error of the top probability, 10 bins).",
        "",
        "| data | model | top-1 | in-scope accuracy | in-scope handoff | OOS recall | ECE |",
        "|---|---|---|---|---|---|---|",
    ]
    rows = [("BANKING77 val (trained on the other 85 %)", name, m) for name, m in calibration]
    rows.append(("Edunex train, 5-fold nested CV (whole procedure per fold)", "refit on all rows (shipped)", edunex_cv))
    lines += [
        f"| {data} | {name} | {pct(m['top1'])} | {pct(m['in_scope_acc'])} | {pct(m['in_scope_handoff'])} "
        f"| {pct(m['oos_recall'])} | {m['ece']:.3f} |"
        for data, name, m in rows
    ]
    if classifier_rows:
        lines += [
            "",
            "## Classifier and feature ablation (BANKING77, 85 % of train -> 15 % validation)",
            "",
            "| variant | validation accuracy | fit time |",
            "|---|---|---|",
        ]
        lines += [f"| {name} | {acc} | {secs} |" for name, acc, secs in classifier_rows]
    lines += [
        "",
        "## Shipped Edunex model on the held-out `nlp/data/edunex-test.csv`",
        "",
        f"Model file {shipped_size / 1e6:.2f} MB. `carecenter nlp eval --data nlp/data/edunex-test.csv`:",
        "",
        "```json",
        json.dumps(shipped, sort_keys=True),
        "```",
        "",
        "## Normalisation ablation (Edunex training data, 5-fold CV, validation only)",
        "",
        "| variant | accuracy | macro-F1 |",
        "|---|---|---|",
    ]
    lines += [f"| {label} | {100 * acc:.1f} % | {100 * f1:.1f} % |" for label, acc, f1 in ablation]
    out.write_text("\n".join(lines) + "\n" + NOTES, encoding="utf-8")


if __name__ == "__main__":
    main()
