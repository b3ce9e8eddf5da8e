"""`cbrtl demo synth`: a platform at scale (viewers, titles, ratings, viewing history)
written straight into an empty database, for measuring cbrtl at millions of viewers."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import click
import numpy as np
import numpy.typing as npt

from cli.output import row_progress
from cli.session import unit_of_work
from db.errors import InvalidInput
from db.services import synth_load
from db.settings import Settings
from workers.datasets.synthetic import DAY_S, RatingChunk, SyntheticCatalogue
from workers.datasets.synthetic_views import ViewChunk, durations, views

_COUNT = click.IntRange(1, 1_000_000_000)
USER_CHUNK = 200_000
T = TypeVar("T")


@click.command("synth")
@click.option("--users", required=True, type=_COUNT, help="viewers")
@click.option("--titles", required=True, type=_COUNT)
@click.option("--ratings", required=True, type=click.IntRange(0, 10_000_000_000))
@click.option("--seed", default=42, show_default=True, type=int)
@click.option(
    "--views-per-rating",
    default=0.5,
    show_default=True,
    type=click.FloatRange(0, 20),
    help="titles watched and not rated, per rating (70% of ratings follow a view too)",
)
@click.option(
    "--chunk-size",
    default=500_000,
    show_default=True,
    type=click.IntRange(1_000, 10_000_000),
    help="ratings generated and written at a time (memory grows with it)",
)
@click.pass_obj
def synth_command(
    settings: Settings,
    users: int,
    titles: int,
    ratings: int,
    seed: int,
    views_per_rating: float,
    chunk_size: int,
) -> None:
    """Generate a realistic platform into an empty catalogue, in one transaction.

    Title popularity and viewer activity follow power laws, viewers have planted
    tastes (latent factors and genre affinities) that drive their half-star ratings
    and how far they watch; titles have genres, years and lengths. The same options
    and seed on the same day give the same platform; memory stays bounded by
    --chunk-size. Viewer accounts cannot sign in.
    """
    started = time.monotonic()
    today = int(time.time()) // DAY_S * DAY_S
    try:
        catalogue = SyntheticCatalogue(
            titles=titles, users=users, ratings=ratings, seed=seed, end=today, chunk_size=chunk_size
        )
    except ValueError as error:
        raise InvalidInput(f"Cannot make that platform: {error}.") from error
    with unit_of_work(settings) as session, row_progress("{task.description}") as bar:
        task = bar.add_task("ratings and views", total=ratings or None)
        offsets = synth_load.start(session=session)
        rng = np.random.default_rng([seed, 4])
        for first in range(1, users + 1, USER_CHUNK):
            numbers = np.arange(first, min(first + USER_CHUNK, users + 1), dtype=np.int64)
            joined = catalogue.end - catalogue.span_s - rng.integers(0, 365 * DAY_S, len(numbers))
            synth_load.users(session, offsets, numbers, joined)
        lengths = durations(catalogue)
        listed = catalogue.titles
        synth_load.titles(
            session,
            [t.title for t in listed],
            np.array([t.release_year for t in listed], dtype=np.int64),
            lengths,
            catalogue.end - rng.integers(0, catalogue.span_s, titles),
            [t.genres for t in listed],
        )
        written_ratings = written_views = 0
        for chunk, seen in _ahead(_chunks(catalogue, lengths, seed, views_per_rating)):
            synth_load.ratings(
                session, offsets, chunk.users, chunk.titles, chunk.scores, chunk.timestamps
            )
            synth_load.views(
                session,
                offsets,
                seen.users,
                seen.titles,
                seen.positions_s,
                seen.completed,
                seen.timestamps,
            )
            written_ratings += len(chunk)
            written_views += len(seen)
            bar.update(task, completed=written_ratings)
        bar.update(task, description="title stats")
        synth_load.finish(session=session, offsets=offsets)
        bar.update(task, description="committing")
    click.echo(
        f"synthesised {users} viewers, {titles} titles, {written_ratings} ratings and "
        f"{written_views} views in {time.monotonic() - started:.1f} s"
    )


def _chunks(
    catalogue: SyntheticCatalogue, lengths: npt.NDArray[np.float64], seed: int, per_rating: float
) -> Iterator[tuple[RatingChunk, ViewChunk]]:
    view_rng = np.random.default_rng([seed, 2])
    for chunk in catalogue.ratings():
        yield chunk, views(catalogue, chunk, lengths, view_rng, per_rating)


def _ahead(chunks: Iterator[T]) -> Iterator[T]:
    """The next chunk is generated (NumPy, mostly outside the GIL) while PostgreSQL
    takes in this one; one chunk ahead at most, so memory stays bounded."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="synth") as pool:
        pending = pool.submit(next, chunks, None)
        while (item := pending.result()) is not None:
            pending = pool.submit(next, chunks, None)
            yield item
