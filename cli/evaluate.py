"""`cbrtl eval`: every candidate model and the baselines, on one table."""

from __future__ import annotations

import json
from pathlib import Path

import click
import numpy as np
from rich.progress import Progress

from cli.output import console, table
from cli.session import unit_of_work
from db.services import recommender
from db.settings import Settings
from workers.recommender.data import Interactions
from workers.recommender.ease import EASE
from workers.recommender.evaluate import ModelFactory, evaluate
from workers.recommender.svd import SURPRISE_DEFAULTS, SVDRatings

CANDIDATES: dict[str, ModelFactory] = {
    "ease": EASE,
    "svd_tuned": SVDRatings,
    "svd_surprise_defaults": lambda: SVDRatings(**SURPRISE_DEFAULTS),
}


def read_folder(path: Path) -> Interactions:
    """Ratings of a MovieLens folder: ml-100k's u.data or ml-latest's ratings.csv."""
    if (path / "u.data").is_file():
        rows = np.loadtxt(path / "u.data", dtype=np.float64, usecols=(0, 1, 2))
    elif (path / "ratings.csv").is_file():
        rows = np.loadtxt(
            path / "ratings.csv", dtype=np.float64, delimiter=",", skiprows=1, usecols=(0, 1, 2)
        )
    else:
        raise click.ClickException(f"{path}: neither u.data nor ratings.csv is there")
    rows = rows.reshape(-1, 3)
    return Interactions.from_arrays(
        rows[:, 0].astype(np.int64), rows[:, 1].astype(np.int64), rows[:, 2]
    )


def read_platform(settings: Settings) -> Interactions:
    with unit_of_work(settings) as session:
        arrays = recommender.load_ratings(session=session)
    return Interactions.from_arrays(
        np.frombuffer(arrays.user_ids, dtype=np.int64),
        np.frombuffer(arrays.content_ids, dtype=np.int64),
        np.frombuffer(arrays.scores, dtype=np.float32),
    )


@click.command("eval")
@click.option(
    "--dataset",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="a MovieLens-layout folder; default: the platform's own ratings",
)
@click.option("--k", default=10, show_default=True, type=click.IntRange(1, 100))
@click.option("--folds", default=5, show_default=True, type=click.IntRange(2, 10))
@click.option("--json", "as_json", is_flag=True, help="print the rows as JSON")
@click.pass_obj
def eval_command(
    settings: Settings, dataset: Path | None, k: int, folds: int, as_json: bool
) -> None:
    """Offline evaluation: RMSE/MAE (k-fold) and top-k metrics (per-user 75/25 split, seed 42)."""
    data = read_folder(dataset) if dataset else read_platform(settings)
    if len(data) < 50:
        raise click.ClickException(f"only {len(data)} ratings: too few to evaluate")
    with Progress(console=console, transient=True) as bar:
        task = bar.add_task("evaluating", total=1.0)
        rows = evaluate(
            CANDIDATES,
            data,
            k=k,
            folds=folds,
            progress=lambda done, message: bar.update(task, completed=done, description=message),
        )
    if as_json:
        click.echo(json.dumps(rows, indent=2, default=str))
        return

    def fmt(value: float | None) -> str:
        return "-" if value is None else f"{value:.4f}"

    table(
        f"{len(data)} ratings, {data.n_users} users, {data.n_items} items",
        ("model", "RMSE", "MAE", f"P@{k}", f"R@{k}", f"NDCG@{k}", f"MAP@{k}", "coverage"),
        [
            (
                r["name"],
                fmt(r["rmse"]),
                fmt(r["mae"]),
                fmt(r["precision"]),
                fmt(r["recall"]),
                fmt(r["ndcg"]),
                fmt(r["map"]),
                fmt(r["coverage"]),
            )
            for r in rows
        ],
    )
