"""Versioned model store: candidates are saved, one is active, and the previous one can be restored.

Layout under ``model_dir``::

    versions/v0001-<fingerprint>.zip   every saved model, never overwritten
    state.json                          {"active": ..., "history": [...], "versions": {...}}

``history`` is the stack of versions that were active, so "restore" simply goes back one step. The state
file is replaced atomically, so a crash mid-write leaves the previous state intact.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from nlp.model import LinearTextModel

_VERSION = re.compile(r"^v(\d{4,})-[0-9a-f]{1,64}$")


class StoreError(RuntimeError):
    pass


@dataclass(frozen=True, slots=True)
class VersionInfo:
    version: str
    path: Path
    created_at: str
    active: bool
    note: str
    metrics: dict[str, Any]


class ModelStore:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.versions_dir = self.root / "versions"
        self.state_path = self.root / "state.json"

    # -- state --------------------------------------------------------------------------------------
    def _read_state(self) -> dict[str, Any]:
        try:
            state = json.loads(self.state_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {"active": None, "history": [], "versions": {}}
        except (OSError, json.JSONDecodeError) as exc:
            raise StoreError(f"model store state {self.state_path} is unreadable: {exc}") from exc
        if not isinstance(state, dict):
            raise StoreError(f"model store state {self.state_path} is not a JSON object")
        state.setdefault("active", None)
        state.setdefault("history", [])
        state.setdefault("versions", {})
        return state

    def _write_state(self, state: dict[str, Any]) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.state_path.with_name("state.json.tmp")
        tmp.write_text(json.dumps(state, indent=1, sort_keys=True), encoding="utf-8")
        os.replace(tmp, self.state_path)

    # -- operations ---------------------------------------------------------------------------------
    def save(self, model: LinearTextModel, *, note: str = "", metrics: dict[str, Any] | None = None) -> str:
        """Store a candidate (not activated) and return its version id."""
        state = self._read_state()
        numbers = [int(m.group(1)) for v in state["versions"] if (m := _VERSION.match(v))]
        version = f"v{max(numbers, default=0) + 1:04d}-{model.fingerprint()}"
        model.meta["version"] = version
        model.save(self.versions_dir / f"{version}.zip")
        state["versions"][version] = {
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "note": note,
            "metrics": metrics or {},
        }
        self._write_state(state)
        return version

    def activate(self, version: str) -> None:
        state = self._read_state()
        if version not in state["versions"] or not self.path_of(version).is_file():
            raise StoreError(f"unknown model version {version!r}")
        if state["active"] == version:
            return
        if state["active"] is not None:
            state["history"].append(state["active"])
        state["active"] = version
        self._write_state(state)

    def annotate(self, version: str, note: str) -> None:
        state = self._read_state()
        if version not in state["versions"]:
            raise StoreError(f"unknown model version {version!r}")
        state["versions"][version]["note"] = note
        self._write_state(state)

    def discard(self, version: str) -> None:
        """Forget a candidate that was never put in service; one that is or was active stays restorable."""
        state = self._read_state()
        if version not in state["versions"]:
            raise StoreError(f"unknown model version {version!r}")
        if version == state["active"] or version in state["history"]:
            raise StoreError(f"model version {version!r} has been active; it is kept so it can be restored")
        del state["versions"][version]
        self._write_state(state)
        self.path_of(version).unlink(missing_ok=True)

    def restore_previous(self) -> str | None:
        """Re-activate the version that was active before the current one.

        Returns the version now active, or None when that is the model shipped in the package (the
        first activated version has no predecessor in the store).
        """
        state = self._read_state()
        if state["active"] is None:
            raise StoreError("no model is active in this store; the shipped model is already in use")
        state["active"] = state["history"].pop() if state["history"] else None
        self._write_state(state)
        active: str | None = state["active"]
        return active

    def path_of(self, version: str) -> Path:
        if not _VERSION.match(version):
            raise StoreError(f"malformed model version {version!r}")
        return self.versions_dir / f"{version}.zip"

    def active_version(self) -> str | None:
        active: str | None = self._read_state()["active"]
        return active

    def active_path(self) -> Path | None:
        version = self.active_version()
        return None if version is None else self.path_of(version)

    def list(self) -> list[VersionInfo]:
        state = self._read_state()
        return [
            VersionInfo(
                version=version,
                path=self.path_of(version),
                created_at=str(info.get("created_at", "")),
                active=version == state["active"],
                note=str(info.get("note", "")),
                metrics=dict(info.get("metrics", {})),
            )
            for version, info in sorted(state["versions"].items())
        ]
