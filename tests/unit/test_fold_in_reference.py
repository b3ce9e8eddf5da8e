"""The per-rating refresh's vectorised maths against straightforward references."""

from __future__ import annotations

import numpy as np
import numpy.testing as npt
import pytest
from threadpoolctl import ThreadpoolController

from workers.recommender.data import Interactions
from workers.recommender.ease import EASE
from workers.recommender.svd import SVDRatings
from workers.recommender.synthetic import planted_ratings


def random_svd(rng: np.random.Generator, n_items: int = 300, n_factors: int = 20) -> SVDRatings:
    model = SVDRatings(reg_bu=0.05, reg_pu=0.2)
    model.global_mean = 3.6
    model.item_bias = rng.normal(0, 0.4, n_items).astype(np.float32)
    model.item_factors = rng.normal(0, 0.3, (n_items, n_factors)).astype(np.float32)
    return model


def reference_svd_fold_in(
    model: SVDRatings, items: list[int], scores: list[float]
) -> tuple[float, np.ndarray]:
    """The ridge problem written out rating by rating, solved as augmented least squares."""
    n_factors = model.item_factors.shape[1]
    design, target = [], []
    for item, score in zip(items, scores, strict=True):
        design.append([1.0, *model.item_factors[item].astype(np.float64)])
        target.append(score - model.global_mean - float(model.item_bias[item]))
    # reg·|x|² per rating, as rows sqrt(reg·n)·e_j appended to the design.
    weights = [0.05 * len(items)] + [0.2 * len(items)] * n_factors
    design += [[np.sqrt(w) if j == i else 0.0 for j in range(n_factors + 1)]
               for i, w in enumerate(weights)]  # fmt: skip
    target += [0.0] * (n_factors + 1)
    solution = np.linalg.lstsq(np.array(design), np.array(target), rcond=None)[0]
    return float(solution[0]), solution[1:]


@pytest.mark.parametrize("count", [1, 2, 7, 40, 250])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_svd_fold_in_solves_the_ridge_problem_written_out(count: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    model = random_svd(rng)
    items = rng.choice(len(model.item_bias), count, replace=False)
    scores = rng.integers(1, 11, count) / 2
    bias, factors = model.fold_in(items, scores)
    expected_bias, expected_factors = reference_svd_fold_in(model, items.tolist(), scores.tolist())
    assert factors.dtype == np.float32 and factors.shape == (model.item_factors.shape[1],)
    npt.assert_allclose(bias, expected_bias, rtol=1e-6, atol=1e-9)
    npt.assert_allclose(factors, expected_factors, rtol=1e-5, atol=1e-7)


def test_svd_fold_in_of_nothing_is_the_mean_user() -> None:
    model = random_svd(np.random.default_rng(3))
    bias, factors = model.fold_in(np.array([], dtype=np.int64), [])
    assert bias == 0.0
    npt.assert_array_equal(factors, np.zeros(model.item_factors.shape[1], np.float32))


def test_the_fold_in_runs_blas_on_one_thread_and_restores_the_count(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    blas = ThreadpoolController().select(user_api="blas")
    if not len(blas):
        pytest.skip("no BLAS threadpoolctl can control in this process")

    def threads() -> list[int]:
        return [library["num_threads"] for library in blas.info()]

    during: list[list[int]] = []
    solve = np.linalg.solve

    def spied_solve(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        during.append(threads())
        return solve(a, b)

    monkeypatch.setattr(np.linalg, "solve", spied_solve)
    with blas.limit(limits=2):  # as training runs, whatever this machine's default
        random_svd(np.random.default_rng(4)).fold_in(np.arange(50), np.full(50, 4.0))
        assert during == [[1] * len(blas)]
        assert threads() == [2] * len(blas)


def fitted_ease(max_items: int) -> EASE:
    p = planted_ratings(120, 80, 3_000, seed=5)
    model = EASE(l2=20.0, max_items=max_items)
    model.fit(Interactions.from_arrays(p.user_ids, p.item_ids, p.scores))
    return model


@pytest.mark.parametrize("max_items", [80, 50])
def test_ease_fold_in_is_the_sum_of_the_rated_items_weight_rows(max_items: int) -> None:
    model = fitted_ease(max_items)
    position = {int(item): p for p, item in enumerate(model.modelled_items)}
    rng = np.random.default_rng(6)
    for count in (0, 1, 5, 30):
        rated = rng.choice(80, count).tolist()  # repeats and unmodelled items included
        expected = np.zeros(len(model.modelled_items), np.float64)
        for item in set(rated):
            if item in position:
                expected += model.weights[position[item]]
        spread = np.full(80, -np.inf)
        spread[model.modelled_items] = expected
        npt.assert_allclose(model.fold_in(np.array(rated, dtype=np.int64)), spread, rtol=1e-5,
                            atol=1e-6)  # fmt: skip
