"""Reading labelled text files (CSV or JSONL) with errors that name the line, and the shipped data."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Literal

TRAIN_FILE = "edunex-train.csv"
TEST_FILE = "edunex-test.csv"
TEMPLATES_FILE = "templates.jsonl"


class DataFileError(ValueError):
    """A training or evaluation file that cannot be used; the message names the file and line."""


@dataclass(frozen=True, slots=True)
class SeedTemplate:
    category: str
    lang: Literal["id", "en"]
    body: str


def read_examples(
    path: Path, *, text_col: str = "text", label_col: str = "label", require_classes: int = 1
) -> tuple[list[str], list[str]]:
    """Texts and labels of a CSV (with a header) or JSONL file."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataFileError(f"{path}: cannot read file: {exc.strerror or exc}") from exc
    try:
        content = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataFileError(f"{path}: not UTF-8 text (byte {exc.start})") from exc
    suffix = path.suffix.lower()
    if suffix in {".jsonl", ".ndjson"}:
        texts, labels = _read_jsonl(path, content, text_col, label_col)
    elif suffix in {".csv", ".tsv", ".txt"}:
        texts, labels = _read_csv(path, content, text_col, label_col, "\t" if suffix == ".tsv" else ",")
    else:
        raise DataFileError(f"{path}: unsupported file type {suffix!r} (use .csv or .jsonl)")
    if not texts:
        raise DataFileError(f"{path}: no examples")
    if len(set(labels)) < require_classes:
        raise DataFileError(
            f"{path}: column {label_col!r} has {len(set(labels))} distinct label(s); "
            f"training needs at least {require_classes}"
        )
    return texts, labels


def _read_csv(
    path: Path, content: str, text_col: str, label_col: str, delimiter: str
) -> tuple[list[str], list[str]]:
    reader = csv.reader(io.StringIO(content, newline=""), delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        raise DataFileError(f"{path}: empty file") from None
    except csv.Error as exc:
        raise DataFileError(f"{path}, line 1: {exc}") from exc
    header = [h.strip() for h in header]
    for col in (text_col, label_col):
        if col not in header:
            raise DataFileError(f"{path}, line 1: missing column {col!r} (columns: {', '.join(header)})")
    ti, li = header.index(text_col), header.index(label_col)
    texts: list[str] = []
    labels: list[str] = []
    try:
        for row in reader:
            line = reader.line_num
            if not row or all(not cell.strip() for cell in row):
                continue
            if len(row) <= max(ti, li):
                raise DataFileError(f"{path}, line {line}: expected {len(header)} columns, got {len(row)}")
            _append(
                path=path,
                line=line,
                text=row[ti],
                label=row[li],
                text_col=text_col,
                label_col=label_col,
                texts=texts,
                labels=labels,
            )
    except csv.Error as exc:
        raise DataFileError(f"{path}, line {reader.line_num}: {exc}") from exc
    return texts, labels


def _read_jsonl(path: Path, content: str, text_col: str, label_col: str) -> tuple[list[str], list[str]]:
    texts: list[str] = []
    labels: list[str] = []
    for line, raw in enumerate(content.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            record = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise DataFileError(f"{path}, line {line}: invalid JSON ({exc.msg})") from exc
        if not isinstance(record, dict):
            raise DataFileError(f"{path}, line {line}: expected a JSON object")
        for col in (text_col, label_col):
            if col not in record:
                raise DataFileError(f"{path}, line {line}: missing column {col!r}")
        _append(
            path=path,
            line=line,
            text=record[text_col],
            label=record[label_col],
            text_col=text_col,
            label_col=label_col,
            texts=texts,
            labels=labels,
        )
    return texts, labels


def _append(
    *,
    path: Path,
    line: int,
    text: object,
    label: object,
    text_col: str,
    label_col: str,
    texts: list[str],
    labels: list[str],
) -> None:
    text_s = "" if text is None else str(text).strip()
    label_s = "" if label is None else str(label).strip()
    if not label_s:
        raise DataFileError(f"{path}, line {line}: empty label in column {label_col!r}")
    if not text_s:
        raise DataFileError(f"{path}, line {line}: empty text in column {text_col!r}")
    texts.append(text_s)
    labels.append(label_s)


def _data_text(name: str) -> str:
    return resources.files("nlp.data").joinpath(name).read_text(encoding="utf-8")


def shipped_examples(name: str = TRAIN_FILE) -> tuple[list[str], list[str]]:
    """The Edunex examples shipped in the package (``edunex-train.csv`` or ``edunex-test.csv``)."""
    texts: list[str] = []
    labels: list[str] = []
    for row in csv.DictReader(io.StringIO(_data_text(name), newline="")):
        texts.append(row["text"])
        labels.append(row["label"])
    return texts, labels


def seed_templates() -> list[SeedTemplate]:
    templates: list[SeedTemplate] = []
    for line in _data_text(TEMPLATES_FILE).splitlines():
        if not line.strip():
            continue
        record = json.loads(line)
        lang = record["lang"]
        if lang not in ("id", "en"):
            raise DataFileError(f"{TEMPLATES_FILE}: unknown language {lang!r}")
        templates.append(SeedTemplate(category=record["category"], lang=lang, body=record["body"]))
    return templates
