"""Benchmark the nlp classifier on CLINC150, BANKING77 and xSID-id, plus the normalisation ablation.

Usage: python benchmarks/nlp_bench.py [--datasets ../shared/datasets] [--out benchmarks/results-nlp.md]

Protocol: every choice (normalisation steps, C) is made on a validation split carved from the training
data (CLINC150: its own val split); each test split is used once, for the final figures. The datasets
are read in place and never copied into the repository.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from nlp.classifier import Classifier, load_classifier  # noqa: E402
from nlp.dataset import TEST_FILE, shipped_examples  # noqa: E402
from nlp.evaluate import evaluate  # noqa: E402
from nlp.model import TrainConfig, build_pipeline, train  # noqa: E402
from nlp.normalize import DEFAULT_STEPS, STEP_ORDER, make_normalizer  # noqa: E402

MINIMAL = ("lower", "punct")
C_GRID = (0.3, 0.6, 1.0)


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


def select(name: str, fit, val, oos_label: str) -> TrainConfig:  # type: ignore[no-untyped-def]
    best: tuple[float, TrainConfig] | None = None
    for steps in (MINIMAL, DEFAULT_STEPS):
        for c in C_GRID:
            config = TrainConfig(steps=steps, c=c, oos_label=oos_label)
            acc = val_accuracy(config, fit, val)
            log(f"  {name} validation: steps={'+'.join(steps)} C={c}: {acc:.4f}")
            if best is None or acc > best[0]:
                best = (acc, config)
    assert best is not None
    return best[1]


def run(name: str, train_xy, test_xy, config: TrainConfig) -> dict[str, object]:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    result = train(train_xy[0], train_xy[1], config, progress=lambda m: log(f"  {name}: {m}"))
    seconds = time.perf_counter() - started
    classifier = Classifier(result.model)
    metrics = evaluate(classifier, test_xy[0], test_xy[1], oos_label=config.oos_label)
    metrics.update(
        {
            "train_seconds": round(seconds, 1),
            "model_mb": round(len(result.model.to_bytes()) / 1e6, 2),
            "steps": "+".join(config.steps),
            "c": config.c,
        }
    )
    log(f"  {name}: {json.dumps(metrics)}")
    return metrics


def pct(value: object) -> str:
    return "–" if value is None else f"{100 * float(value):.1f} %"  # type: ignore[arg-type]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--datasets", type=Path, default=ROOT.parent / "shared" / "datasets")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results-nlp.md")
    args = parser.parse_args()
    ds: Path = args.datasets
    results: dict[str, dict[str, object]] = {}
    chosen: dict[str, TrainConfig] = {}

    log("BANKING77")
    b_train = read_csv(ds / "banking77" / "train.csv", "text", "category")
    b_test = read_csv(ds / "banking77" / "test.csv", "text", "category")
    fx, vx, fy, vy = split(*b_train, share=0.15)
    chosen["BANKING77"] = select("BANKING77", (fx, fy), (vx, vy), "out_of_scope")
    results["BANKING77"] = run("BANKING77", b_train, b_test, chosen["BANKING77"])

    log("CLINC150")
    clinc = json.loads((ds / "clinc150" / "data_full.json").read_text(encoding="utf-8"))

    def pairs(*keys: str) -> tuple[list[str], list[str]]:
        rows = [row for key in keys for row in clinc[key]]
        return [r[0] for r in rows], [r[1] for r in rows]

    chosen["CLINC150"] = select("CLINC150", pairs("train", "oos_train"), pairs("val", "oos_val"), "oos")
    results["CLINC150"] = run("CLINC150", pairs("train", "oos_train"), pairs("test", "oos_test"), chosen["CLINC150"])

    log("xSID-id")
    x_valid = read_csv(ds / "xsid_id" / "id_valid.csv", "text", "intent")
    x_test = read_csv(ds / "xsid_id" / "id_test.csv", "text", "intent")
    # 300 rows, one intent with only a handful: 5-fold CV on the training (valid) file for selection.
    best: tuple[float, TrainConfig] | None = None
    for steps in (MINIMAL, DEFAULT_STEPS):
        for c in C_GRID:
            config = TrainConfig(steps=steps, c=c, folds=3)
            acc, _ = cv_scores(config, *x_valid, folds=3)
            log(f"  xSID validation (3-fold CV): steps={'+'.join(steps)} C={c}: {acc:.4f}")
            if best is None or acc > best[0]:
                best = (acc, config)
    assert best is not None
    chosen["xSID-id"] = best[1]
    results["xSID-id"] = run("xSID-id", x_valid, x_test, chosen["xSID-id"])

    log("Edunex normalisation ablation (5-fold CV on the shipped training file)")
    e_train = shipped_examples()
    ablation: list[tuple[str, float, float]] = []
    variants: list[tuple[str, tuple[str, ...]]] = [("all steps (shipped)", DEFAULT_STEPS)]
    variants += [(f"without {s}", tuple(x for x in DEFAULT_STEPS if x != s)) for s in STEP_ORDER]
    variants += [("lower only", ("lower",)), ("none", ())]
    for label, steps in variants:
        acc, f1 = cv_scores(TrainConfig(steps=steps), *e_train)
        log(f"  {label}: acc {acc:.4f} macro-F1 {f1:.4f}")
        ablation.append((label, acc, f1))

    shipped = load_classifier()
    e_test = shipped_examples(TEST_FILE)
    shipped_metrics = evaluate(shipped, *e_test)
    shipped_size = (ROOT / "nlp" / "data" / "edunex-model.zip").stat().st_size

    write_report(args.out, results, ablation, shipped_metrics, shipped_size)
    log(f"written {args.out}")


NOTES = """
## Notes

- Model: word 1-2-gram + char_wb 2-5-gram TF-IDF (sublinear tf) -> LinearSVC (one-vs-rest); a softmax
  scale fitted on 5-fold out-of-fold scores turns margins into probabilities, and the same out-of-fold
  scores set the handoff threshold (and the top-2 margin, from 0-0.2) for a 5 % in-scope handoff share.
  The final model is then refitted on all training rows, which makes it somewhat less confident on new
  data than the out-of-fold models were on theirs, so test handoff rates come out above 5 %.
- BANKING77 and xSID-id are below their targets: a linear TF-IDF model on 2 cores lands about where the
  published TF-IDF baseline does; closing the gap to BERT needs sentence embeddings, which this
  project cannot download. CLINC150 meets the OOS-recall target but not the in-scope-accuracy one.
- xSID-id has intents with a single training example, so out-of-fold calibration is skipped there and
  the uncalibrated defaults (scale 5, threshold 0.5) apply.
- Model files store float64 weights so that the fast path matches the scikit-learn pipeline to 1e-9;
  the shipped Edunex model is about 1 MB, the benchmark models are larger (more n-grams and classes).
- Latency p99 on a busy 2-core machine is dominated by scheduling noise and the occasional long
  message; p50 is the stable figure.
- Ablation: each normalisation step is switched off in turn on the shipped Edunex training file
  (5-fold CV, no test data); the shipped model keeps every step that did not hurt.
"""


def write_report(out: Path, results, ablation, shipped, shipped_size) -> None:  # type: ignore[no-untyped-def]
    b, c, x = results["BANKING77"], results["CLINC150"], results["xSID-id"]
    lines = [
        "# nlp benchmarks",
        "",
        "Produced by `python benchmarks/nlp_bench.py` (2-core machine, scikit-learn "
        f"{__import__('sklearn').__version__}). Each model is trained on the train split; normalisation "
        "steps and C are chosen on a validation split carved from training data (CLINC150: its `val` split; "
        "xSID-id: 3-fold CV on `valid`, which is its only training data); each test split is used once. "
        "Latency is one message at a time through the fast path (`Classifier.predict`).",
        "",
        "| benchmark | metric | carecenter | published reference (DESIGN.md §7) | target |",
        "|---|---|---|---|---|",
        f"| BANKING77 | test accuracy | **{pct(b['accuracy'])}** (macro-F1 {pct(b['macro_f1'])}) "
        "| BERT-Large 93.66 %; TF-IDF word+char LR ≈ 91.8 % | ≥ 93.7 % |",
        f"| CLINC150 | in-scope accuracy / OOS recall (threshold rule, 5 % in-scope handoff on train folds) "
        f"| **{pct(c['in_scope_accuracy'])} / {pct(c['oos_recall'])}** (top-1 {pct(c['accuracy'])}) "
        "| BERT 96.2 / 52.3; TF-IDF LR at 5 % rejection 90.6 / 76 | ≥ 93 / ≥ 80 |",
        f"| xSID Indonesian | test accuracy (trained on the 300-row `valid`) | **{pct(x['accuracy'])}** | – | ≥ 93 % |",
        "",
        "| benchmark | train time | model file | latency p50 / p99 | handoff rate | chosen steps, C |",
        "|---|---|---|---|---|---|",
    ]
    for name, r in results.items():
        lines.append(
            f"| {name} | {r['train_seconds']} s | {r['model_mb']} MB | {r['latency_ms_p50']} / "
            f"{r['latency_ms_p99']} ms | {pct(r['handoff_rate'])} | {r['steps']}, {r['c']} |"
        )
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
