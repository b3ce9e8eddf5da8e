"""The job runner's bookkeeping waits out a database outage, then hands the message back."""

from __future__ import annotations

import pytest
from celery.exceptions import Reject
from sqlalchemy.exc import OperationalError

from tasks import job_runner


def down() -> OperationalError:
    return OperationalError("SELECT 1", {}, Exception("connection refused"))


def test_a_short_outage_is_waited_out(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(job_runner, "DATABASE_PAUSES_S", (0.0, 0.0, 0.0))
    calls: list[int] = []

    def step() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise down()
        return "claimed"

    assert job_runner._while_database_returns(step) == "claimed"
    assert len(calls) == 3


def test_a_long_outage_requeues_the_message(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(job_runner, "DATABASE_PAUSES_S", (0.0, 0.0))
    calls: list[int] = []

    def step() -> None:
        calls.append(1)
        raise down()

    with pytest.raises(Reject) as rejected:
        job_runner._while_database_returns(step)
    assert rejected.value.requeue is True
    assert len(calls) == 3  # one try per pause, and a last one


def test_other_errors_are_not_swallowed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(job_runner, "DATABASE_PAUSES_S", (0.0,))

    def step() -> None:
        raise KeyError("a bug")

    with pytest.raises(KeyError):
        job_runner._while_database_returns(step)
