"""SharedRows: a row is built once per TTL, and every time when the TTL is 0."""

from __future__ import annotations

from typing import Any

from web.discovery.shared_rows import SharedRows


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def counting_builder() -> tuple[list[int], Any]:
    calls: list[int] = []

    def build() -> list[dict[str, Any]]:
        calls.append(1)
        return [{"id": len(calls)}]

    return calls, build


def test_a_row_is_built_once_per_ttl() -> None:
    clock = Clock()
    rows = SharedRows(30, clock=clock)
    calls, build = counting_builder()
    assert rows.get("genre:Drama", build) == [{"id": 1}]
    clock.now += 29.9
    assert rows.get("genre:Drama", build) == [{"id": 1}]
    assert len(calls) == 1
    clock.now += 0.2
    assert rows.get("genre:Drama", build) == [{"id": 2}]
    assert len(calls) == 2


def test_rows_are_kept_apart_and_ttl_zero_keeps_nothing() -> None:
    rows = SharedRows(30, clock=Clock())
    calls, build = counting_builder()
    rows.get("genre:Drama", build)
    rows.get("genre:Comedy", build)
    assert len(calls) == 2
    never = SharedRows(0, clock=Clock())
    never.get("trending", build)
    never.get("trending", build)
    assert len(calls) == 4


def test_distinct_keys_never_grow_the_store_past_its_bound() -> None:
    clock = Clock()
    rows = SharedRows(30, clock=clock, max_rows=8)
    calls, build = counting_builder()
    for n in range(300):
        rows.get(f"genre:{n}", build)
    assert len(rows) == 8
    assert len(calls) == 300
    # The newest keys are the ones kept; an old one is built again.
    rows.get("genre:299", build)
    assert len(calls) == 300
    rows.get("genre:0", build)
    assert len(calls) == 301 and len(rows) == 8


def test_expired_rows_leave_the_store() -> None:
    clock = Clock()
    rows = SharedRows(30, clock=clock)
    _, build = counting_builder()
    for n in range(20):
        rows.get(f"genre:{n}", build)
    clock.now += 31
    rows.get("trending", build)
    assert len(rows) == 1
