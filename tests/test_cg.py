"""CG-score against its literal leave-one-out definition and analytic properties."""

import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from trainfree import TrainfreeError
from trainfree.kernels import arccos_gram
from trainfree.linalg import one_vs_rest
from trainfree.result import load_result
from trainfree.scores import CGResult, cg_score
from trainfree.scores.cg import unit_rows


def brute_force_cg(X, y, preprocess="center"):
    """yᵀH⁻¹y − y₋ᵢᵀ(H₋ᵢ)⁻¹y₋ᵢ for every i, one-vs-rest, by n explicit solves per class."""
    H = arccos_gram(torch.as_tensor(unit_rows(X, preprocess))).numpy()
    codes = np.unique(y, return_inverse=True)[1]
    Y = one_vs_rest(codes, codes.max() + 1)
    out = np.empty(len(y))
    for i in range(len(y)):
        yc, keep = Y[:, codes[i]], np.arange(len(y)) != i
        out[i] = yc @ np.linalg.solve(H, yc) - yc[keep] @ np.linalg.solve(H[np.ix_(keep, keep)], yc[keep])
    return out


def blobs(rng, n_per=15, n_classes=3, d=6, sep=1.5):
    X = np.concatenate([rng.normal(sep * k, 1.0, (n_per, d)) for k in range(n_classes)])
    return X, np.repeat(np.arange(n_classes), n_per)


@pytest.mark.parametrize("preprocess", ["center", "raw"])
@pytest.mark.parametrize("n_classes", [2, 4])
def test_exact_matches_literal_leave_one_out(rng, preprocess, n_classes):
    X, y = blobs(rng, n_classes=n_classes)
    res = cg_score(X, y, preprocess=preprocess)
    np.testing.assert_allclose(res.scores, brute_force_cg(X, y, preprocess), rtol=1e-8, atol=0)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31), n=st.integers(6, 24), d=st.integers(2, 8), k=st.integers(2, 4))
def test_exact_matches_definition_on_random_problems(seed, n, d, k):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    y = np.arange(n) % k
    res = cg_score(X, y)
    ref = brute_force_cg(X, y)
    np.testing.assert_allclose(res.scores, ref, rtol=1e-6, atol=1e-9 * np.abs(ref).max())


def test_partial_terms_sum_to_score_and_flag_sign(rng):
    X, y = blobs(rng)
    res = cg_score(X, y)
    total = res["partial_sq"] + res["partial_label"] + res["partial_diag"]
    np.testing.assert_allclose(total, res.scores, rtol=1e-10)
    np.testing.assert_array_equal(res.flags, res["partial_label"] > 0)
    assert (res["partial_sq"] >= 0).all() and (res["partial_diag"] > 0).all()


def test_partial_terms_match_explicit_inverse(rng):
    X, y = blobs(rng, n_classes=2)
    res = cg_score(X, y)
    Hinv = np.linalg.inv(arccos_gram(torch.as_tensor(unit_rows(X))).numpy())
    i = 7
    yc = np.where(y == y[i], 1.0, -1.0)
    keep = np.arange(len(y)) != i
    h, d = Hinv[keep, i], Hinv[i, i]
    np.testing.assert_allclose([res["partial_sq"][i], res["partial_label"][i], res["partial_diag"][i]],
                               [(yc[keep] @ h) ** 2 / d, 2 * yc[i] * (yc[keep] @ h), d], rtol=1e-9)


def test_multiclass_equals_per_class_binary_problems(rng):
    X, y = blobs(rng, n_classes=3)
    res = cg_score(X, y)
    for c in range(3):
        binary = cg_score(X, (y == c).astype(int))  # +1 own class, −1 the rest
        mask = y == c
        np.testing.assert_allclose(res.scores[mask], binary.scores[mask], rtol=1e-10)


def test_invariant_to_row_order(rng):
    X, y = blobs(rng)
    perm = rng.permutation(len(y))
    np.testing.assert_allclose(cg_score(X[perm], y[perm]).scores, cg_score(X, y).scores[perm], rtol=1e-9)


def test_mislabelled_point_gets_high_score_and_flag(rng):
    X, y = blobs(rng, n_per=20, n_classes=2, sep=3.0)
    y = y.copy()
    y[3] = 1  # a class-0 point labelled 1
    res = cg_score(X, y)
    assert res.scores.argmax() == 3
    assert res.flags[3] and res.flags.sum() <= 3


def test_duplicate_rows_use_recorded_jitter(rng):
    X, y = blobs(rng, n_classes=2)
    X = np.r_[X, X[:1]]
    y = np.r_[y, y[:1]]
    with pytest.warns(UserWarning, match="jitter"):
        res = cg_score(X, y)
    assert res.jitter > 0 and res.settings["jitter_used"] == res.jitter
    assert np.isfinite(res.scores).all()
    # Removing one of two identical, equally labelled points hardly changes the complexity.
    assert res.scores[0] < np.median(res.scores) and res.scores[-1] < np.median(res.scores)


def test_no_jitter_on_well_posed_problem(rng):
    X, y = blobs(rng)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert cg_score(X, y).jitter == 0.0


def test_stochastic_full_ratio_equals_exact_binary(rng):
    # With every other-class example sampled, the stochastic score is the exact one-vs-rest score.
    X, y = blobs(rng, n_classes=2)
    sto = cg_score(X, y, method="stochastic", ratio=1.0, n_repeats=2, random_state=1)
    np.testing.assert_allclose(sto.scores, cg_score(X, y).scores, rtol=1e-9)
    np.testing.assert_allclose(sto["stderr"], 0, atol=1e-9 * sto.scores.max())
    assert (sto["n_scored"] == 2).all()


def test_stochastic_matches_manual_subsample_average(rng):
    X, y = blobs(rng, n_per=12, n_classes=3)
    res = cg_score(X, y, method="stochastic", ratio=1.0, n_repeats=3, random_state=5)
    seeds = np.random.SeedSequence(5).spawn(9)
    Xn = unit_rows(X)
    manual = np.zeros(len(y))
    for c in range(3):
        own, others = np.flatnonzero(y == c), np.flatnonzero(y != c)
        for s in seeds[3 * c:3 * c + 3]:
            idx = np.r_[own, np.random.default_rng(s).choice(others, own.size, replace=False)]
            H = arccos_gram(torch.as_tensor(Xn[idx])).numpy()
            yy = np.r_[np.ones(own.size), -np.ones(own.size)]
            Hinv = np.linalg.inv(H)
            manual[own] += ((Hinv @ yy) ** 2 / np.diag(Hinv))[: own.size] / 3
    np.testing.assert_allclose(res.scores, manual, rtol=1e-7)


# What the README promises for float64 across n_jobs and joblib backends (see "Parallel and distributed work").
PARALLEL_RTOL = 1e-9


def test_stochastic_is_seeded_and_parallel_invariant(rng):
    X, y = blobs(rng)
    a = cg_score(X, y, method="stochastic", ratio=0.5, n_repeats=3, random_state=3)
    b = cg_score(X, y, method="stochastic", ratio=0.5, n_repeats=3, random_state=3, n_jobs=2)
    c = cg_score(X, y, method="stochastic", ratio=0.5, n_repeats=3, random_state=4)
    # The guarantee: identical draws whatever n_jobs (so the same examples are scored the same number of
    # times), equal scores up to the rounding of reductions run on other thread counts.
    np.testing.assert_array_equal(a["n_scored"], b["n_scored"])
    np.testing.assert_allclose(a.scores, b.scores, rtol=PARALLEL_RTOL, atol=0)
    assert not np.allclose(a.scores, c.scores, rtol=1e-3)
    assert a.seed == 3 and b.seed == 3


def test_float32_close_to_float64(rng):
    X, y = blobs(rng, sep=3.0)
    s64 = cg_score(X, y).scores
    s32 = cg_score(X, y, dtype="float32").scores
    assert np.corrcoef(s32, s64)[0, 1] > 0.999


def test_result_roundtrip(tmp_path, rng):
    X, y = blobs(rng)
    res = cg_score(X, y)
    path = res.save(tmp_path / "scores.parquet")
    back = load_result(path)
    assert type(back) is CGResult
    np.testing.assert_array_equal(back.scores, res.scores)
    np.testing.assert_array_equal(back.flags, res.flags)
    assert back.settings["method"] == "exact" and "total_s" in back.timings and back.seed is None
    assert np.isnan(back.stderr).all() and list(back.columns)[:2] == ["score", "stderr"]
    with pytest.raises(TrainfreeError, match="Parquet"):
        res.save(tmp_path / "scores.xlsx")  # .parquet and .csv only
    with pytest.raises(ValueError, match="read-only"):
        res.scores[0] = 1.0


@pytest.mark.parametrize("X, y, match", [
    (np.array([[1.0, np.nan], [0.0, 1.0], [1.0, 1.0]]), [0, 1, 0], "NaN"),
    (np.array([[1.0, np.inf], [0.0, 1.0], [1.0, 1.0]]), [0, 1, 0], "infinite"),
    (np.ones((4, 3)) + np.eye(4, 3), [0, 1, 0], "inconsistent numbers of samples"),
    (np.eye(4), [1, 1, 1, 1], "at least 2"),
    (np.arange(4.0), [0, 1, 0, 1], "one row per example"),
    (np.empty((0, 3)), [], "minimum of 2"),
    (np.eye(3), [[0, 1], [1, 0], [0, 1]], "1-D array of class labels"),
    (np.eye(3), [0.5, 1, 0], "non-integer"),
    ([["a", "b"], ["c", "d"]], [0, 1], "numeric array"),
])
def test_bad_input_raises_clear_error(X, y, match):
    with pytest.raises(TrainfreeError, match=match):
        cg_score(X, y)


def test_bad_parameters_and_zero_rows(rng):
    X, y = blobs(rng)
    with pytest.raises(TrainfreeError, match="'method' parameter"):
        cg_score(X, y, method="fast")
    with pytest.raises(TrainfreeError, match="'ratio' parameter .* range"):
        cg_score(X, y, method="stochastic", ratio=-1)
    with pytest.raises(TrainfreeError, match="zero norm"):
        cg_score(np.r_[X, np.zeros((1, X.shape[1]))], np.r_[y, 0], preprocess="raw")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error raised when no CUDA GPU is present")
def test_cuda_requested_without_gpu_is_refused(rng):
    X, y = blobs(rng)
    with pytest.raises(TrainfreeError, match="no CUDA GPU"):
        cg_score(X, y, device="cuda")


def test_row_equal_to_column_mean_is_refused_with_its_row_number(rng):
    X, y = blobs(rng)
    # A row equal to the mean of the others is also the mean of all rows: centring leaves rounding noise.
    X = np.r_[X, X.mean(axis=0, keepdims=True)]
    y = np.r_[y, 0]
    with pytest.raises(TrainfreeError, match=f"row\\(s\\) {len(X) - 1}.*preprocess='raw'"):
        cg_score(X, y)
    assert np.isfinite(cg_score(X, y, preprocess="raw").scores).all()


@pytest.mark.parametrize("scale", [1e155, 1e300])
def test_huge_values_keep_their_direction(rng, scale):
    X, y = blobs(rng)
    ref = cg_score(X, y)
    big = cg_score(X * scale, y)
    # The score depends on directions only: scaling every value changes nothing (up to rounding).
    np.testing.assert_allclose(big.scores, ref.scores, rtol=1e-9)
    assert not np.allclose(big.scores, 2.0)


def test_one_repeat_has_undefined_stderr(rng):
    X, y = blobs(rng)
    one = cg_score(X, y, method="stochastic", ratio=0.5, n_repeats=1, random_state=0)
    assert np.isnan(one.stderr).all() and (one["n_scored"] == 1).all()
    two = cg_score(X, y, method="stochastic", ratio=0.5, n_repeats=2, random_state=0)
    assert np.isfinite(two.stderr).all() and (two.stderr > 0).any()


def test_memory_check_counts_concurrent_work_units(rng):
    X, y = blobs(rng, n_per=40)
    n_unit = 40 + int(np.ceil(0.5 * 40))  # own class plus ratio × as many others
    need_one = 3 * n_unit**2 * 8 + n_unit * X.shape[1] * 8
    budget = 1.5 * need_one  # one unit fits; two at once do not
    cg_score(X, y, method="stochastic", ratio=0.5, n_repeats=1, n_jobs=1, max_memory_bytes=budget, random_state=0)
    with pytest.raises(TrainfreeError, match="2 concurrent work units"):
        cg_score(X, y, method="stochastic", ratio=0.5, n_repeats=1, n_jobs=2, max_memory_bytes=budget, random_state=0)


def test_memory_estimate_refuses_and_names_alternative(rng):
    X, y = blobs(rng)
    with pytest.raises(TrainfreeError, match="GiB.*stochastic"):
        cg_score(X, y, max_memory_bytes=1000)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_matches_cpu(rng):
    X, y = blobs(rng)
    np.testing.assert_allclose(cg_score(X, y, device="cuda").scores, cg_score(X, y).scores, rtol=1e-8)


def test_stochastic_on_dask_cluster_equals_local(rng):
    distributed = pytest.importorskip("dask.distributed")
    from joblib import parallel_config

    X, y = blobs(rng)
    local = cg_score(X, y, method="stochastic", ratio=0.5, n_repeats=2, random_state=9)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster, distributed.Client(cluster):
        with parallel_config(backend="dask"):
            remote = cg_score(X, y, method="stochastic", ratio=0.5, n_repeats=2, random_state=9, n_jobs=2)
    np.testing.assert_array_equal(remote["n_scored"], local["n_scored"])
    np.testing.assert_allclose(remote.scores, local.scores, rtol=PARALLEL_RTOL, atol=0)
