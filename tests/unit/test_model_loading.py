"""tasks.recommender_io.load_model keeps each purpose's live model in memory."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pytest

from db.models import RecModel
from tasks import recommender_io


class Model:
    def __init__(self, payload: bytes) -> None:
        self.payload = payload

    @classmethod
    def from_bytes(cls, payload: bytes) -> Model:
        return cls(payload)


class Storage:
    def __init__(self) -> None:
        self.reads: list[str] = []

    def get_bytes(self, key: str) -> bytes:
        self.reads.append(key)
        if key.endswith("ids.npz"):
            out = io.BytesIO()
            np.savez(out, users=np.arange(3), items=np.arange(5))
            return out.getvalue()
        return key.encode()


@pytest.fixture
def storage(monkeypatch: pytest.MonkeyPatch) -> Storage:
    fake = Storage()
    monkeypatch.setattr(recommender_io, "make_storage", lambda _settings: fake)
    monkeypatch.setattr(recommender_io, "settings", lambda: None)
    monkeypatch.setattr(recommender_io, "MODEL_CLASSES", {"fake": Model})
    monkeypatch.setattr(recommender_io, "_loaded", {})
    return fake


def model(version: int, purpose: str) -> RecModel:
    key = f"models/{version}/model.bin"
    return RecModel(version=version, purpose=purpose, algorithm="fake", artifact_key=key)


def test_both_purposes_stay_loaded_across_refreshes(storage: Storage) -> None:
    ranking, rating = model(1, "ranking"), model(2, "rating")
    for _ in range(3):  # a refresh uses both, one after the other
        loaded: Any = recommender_io.load_model(ranking)[0]
        assert loaded.payload == b"models/1/model.bin"
        loaded = recommender_io.load_model(rating)[0]
        assert loaded.payload == b"models/2/model.bin"
    assert len(storage.reads) == 4  # each model and its ids, once


def test_a_new_version_replaces_its_purpose_only(storage: Storage) -> None:
    recommender_io.load_model(model(1, "ranking"))
    recommender_io.load_model(model(2, "rating"))
    newer = recommender_io.load_model(model(3, "ranking"))
    assert newer[0].payload == b"models/3/model.bin"
    assert list(newer[2]) == [0, 1, 2, 3, 4]
    recommender_io.load_model(model(2, "rating"))  # still held
    assert len(storage.reads) == 6
    assert set(recommender_io._loaded) == {"ranking", "rating"}
