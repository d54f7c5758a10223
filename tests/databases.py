"""A SQLite-only database fixture, for tests whose subject no database changes (an origin check, a body
refused before anything is stored): they need not run twice."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest


@pytest.fixture
def sqlite_url(tmp_path: Path, _templates: dict[str, str]) -> str:
    target = tmp_path / "sqlite-only.sqlite3"
    shutil.copyfile(_templates["sqlite"], target)
    return f"sqlite://{target}"
