"""The solvers behind exact and large-n CG: in-place factorisation, CG, chunked diag(H⁻¹), resumable units."""

import io
import sys
import textwrap
import warnings

import numpy as np
import pytest
import torch
from scipy.stats import spearmanr

from trainfree import TrainfreeError
from trainfree.kernels import arccos_gram
from trainfree.linalg import (cholesky_solve_diag, conjugate_gradients, jittered_cholesky, nystrom_preconditioner,
                              one_vs_rest, rp_cholesky)
from trainfree.linalg.arccos_solve import chunk_partition, exact_solve, large_solve
from trainfree.scores import cg_score
from trainfree.scores.cg import unit_rows


def unit(rng, n, d=12):
    X = rng.normal(size=(n, d))
    return X / np.linalg.norm(X, axis=1, keepdims=True)


def blobs(rng, n_per=60, n_classes=3, d=10):
    X = np.concatenate([rng.normal(0.8 * k, 1.0, (n_per, d)) for k in range(n_classes)])
    return X, np.repeat(np.arange(n_classes), n_per)


@pytest.mark.parametrize("ridge", [0.0, 0.3])
def test_exact_solve_matches_explicit_inverse(rng, ridge):
    Xn = unit(rng, 80)
    Y = rng.normal(size=(80, 3))
    Hinv = np.linalg.inv(arccos_gram(torch.as_tensor(Xn)).numpy() + ridge * np.eye(80))
    alpha, d, info = exact_solve(Xn, Y, ridge=ridge)
    np.testing.assert_allclose(alpha, Hinv @ Y, rtol=1e-9, atol=1e-9 * np.abs(Hinv @ Y).max())
    np.testing.assert_allclose(d, np.diag(Hinv), rtol=1e-10)
    assert info["jitter"] == 0.0


def test_in_place_cholesky_refills_after_failure():
    H = torch.tensor([[1.0, 1.0], [1.0, 1.0]], dtype=torch.float64)  # singular: needs jitter
    calls = []

    def refill(buf):
        calls.append(1)
        buf.copy_(torch.tensor([[1.0, 1.0], [1.0, 1.0]], dtype=torch.float64))

    L, jitter = jittered_cholesky(H, refill=refill)
    assert L.data_ptr() == H.data_ptr() and jitter > 0 and calls
    np.testing.assert_allclose((L @ L.T).numpy(), [[1 + jitter, 1], [1, 1 + jitter]], rtol=1e-12)


def test_cholesky_solve_diag_in_row_blocks(rng):
    A = rng.normal(size=(50, 50))
    H = A @ A.T + 50 * np.eye(50)
    Y = rng.normal(size=(50, 2))
    L = torch.linalg.cholesky(torch.as_tensor(H)).contiguous()
    X, d = cholesky_solve_diag(L, torch.as_tensor(Y), block_rows=7)
    np.testing.assert_allclose(d.numpy(), np.diag(np.linalg.inv(H)), rtol=1e-12)
    np.testing.assert_allclose(X.numpy(), np.linalg.solve(H, Y), rtol=1e-10)


def test_conjugate_gradients_all_columns(rng):
    A = rng.normal(size=(40, 40))
    H = torch.as_tensor(A @ A.T + np.eye(40))
    B = torch.as_tensor(rng.normal(size=(40, 4)))
    X, info = conjugate_gradients(lambda V: H @ V, B, tol=1e-12, max_iter=200)
    np.testing.assert_allclose(X.numpy(), np.linalg.solve(H.numpy(), B.numpy()), rtol=1e-8, atol=1e-10)
    assert info["converged"] and info["residual"] < 1e-10


def test_rp_cholesky_and_nystrom_preconditioner(rng):
    """Full rank: F Fᵀ = H and P⁻¹H = λ_min·I. Rank 30: the residual diagonal shrinks and the condition
    number falls (80 → 19 here: the top 30 eigenvalues are mapped below the 31st's scale)."""
    Xn = unit(rng, 150)
    H = arccos_gram(torch.as_tensor(Xn))
    F, piv = rp_cholesky(lambda S: H[:, S], H.diagonal().clone(), 150, rng=np.random.default_rng(0), block=40)
    assert len(np.unique(piv)) == len(piv) == F.shape[1]
    np.testing.assert_allclose((F @ F.T).numpy(), H.numpy(), atol=1e-9)
    apply, info = nystrom_preconditioner(F)
    lam = np.linalg.eigvalsh(H.numpy())
    np.testing.assert_allclose(np.linalg.eigvals(apply(H).numpy()).real, lam.min(), rtol=1e-6)
    F, _ = rp_cholesky(lambda S: H[:, S], H.diagonal().clone(), 30, rng=np.random.default_rng(0), block=10)
    assert F.shape == (150, 30) and float((H.diagonal() - F.square().sum(1)).max()) < 0.5
    apply, info = nystrom_preconditioner(F)
    mu = np.linalg.eigvals(apply(H).numpy()).real
    assert mu.max() / mu.min() < lam.max() / lam.min() / 3 and mu.max() < 3 * lam[-31]


def test_chunk_partition_is_stratified_and_covers_each_example_once_per_repeat():
    strata = np.repeat([0, 1, 2], [40, 20, 60])
    parts = chunk_partition(strata, 30, 2, np.random.SeedSequence(0))
    assert len(parts) == 8
    for r in range(2):
        idx = np.concatenate(parts[4 * r:4 * r + 4])
        np.testing.assert_array_equal(np.sort(idx), np.arange(120))
    for p in parts:
        np.testing.assert_array_equal(np.bincount(strata[p], minlength=3), [10, 5, 15])


@pytest.mark.parametrize("ridge", [0.0, 0.5])
def test_large_solve_with_one_chunk_is_exact(rng, ridge):
    """chunk_size = n: the chunk is the whole set, so d is exact, and α is exact up to the CG tolerance."""
    Xn = unit(rng, 200)
    Y = one_vs_rest(np.arange(200) % 3, 3)
    a0, d0, _ = exact_solve(Xn, Y, ridge=ridge)
    a1, d1, info = large_solve(Xn, Y, ridge=ridge, chunk_size=200, rank=40, tol=1e-10, gram_dtype="float64",
                               random_state=0)
    np.testing.assert_allclose(d1, d0, rtol=1e-10)
    np.testing.assert_allclose(a1, a0, rtol=0, atol=1e-7 * np.abs(a0).max())
    assert info["converged"] and info["n_chunks"] == 1 and info["iterations"] > 0


def test_large_method_ranks_like_exact(rng):
    X, y = blobs(rng, n_per=100)
    exact = cg_score(X, y)
    large = cg_score(X, y, method="large", chunk_size=150, rank=60, random_state=0)
    assert spearmanr(exact.scores, large.scores)[0] > 0.97
    assert large.settings["converged"] and large.settings["n_chunks"] == 2
    assert large.seed == 0 and "cg_s" in large.timings


def test_large_non_convergence_warns_with_numbers(rng):
    Xn = unit(rng, 120)
    with pytest.warns(UserWarning, match=r"stopped after 1 iterations at relative residual \d"):
        _, _, info = large_solve(Xn, np.ones((120, 1)), chunk_size=60, rank=5, max_iter=1, random_state=0)
    assert not info["converged"]


def test_stochastic_checkpoint_resumes_and_refuses_other_settings(rng, tmp_path):
    X, y = blobs(rng, n_per=20)
    ref = cg_score(X, y, method="stochastic", ratio=1.0, n_repeats=3, random_state=4)
    first = cg_score(X, y, method="stochastic", ratio=1.0, n_repeats=3, random_state=4, checkpoint=tmp_path)
    units = sorted(tmp_path.glob("unit-*.npz"))
    assert len(units) == 9
    units[0].unlink()  # as if killed before the last unit finished
    again = cg_score(X, y, method="stochastic", ratio=1.0, n_repeats=3, random_state=4, checkpoint=tmp_path)
    np.testing.assert_allclose(first.scores, ref.scores, rtol=1e-12)
    np.testing.assert_allclose(again.scores, ref.scores, rtol=1e-12)
    with pytest.raises(TrainfreeError, match=r"different run \(ratio: saved 1\.0, now 2\.0\)"):
        cg_score(X, y, method="stochastic", ratio=2.0, n_repeats=3, random_state=4, checkpoint=tmp_path)
    with pytest.raises(TrainfreeError, match=r"different run \(data"):
        cg_score(X[::-1], y, method="stochastic", ratio=1.0, n_repeats=3, random_state=4, checkpoint=tmp_path)


KILLED_RUN = textwrap.dedent("""
    import sys, numpy as np
    from trainfree.scores import cg_score
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(0.8 * k, 1.0, (150, 10)) for k in range(3)])
    y = np.repeat(np.arange(3), 150)
    kw = dict(method=sys.argv[1], chunk_size=50, n_chunk_repeats=4, ratio=1.0, n_repeats=20, rank=50,
              random_state=1, n_jobs=1)
    res = cg_score(X, y, checkpoint=sys.argv[2], **kw)
    fresh = cg_score(X, y, **kw)  # uninterrupted, and saving no units
    np.save(sys.argv[3], np.stack([res.scores, fresh.scores]))
""")
# Work units of that run: 450 rows in chunks of 50, 4 chunkings, then the solution (large); 3 classes × 20
# repeats (stochastic).
KILLED_RUN_UNITS = {"large": 450 // 50 * 4 + 1, "stochastic": 3 * 20}


@pytest.mark.parametrize("method, k", [("large", 5), ("large", 36),  # 36: every chunk saved, the solve not
                                       pytest.param("stochastic", 5, marks=pytest.mark.slow)])
def test_sigkilled_run_resumes_to_the_uninterrupted_result(tmp_path, method, k, script_runner):
    script, folder, n_units = tmp_path / "run.py", tmp_path / "units", KILLED_RUN_UNITS[method]
    script.write_text(KILLED_RUN)
    assert script_runner.run(script, method, folder, tmp_path / "killed.npy", kill_after=k) == k
    assert len(list(folder.glob("unit-*.npz"))) == k and not (tmp_path / "killed.npy").exists()
    # A kill mid-write may leave a temp file, never a torn unit; the resumed run removes it.
    (folder / "unit-chunk-99999.npz.torn.tmp").write_bytes(b"PK\x03")
    assert script_runner.run(script, method, folder, tmp_path / "resumed.npy") == n_units - k
    assert not list(folder.glob("*.tmp")) and len(list(folder.glob("unit-*.npz"))) == n_units
    resumed, fresh = np.load(tmp_path / "resumed.npy")
    np.testing.assert_allclose(resumed, fresh, rtol=1e-10)


def test_large_on_dask_cluster_with_two_worker_processes_equals_local(rng):
    distributed = pytest.importorskip("dask.distributed")
    from joblib import parallel_config

    X, y = blobs(rng, n_per=50)
    local = cg_score(X, y, method="large", chunk_size=50, rank=30, random_state=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # dask's own start-up chatter (ports, resource limits)
        with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                      dashboard_address=None) as cluster, distributed.Client(cluster):
            with parallel_config(backend="dask"):
                remote = cg_score(X, y, method="large", chunk_size=50, rank=30, random_state=3, n_jobs=2)
    np.testing.assert_allclose(remote.scores, local.scores, rtol=1e-9, atol=0)


def test_large_refuses_gpu_and_bad_options(rng):
    X, y = blobs(rng, n_per=10)
    with pytest.raises(TrainfreeError, match="'chunk_size' parameter"):
        cg_score(X, y, method="large", chunk_size=1)
    with pytest.raises(TrainfreeError, match="needs about .* GiB"):
        cg_score(X, y, method="large", max_memory_bytes=1000)


def test_unit_rows_are_what_large_solve_expects(rng):
    X, y = blobs(rng, n_per=10)
    assert np.allclose(np.linalg.norm(unit_rows(X), axis=1), 1.0)


def test_lapack_threads_get_the_cores_no_other_process_runs_on(monkeypatch):
    from trainfree.linalg import threads

    monkeypatch.setattr(threads.os, "cpu_count", lambda: 4)
    for others, expected in ((0, None), (1, 3), (3, 1), (9, 1)):
        monkeypatch.setattr(threads, "_other_runnable", lambda others=others: others)
        assert threads._lapack_threads() == expected
    before = torch.get_num_threads()
    with threads.lapack_threads():
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    monkeypatch.setattr(threads, "_other_runnable", lambda: None)  # no /proc: the load average decides
    monkeypatch.setattr(threads.os, "getloadavg", lambda: (4.5, 4.0, 1.0))
    assert threads._lapack_threads() is None
    monkeypatch.setattr(threads.os, "getloadavg", lambda: (9.0, 9.0, 9.0))
    assert threads._lapack_threads() == 1


def test_other_runnable_threads_exclude_this_process(monkeypatch):
    from trainfree.linalg import threads

    # A fake /proc: 7 threads runnable machine-wide, of which 2 are this process's (one thread's command
    # name holds ") R", which must not be read as its state); 7 - 2 = 5 belong to other processes.
    proc = {"/proc/loadavg": "3.10 2.00 1.50 7/412 4242\n",
            "/proc/self/task/11/stat": "11 (python) R 1 11 11 0 -1",
            "/proc/self/task/12/stat": "12 (a) R b) S 1 11 11 0 -1",
            "/proc/self/task/13/stat": "13 (worker) R 1 11 11 0 -1",
            "/proc/self/task/14/stat": "14 (worker) D 1 11 11 0 -1"}

    def fake_open(path):
        if path not in proc:
            raise FileNotFoundError(path)
        return io.StringIO(proc[path])

    real = threads._other_runnable() if sys.platform == "linux" else 0
    assert type(real) is int and real >= 0  # a real /proc is read, not given up on
    monkeypatch.setattr(threads, "open", fake_open, raising=False)
    monkeypatch.setattr(threads.os, "listdir", lambda path: ["11", "12", "13", "14"])
    assert threads._other_runnable() == 5
    proc["/proc/loadavg"] = "0.10 0.20 0.30 1/412 4242\n"  # read before our threads woke: never below 0
    assert threads._other_runnable() == 0
    del proc["/proc/self/task/14/stat"]  # a thread that exited between listdir and open: unknown
    assert threads._other_runnable() is None


def test_score_fingerprint_ignores_last_bit_rounding_but_not_real_changes():
    from trainfree._runs import data_fingerprint, score_fingerprint

    a = np.random.default_rng(0).normal(size=1000)
    b = a * (1 + 4e-16)  # what another BLAS thread count can do to computed scores
    assert data_fingerprint(a) != data_fingerprint(b) and score_fingerprint(a) == score_fingerprint(b)
    c = a.copy()
    c[7] += 1e-6
    assert score_fingerprint(a) != score_fingerprint(c)
