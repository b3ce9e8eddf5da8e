from __future__ import annotations

from pathlib import Path

import numpy as np
from surprise import Dataset, Reader
from surprise.model_selection import KFold

from workers.recommender.data import Interactions
from workers.recommender.splits import kfold, per_user_split


def ratings(n_users: int = 40, seed: int = 3) -> Interactions:
    rng = np.random.default_rng(seed)
    users, items = [], []
    for user in range(n_users):
        count = int(rng.integers(1, 30))
        users += [user + 100] * count
        items += rng.choice(60, count, replace=False).tolist()
    return Interactions.from_arrays(users, items, rng.integers(1, 11, len(users)) / 2)


def keys(data: Interactions) -> set[tuple[int, int]]:
    return set(zip(data.user_index.tolist(), data.item_index.tolist(), strict=True))


def test_per_user_split_is_disjoint_complete_and_deterministic() -> None:
    data = ratings()
    train, test = per_user_split(data, seed=7)
    assert keys(train).isdisjoint(keys(test))
    assert keys(train) | keys(test) == keys(data)
    again_train, again_test = per_user_split(data, seed=7)
    assert keys(again_train) == keys(train) and keys(again_test) == keys(test)
    assert keys(per_user_split(data, seed=8)[1]) != keys(test)


def test_per_user_split_trains_on_floor_three_quarters_and_keeps_singletons() -> None:
    data = Interactions.from_arrays(
        [1] * 1 + [2] * 2 + [3] * 4 + [4] * 7,
        list(range(1)) + list(range(2)) + list(range(4)) + list(range(7)),
        [3.0] * 14,
    )
    train, test = per_user_split(data)
    per_user = np.bincount(train.user_index, minlength=4).tolist()
    assert per_user == [1, 1, 3, 5]  # 1 kept whole; floor(0.75 n) for the others
    assert np.bincount(test.user_index, minlength=4).tolist() == [0, 1, 1, 2]


def test_kfold_matches_surprise_kfold(tmp_path: Path) -> None:
    data = ratings(n_users=25)
    path = tmp_path / "ratings.tsv"
    columns = (data.users[data.user_index], data.items[data.item_index], data.scores)
    path.write_text("".join(f"{u}\t{i}\t{r}\n" for u, i, r in zip(*columns, strict=True)))
    reader = Reader(line_format="user item rating", sep="\t", rating_scale=(0.5, 5.0))
    surprise_data = Dataset.load_from_file(str(path), reader)
    ours = list(kfold(data, k=5, seed=11))
    theirs = list(KFold(n_splits=5, random_state=11).split(surprise_data))
    assert len(ours) == len(theirs) == 5
    covered: set[tuple[int, int]] = set()
    for (train, test), (_, their_test) in zip(ours, theirs, strict=True):
        mine = {(int(data.users[u]), int(data.items[i])) for u, i in keys(test)}
        assert mine == {(int(u), int(i)) for u, i, _ in their_test}
        assert keys(train).isdisjoint(keys(test))
        assert len(train) + len(test) == len(data)
        covered |= keys(test)
    assert covered == keys(data)
