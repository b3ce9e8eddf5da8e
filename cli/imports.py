"""`cbrtl import movielens PATH`: a MovieLens folder into the catalogue, in one transaction."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import click

from cli.output import row_progress
from cli.session import unit_of_work
from db.errors import InvalidInput
from db.services import bulk_load
from db.settings import Settings
from workers.datasets import Rating
from workers.datasets.movielens import DatasetError, open_folder


@click.group("import")
def import_group() -> None:
    """Bring in catalogues and ratings from elsewhere."""


@import_group.command("movielens")
@click.argument("path", type=click.Path(file_okay=False, path_type=Path))
@click.option("--source", default=None, help="what imported rows are keyed by; default: the layout")
@click.pass_obj
def movielens_command(settings: Settings, path: Path, source: str | None) -> None:
    """Import a MovieLens folder: ml-100k (u.data, u.item) or ml-latest (ratings.csv, movies.csv).

    Titles, users and ratings are upserted, so importing the same folder again
    changes nothing; a malformed row stops the import with nothing written.
    """
    try:
        folder = open_folder(path)
        load_with_progress(
            settings,
            source=source or folder.layout,
            titles=folder.titles(),
            ratings=_as_tuples(folder.ratings()),
            users=folder.users(),
            user_label="MovieLens user",
            expected_rows=folder.count_rows(),
        )
    except DatasetError as error:
        raise InvalidInput(str(error)) from error


def load_with_progress(
    settings: Settings,
    *,
    source: str,
    titles: Iterable[bulk_load.TitleIn],
    ratings: Iterable[bulk_load.RatingIn],
    users: Iterable[str],
    user_label: str,
    expected_rows: int,
) -> None:
    """One transaction with a progress bar; then one summary line."""
    started = time.monotonic()
    with unit_of_work(settings) as session, row_progress(f"importing {source}") as bar:
        task = bar.add_task("import", total=None)
        result = bulk_load.load(
            session=session,
            source=source,
            titles=titles,
            ratings=ratings,
            users=users,
            user_label=user_label,
            expected_rows=expected_rows,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )
    click.echo(
        f"imported {source}: {_counts(result.titles, 'titles')}, "
        f"{result.users.total} users ({result.users.new} new), "
        f"{_counts(result.ratings, 'ratings')} in {time.monotonic() - started:.1f} s"
    )


def _counts(counts: bulk_load.Counts, what: str) -> str:
    return f"{counts.total} {what} ({counts.new} new, {counts.updated} updated)"


def _as_tuples(ratings: Iterable[Rating]) -> Iterator[bulk_load.RatingIn]:
    for r in ratings:
        yield r.user_source_id, r.movie_source_id, r.score, r.rated_at
