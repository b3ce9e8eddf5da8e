from __future__ import annotations

import pytest

from workers.recommender.data import Interactions
from workers.recommender.ease import EASE
from workers.recommender.evaluate import evaluate
from workers.recommender.svd import SVDRatings
from workers.recommender.synthetic import planted_ratings


def test_candidates_and_baselines_are_compared_on_both_protocols() -> None:
    p = planted_ratings(200, 120, 6_000, taste=6.0, zipf=0.5, seed=5)
    data = Interactions.from_arrays(p.user_ids, p.item_ids, p.scores)
    reports: list[tuple[float, str]] = []
    rows = evaluate(
        {
            "ease": lambda: EASE(l2=30.0),
            "svd": lambda: SVDRatings(n_factors=8, n_epochs=30, lr_all=0.01, reg_all=0.05),
        },
        data,
        k=5,
        progress=lambda fraction, message: reports.append((fraction, message)),
        folds=3,
    )
    by_name = {row["name"]: row for row in rows}
    assert list(by_name) == ["ease", "svd", "most_popular", "random"]
    assert by_name["svd"]["rmse"] is not None and len(by_name["svd"]["rmse_folds"]) == 3
    assert by_name["svd"]["rmse"] < data.scores.std()
    assert all(by_name[name]["rmse"] is None for name in ("ease", "most_popular", "random"))
    assert by_name["ease"]["params"]["l2"] == 30.0
    for row in rows:
        for metric in ("precision", "recall", "ndcg", "map", "coverage"):
            assert 0.0 <= row[metric] <= 1.0
    assert by_name["ease"]["ndcg"] > by_name["random"]["ndcg"]
    assert by_name["random"]["coverage"] > by_name["most_popular"]["coverage"]
    fractions = [fraction for fraction, _ in reports]
    assert fractions == sorted(fractions) and fractions[-1] == pytest.approx(1.0)
    assert len(reports) == 4 + 3
