from __future__ import annotations

from pathlib import Path

import pytest

from db.errors import InvalidInput
from db.passwords import hash_password, verify_password
from db.services.jobs import backoff_s
from db.services.ratings import validate_score
from db.storage import FileStorage
from web.errors import _flatten


def test_flatten_webargs_messages() -> None:
    assert _flatten({"json": {"score": ["Not a valid number."]}}) == {
        "score": "Not a valid number."
    }
    assert _flatten({"json": {"genres": {"1": ["Too long."]}}}) == {"genres.1": "Too long."}
    assert _flatten({"json": ["Invalid JSON body."]}) == {"body": "Invalid JSON body."}


@pytest.mark.parametrize("score", [0.5, 1, 3.5, 5.0])
def test_valid_scores(score: float) -> None:
    assert validate_score(score) == score


@pytest.mark.parametrize("score", [0, 0.25, 2.3, 5.5, -1])
def test_invalid_scores(score: float) -> None:
    with pytest.raises(InvalidInput) as caught:
        validate_score(score)
    assert "score" in caught.value.details


def test_backoff_grows_and_is_capped() -> None:
    assert all(0 <= backoff_s(0) <= 2 for _ in range(100))
    assert max(backoff_s(3) for _ in range(200)) > 2
    assert all(backoff_s(30) <= 300 for _ in range(100))


def test_passwords() -> None:
    hashed = hash_password("a long enough pass")
    assert hashed.startswith("$argon2id$")
    assert verify_password(hashed, "a long enough pass")
    assert not verify_password(hashed, "wrong")
    assert not verify_password(None, "anything")


def test_file_storage_round_trip_and_refuses_escapes(tmp_path: Path) -> None:
    storage = FileStorage(tmp_path)
    storage.put_bytes("a/b.txt", b"hello", content_type="text/plain")
    assert storage.get_bytes("a/b.txt") == b"hello"
    with pytest.raises(ValueError, match="escapes"):
        storage.put_bytes("../outside", b"x", content_type="text/plain")
    storage.check()
