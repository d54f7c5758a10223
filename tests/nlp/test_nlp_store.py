from __future__ import annotations

from pathlib import Path

import pytest

from nlp.classifier import load_classifier
from nlp.model import TrainResult
from nlp.store import ModelStore, StoreError


def test_versions_activate_and_restore(trained: TrainResult, tmp_path: Path) -> None:
    store = ModelStore(tmp_path)
    shipped_version = load_classifier(tmp_path).version
    first = store.save(trained.model, note="first")
    assert store.active_version() is None
    assert load_classifier(tmp_path).version == shipped_version

    store.activate(first)
    second = store.save(trained.model, note="second")
    store.activate(second)
    assert (first, second) == ("v0001-" + trained.model.fingerprint(), "v0002-" + trained.model.fingerprint())
    assert load_classifier(tmp_path).version == second
    assert [(v.version, v.active, v.note) for v in store.list()] == [
        (first, False, "first"),
        (second, True, "second"),
    ]

    assert store.restore_previous() == first
    assert load_classifier(tmp_path).version == first
    assert store.restore_previous() is None
    assert load_classifier(tmp_path).version == shipped_version
    with pytest.raises(StoreError):
        store.restore_previous()


def test_unknown_version_cannot_be_activated(tmp_path: Path) -> None:
    with pytest.raises(StoreError):
        ModelStore(tmp_path).activate("v0042-abcdef")


def test_damaged_active_model_falls_back_to_shipped(trained: TrainResult, tmp_path: Path) -> None:
    store = ModelStore(tmp_path)
    version = store.save(trained.model)
    store.activate(version)
    store.path_of(version).write_bytes(b"garbage")
    assert load_classifier(tmp_path).version == load_classifier().version


def test_a_candidate_can_be_discarded_but_a_model_that_served_cannot(trained: TrainResult, tmp_path: Path) -> None:
    store = ModelStore(tmp_path)
    served = store.save(trained.model, note="candidate")
    store.activate(served)
    store.annotate(served, "activated")
    candidate = store.save(trained.model, note="candidate")
    store.discard(candidate)
    assert [(v.version, v.note) for v in store.list()] == [(served, "activated")]
    assert not store.path_of(candidate).exists()
    with pytest.raises(StoreError, match="kept so it can be restored"):
        store.discard(served)
    with pytest.raises(StoreError):
        store.discard(candidate)  # gone already
    assert store.active_version() == served
