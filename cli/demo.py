"""`cbrtl demo ...`: a synthetic catalogue to try cbrtl with, and benchmark folders."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from itertools import chain
from pathlib import Path

import click

from cli.imports import load_with_progress
from cli.session import unit_of_work
from cli.synth import synth_command
from db.errors import InvalidInput
from db.services import bulk_load
from db.services import videos as videos_service
from db.settings import Settings
from db.storage import make_storage
from workers.datasets.movielens import LAYOUTS, ML_LATEST, write_latest
from workers.datasets.synthetic import DAY_S, DEFAULT_END, SyntheticCatalogue
from workers.media.samples import make_sample_clip

SOURCE = "demo"
_COUNT = click.IntRange(1, 100_000_000)


@click.group("demo")
def demo_group() -> None:
    """Synthetic data: a demo catalogue, a platform at scale, or MovieLens-layout folders."""


demo_group.add_command(synth_command)


@demo_group.command("seed")
@click.option("--if-empty", is_flag=True, help="do nothing when there is content already")
@click.option("--titles", default=400, show_default=True, type=_COUNT)
@click.option("--users", default=1_000, show_default=True, type=_COUNT)
@click.option("--ratings", default=30_000, show_default=True, type=_COUNT)
@click.option("--seed", default=42, show_default=True, type=int)
@click.option(
    "--videos",
    default=3,
    show_default=True,
    type=click.IntRange(0, 50),
    help="sample clips (ffmpeg test patterns) for the first titles, queued for transcoding",
)
@click.pass_obj
def seed(
    settings: Settings,
    if_empty: bool,
    titles: int,
    users: int,
    ratings: int,
    seed: int,
    videos: int,
) -> None:
    """Fill the catalogue with synthetic titles, users and ratings (source "demo").

    Ratings fall in the three years up to today (UTC midnight), so seeding again
    on the same day with the same options changes nothing.
    """
    if if_empty:
        with unit_of_work(settings) as session:
            empty = bulk_load.catalogue_is_empty(session=session)
        if not empty:
            click.echo("the catalogue has content already: nothing seeded")
            return
    today = int(time.time()) // DAY_S * DAY_S
    catalogue = _catalogue(titles, users, ratings, seed, end=today)
    load_with_progress(
        settings,
        source=SOURCE,
        titles=catalogue.titles,
        ratings=_ratings(catalogue),
        users=(),
        user_label="Demo user",
        expected_rows=titles + ratings,
    )
    if videos:
        _sample_videos(settings, videos)


@demo_group.command("export-movielens")
@click.argument("path", type=click.Path(file_okay=False, path_type=Path))
@click.option("--ratings", default=1_000_000, show_default=True, type=_COUNT)
@click.option("--titles", default=None, type=_COUNT, help="default: ratings / 100")
@click.option("--users", default=None, type=_COUNT, help="default: ratings / 50")
@click.option("--seed", default=42, show_default=True, type=int)
def export_movielens(
    path: Path, ratings: int, titles: int | None, users: int | None, seed: int
) -> None:
    """Write a synthetic folder in the ml-latest layout (for `cbrtl import movielens`)."""
    taken = [name for name in LAYOUTS[ML_LATEST] if (path / name).exists()]
    if taken:
        raise InvalidInput(f"{path} holds {taken[0]} already; choose an empty folder.")
    started = time.monotonic()
    titles = titles or max(10, ratings // 100)
    users = users or max(10, ratings // 50)
    catalogue = _catalogue(titles, users, ratings, seed, end=DEFAULT_END)  # same seed, same files
    write_latest(path, catalogue.titles, chain.from_iterable(c.rows() for c in catalogue.ratings()))
    click.echo(
        f"wrote {titles} titles, {users} users and {ratings} ratings to {path} "
        f"in {time.monotonic() - started:.1f} s"
    )


def _sample_videos(settings: Settings, count: int) -> None:
    """Give the first demo titles without a video a short clip each, and queue them."""
    with unit_of_work(settings) as session, tempfile.TemporaryDirectory() as tmp:
        storage = make_storage(settings)
        targets = videos_service.titles_without_video(session=session, source=SOURCE, limit=count)
        for n, content_id in enumerate(targets):
            clip = make_sample_clip(Path(tmp) / f"sample-{n}.mp4", pattern=n)
            job = videos_service.add_local_source(
                session=session, storage=storage, content_id=content_id, path=clip
            )
            click.echo(f"content {content_id}: sample video, transcode job {job.id} queued")


def _catalogue(titles: int, users: int, ratings: int, seed: int, *, end: int) -> SyntheticCatalogue:
    try:
        return SyntheticCatalogue(titles=titles, users=users, ratings=ratings, seed=seed, end=end)
    except ValueError as error:
        raise InvalidInput(f"Cannot make that catalogue: {error}.") from error


def _ratings(catalogue: SyntheticCatalogue) -> Iterator[bulk_load.RatingIn]:
    for chunk in catalogue.ratings():
        for user, title, score, stamp in chunk.rows():
            yield str(user), str(title), score, datetime.fromtimestamp(stamp, UTC)
