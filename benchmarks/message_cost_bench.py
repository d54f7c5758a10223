"""CPU cost of one turn's text steps on the largest message the store keeps (issue 10).

Every step after the store step reads at most MAX_STORED_CHARS of a message (the classifier
MAX_CLASSIFIED_CHARS of them). This measures each step on texts of exactly that length built from the
kinds of runs that made the old patterns quadratic, plus ordinary words and text that Unicode
normalisation lengthens, and prints the best of ``--repeat`` runs (thread CPU time) per step and text.
A step that can cost more than about 1 ms belongs off the event loop (``asyncio.to_thread``).

    python benchmarks/message_cost_bench.py [--repeat 20]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.channels.base import MAX_CLASSIFIED_CHARS, MAX_STORED_CHARS, audit_payload
from bot.channels.mail import html_to_text
from bot.i18n import detect_language
from bot.identity import parse_identity
from handoff.webinput import clean_text
from nlp.acts import read as read_act
from nlp.classifier import load_classifier
from nlp.normalize import normalize

UNITS = {
    "words": "saya tidak bisa login ke edunex, tolong bantu cek akun 13521045 budi@itb.ac.id ",
    "underscores": "_",
    "digits": "1",
    "a.": "a.",
    "a-": "a-",
    "a@": "a@",
    "a@b.c+": "a@b.c+",
    "digits, spaced": "1 ",
    "emoji": "😀",
    "ﷺ (NFKC x18)": "\ufdfa",
    "⒈ (NFKC '1.')": "\u2488",
    "html <a": "<a",
}


def fill(unit: str, length: int) -> str:
    return (unit * (length // len(unit) + 1))[:length]


def best_ms(step: Callable[[str], object], text: str, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.thread_time()
        step(text)
        best = min(best, time.thread_time() - start)
    return best * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    classifier = load_classifier()
    today = date(2026, 11, 24)
    steps: dict[str, tuple[int, Callable[[str], object]]] = {
        "clean_text": (MAX_STORED_CHARS, clean_text),
        "audit_payload": (MAX_STORED_CHARS, lambda t: audit_payload({"form": {"Body": t * 2}})),
        "parse_identity": (MAX_STORED_CHARS, lambda t: parse_identity(t, today=today)),
        "acts.read": (MAX_STORED_CHARS, read_act),
        "detect_language": (MAX_STORED_CHARS, detect_language),
        "normalize": (MAX_CLASSIFIED_CHARS, normalize),
        "classifier.predict": (MAX_CLASSIFIED_CHARS, classifier.predict),
        "html_to_text (mail)": (MAX_STORED_CHARS, html_to_text),
    }
    names = list(UNITS)
    print(f"best of {args.repeat}, thread CPU ms; texts of {MAX_STORED_CHARS} characters "
          f"({MAX_CLASSIFIED_CHARS} for normalize and the classifier)")
    print("| step | " + " | ".join(names) + " | max |")
    print("|---" * (len(names) + 2) + "|")
    for label, (length, step) in steps.items():
        costs = [best_ms(step, fill(UNITS[name], length), args.repeat) for name in names]
        print(f"| {label} | " + " | ".join(f"{c:.2f}" for c in costs) + f" | {max(costs):.2f} |")


if __name__ == "__main__":
    main()
