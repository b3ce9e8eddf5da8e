#!/usr/bin/env python3
"""Recommender engines on MovieLens 100k and on synthetic sets of 100k to 5M ratings.

    .venv/bin/python bench/recommender_eval.py [--data ../shared/datasets/ml-100k]
                                               [--search] [--sizes 100k,1M,5M]
                                               [--scale-models ease,svd] [--json out.json]

Sections, in one run:

quality   workers.recommender.evaluate on ml-100k: EASE (l2 chosen on a split of
          the training data), SVDRatings with the tuned parameters, SVDRatings with
          Surprise's default parameters, most popular and random. RMSE/MAE are
          5-fold CV (Surprise's KFold folds, seed 42); the top-10 metrics use the
          per-user 75/25 split with seed 42 (Microsoft Recommenders' stratified
          split).
bulk      one tuned SVD model fitted on all of ml-100k: every user x every item
          predicted in bulk (predict_matrix) versus a per-pair loop, both Surprise's
          `algo.predict(raw_uid, raw_iid)` and SVDRatings.predict(u, i). The loops
          run over a sample of users and are extrapolated to all users.
search    (--search) the 5-fold CV grid behind svd.TUNED.
scale     for each size and model, a fresh subprocess generates a planted synthetic
          set, fits the model and scores top-10 lists for every user; it reports the
          times and its peak RSS (getrusage ru_maxrss), also as it was before the fit.

The data set is read from --data and never written anywhere.
"""

from __future__ import annotations

import argparse
import itertools
import json
import platform
import resource
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from benchlib import ML100K_DIR

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
# Measure the checkout this script sits in, not whatever the editable install points at.
sys.path.insert(0, str(REPO))

from workers.recommender.baselines import MostPopular  # noqa: E402
from workers.recommender.data import Interactions  # noqa: E402
from workers.recommender.ease import EASE  # noqa: E402
from workers.recommender.evaluate import evaluate  # noqa: E402
from workers.recommender.metrics import mae, rmse  # noqa: E402
from workers.recommender.model import Recommender  # noqa: E402
from workers.recommender.splits import kfold  # noqa: E402
from workers.recommender.svd import SURPRISE_DEFAULTS, TUNED, SVDRatings  # noqa: E402
from workers.recommender.synthetic import planted_ratings  # noqa: E402
from workers.recommender.top_n import top_n  # noqa: E402

DEFAULT_DATA = ML100K_DIR
# ratings: (users, items), in MovieLens-like proportions.
SIZES = {
    "100k": (100_000, 1_000, 1_700),
    "1M": (1_000_000, 6_000, 4_000),
    "5M": (5_000_000, 30_000, 20_000),
}
# EASE's l2 is fixed in the scaling runs: choosing it from the grid refits once
# per grid value, which multiplies the fit time by about len(L2_GRID) + 1.
SCALE_EASE_L2 = 400.0
SCALE_MODELS: dict[str, Callable[[], Recommender]] = {
    "ease": lambda: EASE(l2=SCALE_EASE_L2),
    "svd": SVDRatings,
    "most_popular": MostPopular,
}
SEARCH_GRID: dict[str, list[float]] = {
    "n_factors": [50, 100, 200],
    "n_epochs": [40, 80, 120],
    "lr_all": [0.005, 0.01],
    "reg_all": [0.05, 0.1, 0.15],
}
LOOP_SAMPLE_USERS = 20
QUALITY_COLUMNS = (
    *("name", "rmse", "mae", "precision", "recall", "ndcg", "map", "coverage"),
    *("fit_seconds", "top_n_seconds"),
)
SCALE_COLUMNS = (
    *("size", "model", "users", "items", "fit_seconds", "top_n_seconds"),
    *("fit_plus_top_n_seconds", "peak_rss_before_fit_mib", "peak_rss_mib", "error"),
)


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def load_ml100k(folder: Path) -> Interactions:
    """u.data in file order (the splits' reproducibility depends on that order)."""
    raw = np.loadtxt(folder / "u.data", dtype=np.int64, usecols=(0, 1, 2))
    return Interactions.from_arrays(raw[:, 0], raw[:, 1], raw[:, 2])


def quality(data: Interactions) -> list[dict[str, Any]]:
    candidates: dict[str, Callable[[], Recommender]] = {
        "ease": EASE,
        "svd_tuned": SVDRatings,
        "svd_surprise_defaults": lambda: SVDRatings(**SURPRISE_DEFAULTS),
    }
    return evaluate(
        candidates, data, k=10, seed=42, progress=lambda f, m: log(f"quality {f:.0%} {m}")
    )


def bulk_versus_loop(data: Interactions) -> dict[str, Any]:
    model = SVDRatings()
    model.fit(data)
    assert model.algo is not None
    all_users = np.arange(data.n_users, dtype=np.int32)
    bulk_runs = []
    for _ in range(5):
        started = time.perf_counter()
        bulk = model.predict_matrix(all_users)
        bulk_runs.append(time.perf_counter() - started)
    started = time.perf_counter()
    top_n(model.score, data.n_users, 10, exclude=data.matrix())
    top_n_seconds = time.perf_counter() - started

    sample = np.random.default_rng(0).choice(data.n_users, LOOP_SAMPLE_USERS, replace=False)
    raw_items = data.items.tolist()
    started = time.perf_counter()
    theirs = [
        [model.algo.predict(int(data.users[u]), raw_item).est for raw_item in raw_items]
        for u in sample
    ]
    surprise_seconds = time.perf_counter() - started
    started = time.perf_counter()
    ours = [[model.predict(int(u), i) for i in range(data.n_items)] for u in sample]
    ours_seconds = time.perf_counter() - started
    scale = data.n_users / LOOP_SAMPLE_USERS
    bulk_seconds = float(np.median(bulk_runs))
    return {
        "pairs": data.n_users * data.n_items,
        "bulk_seconds_median_of_5": bulk_seconds,
        "top_n_all_users_seconds": top_n_seconds,
        "loop_sample_users": LOOP_SAMPLE_USERS,
        "surprise_predict_loop_seconds_extrapolated": surprise_seconds * scale,
        "svdratings_predict_loop_seconds_extrapolated": ours_seconds * scale,
        "speedup_vs_surprise_predict": surprise_seconds * scale / bulk_seconds,
        "speedup_vs_svdratings_predict": ours_seconds * scale / bulk_seconds,
        "max_abs_difference_vs_surprise": float(np.abs(bulk[sample] - np.array(theirs)).max()),
        "max_abs_difference_vs_own_loop": float(np.abs(bulk[sample] - np.array(ours)).max()),
    }


def search(data: Interactions) -> list[dict[str, Any]]:
    """5-fold CV RMSE for every combination of SEARCH_GRID (plus Surprise's defaults)."""
    combos: list[dict[str, Any]] = [
        dict(zip(SEARCH_GRID, values, strict=True))
        for values in itertools.product(*SEARCH_GRID.values())
    ]
    combos.insert(0, dict(SURPRISE_DEFAULTS))
    folds = list(kfold(data, 5, seed=42))
    rows = []
    for number, params in enumerate(combos, start=1):
        started = time.perf_counter()
        rmses, maes = [], []
        for train, test in folds:
            model = SVDRatings(**params)
            model.fit(train)
            predicted = model.predict_pairs(test.user_index, test.item_index)
            rmses.append(rmse(test.scores, predicted))
            maes.append(mae(test.scores, predicted))
        rows.append(
            {
                **params,
                "rmse": float(np.mean(rmses)),
                "rmse_std": float(np.std(rmses)),
                "mae": float(np.mean(maes)),
                "seconds": time.perf_counter() - started,
            }
        )
        log(f"search {number}/{len(combos)} {params} rmse {rows[-1]['rmse']:.4f}")
    return sorted(rows, key=lambda row: row["rmse"])


def scale_child(size: str, model_name: str) -> dict[str, Any]:
    """Runs in its own process so that ru_maxrss is this size's and model's alone."""
    n_ratings, n_users, n_items = SIZES[size]
    started = time.perf_counter()
    planted = planted_ratings(n_users, n_items, n_ratings, seed=7)
    data = Interactions.from_arrays(planted.user_ids, planted.item_ids, planted.scores)
    del planted
    generated = time.perf_counter()
    rss_before_fit = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    model = SCALE_MODELS[model_name]()
    model.fit(data)
    fitted = time.perf_counter()
    items, _ = top_n(model.score, data.n_users, 10, exclude=data.matrix())
    scored = time.perf_counter()
    return {
        "size": size,
        "model": model_name,
        "ratings": len(data),
        "users": data.n_users,
        "items": data.n_items,
        "generate_seconds": generated - started,
        "fit_seconds": fitted - generated,
        "top_n_seconds": scored - fitted,
        "fit_plus_top_n_seconds": scored - generated,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "peak_rss_before_fit_mib": rss_before_fit / 1024,
        "lists_filled": float((items >= 0).mean()),
        "params": {k: v for k, v in model.params.items() if k != "validation_ndcg@10"},
    }


def scale(sizes: Sequence[str], models: Sequence[str], timeout: float) -> list[dict[str, Any]]:
    rows = []
    for size in sizes:
        for name in models:
            log(f"scale {size} {name}")
            try:
                done = subprocess.run(
                    [sys.executable, __file__, "--scale-child", size, name],
                    capture_output=True,
                    text=True,
                    timeout=timeout,
                    check=True,
                )
                rows.append(json.loads(done.stdout))
            except subprocess.TimeoutExpired:
                rows.append({"size": size, "model": name, "error": f"over {timeout:.0f} s"})
            except subprocess.CalledProcessError as failed:
                rows.append({"size": size, "model": name, "error": failed.stderr[-500:]})
            log(f"scale {size} {name}: {rows[-1]}")
    return rows


def table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    def cell(value: Any) -> str:
        if value is None:
            return "—"
        if isinstance(value, float):
            return f"{value:.4f}" if abs(value) < 10 else f"{value:.1f}"
        return str(value)

    lines = ["| " + " | ".join(columns) + " |", "|" + " --- |" * len(columns)]
    lines += ["| " + " | ".join(cell(row.get(c)) for c in columns) + " |" for row in rows]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="ml-100k folder")
    parser.add_argument("--search", action="store_true", help="run the SVD parameter grid")
    parser.add_argument("--sizes", default="100k,1M,5M", help="comma list of " + ",".join(SIZES))
    parser.add_argument("--scale-models", default="ease,svd,most_popular")
    parser.add_argument("--scale-timeout", type=float, default=1800, help="seconds per child")
    parser.add_argument("--skip", default="", help="comma list of sections to skip")
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    parser.add_argument("--scale-child", nargs=2, metavar=("SIZE", "MODEL"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.scale_child:
        print(json.dumps(scale_child(*args.scale_child)))
        return 0

    skip = set(filter(None, args.skip.split(",")))
    results: dict[str, Any] = {
        "started": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "tuned": TUNED,
    }
    data = load_ml100k(args.data)
    if "quality" not in skip:
        results["quality"] = quality(data)
        print(
            table(
                results["quality"],
                QUALITY_COLUMNS,
            )
        )
        print(json.dumps({row["name"]: row["params"] for row in results["quality"]}))
    if "bulk" not in skip:
        results["bulk"] = bulk_versus_loop(data)
        print(json.dumps(results["bulk"], indent=1))
    if args.search:
        results["search"] = search(data)
        print(table(results["search"], [*SEARCH_GRID, "rmse", "rmse_std", "mae", "seconds"]))
    if "scale" not in skip:
        results["scale"] = scale(
            args.sizes.split(","), args.scale_models.split(","), args.scale_timeout
        )
        print(
            table(
                results["scale"],
                SCALE_COLUMNS,
            )
        )
    results["finished"] = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
