"""Compare language detectors on short Edunex-style messages (benchmarks/data/language-short.csv).

Usage: python benchmarks/language_bench.py   (lingua is compared when ``lingua-language-detector`` is
installed; it is not a dependency of the product)

Each row is labelled id, en, or none (no language to speak of: emoji, a number, a product name). A
detector may abstain (None); "precision" is over the rows it answered, "coverage" over the labelled rows.
"""

from __future__ import annotations

import csv
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from nlp.language import LANGUAGES, language_probability  # noqa: E402

DATA = ROOT / "benchmarks" / "data" / "language-short.csv"
Detector = Callable[[str], "str | None"]


def score(name: str, detect: Detector, rows: list[dict[str, str]]) -> str:
    started = time.perf_counter()
    answers = [detect(row["text"]) for row in rows]
    per_message = (time.perf_counter() - started) / len(rows) * 1000
    labelled = [(a, r["lang"]) for a, r in zip(answers, rows, strict=True) if r["lang"] != "none"]
    answered = [(a, g) for a, g in labelled if a is not None]
    right = sum(a == g for a, g in answered)
    silent = sum(a is None for a, r in zip(answers, rows, strict=True) if r["lang"] == "none")
    n_none = sum(r["lang"] == "none" for r in rows)
    return (
        f"| {name} | {right}/{len(answered)} = {100 * right / max(1, len(answered)):.1f} % "
        f"| {len(answered)}/{len(labelled)} = {100 * len(answered) / len(labelled):.1f} % "
        f"| {silent}/{n_none} | {per_message:.3f} ms |"
    )


def table() -> list[str]:
    """The comparison as markdown table lines."""
    rows = list(csv.DictReader(DATA.open(encoding="utf-8")))
    lines = [f"{len(rows)} messages, languages {', '.join(LANGUAGES)}.", "",
             "| detector | precision (answered) | coverage | None on language-less rows | time/message |",
             "|---|---|---|---|---|"]
    language_probability("warm up")  # model loading is not per-message cost
    for threshold in (0.0, 0.7, 0.8, 0.9):
        def py3(text: str, threshold: float = threshold) -> str | None:
            lang, probability = language_probability(text)
            return lang if probability >= threshold else None

        lines.append(score(f"py3langid, probability >= {threshold}", py3, rows))
    try:
        from lingua import Language, LanguageDetectorBuilder
    except ImportError:
        lines.append("| lingua-language-detector | not installed | | | |")
    else:
        names = {Language.ENGLISH: "en", Language.INDONESIAN: "id"}
        for distance in (0.0, 0.1, 0.25):
            detector = (
                LanguageDetectorBuilder.from_languages(*names).with_minimum_relative_distance(distance).build()
            )
            detector.detect_language_of("warm up")

            def lingua(text: str, detector: object = detector) -> str | None:
                found = detector.detect_language_of(text)  # type: ignore[attr-defined]
                return None if found is None else names[found]

            lines.append(score(f"lingua, minimum relative distance {distance}", lingua, rows))
    return lines


def main() -> None:
    print("\n".join(table()))


if __name__ == "__main__":
    main()
