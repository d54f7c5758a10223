"""Fixed attack corpora: XSS payloads, SSRF media URLs and file paths, format-string templates and forgeries."""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).parent


def corpus(name: str) -> list[str]:
    """The lines of a corpus file, without its ``# `` comments and blank lines; every other line counts,
    spaces included."""
    lines = (HERE / name).read_text(encoding="utf-8").split("\n")
    return [line for line in lines if line and not line.startswith("# ")]
