"""The diagonal-corrected low-rank leave-one-out measured by bench/lowrank_diag.py: K ≈ ΦΦᵀ + D, against
a brute-force inverse and, at full rank (D = 0), the exact formula. (Its block correction is the library's:
tests/test_block_loo.py.)"""

import importlib.util
from pathlib import Path

import numpy as np
import torch

from trainfree.kernels import arccos_gram
from trainfree.linalg.loo_predictions import loo_predictions, one_vs_rest
from trainfree.linalg.lowrank_loo import LowRankSpectrum
from trainfree.scores.cg import unit_rows

_spec = importlib.util.spec_from_file_location("lowrank_diag", Path(__file__).parents[1] / "bench" / "lowrank_diag.py")
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)


def _brute(Phi, D, Y, ridge):
    inv = torch.linalg.inv(Phi @ Phi.T + torch.diag(D + ridge))
    return Y - (inv @ Y) / inv.diagonal()[:, None]


def test_corrected_leave_one_out_against_brute_force_inverse():
    rng = np.random.default_rng(0)
    n, r = 50, 8
    Phi = torch.as_tensor(rng.normal(size=(n, r)))
    kdiag = Phi.square().sum(1) + torch.as_tensor(rng.uniform(0.0, 2.0, n))  # a kernel diagonal above ‖φ‖²
    kdiag[:5] = Phi[:5].square().sum(1)  # landmark-like rows: nothing left over
    D = bench.diagonal_residual(Phi, kdiag)
    np.testing.assert_allclose(D[:5].numpy(), 0.0, atol=1e-12)
    assert float(D[5:].min()) > 0
    Y = torch.as_tensor(one_vs_rest(rng.integers(0, 3, n), 3))
    ridge = 0.2
    spec = LowRankSpectrum.from_sums(*bench.corrected_sums(Phi, Y, D, ridge))
    brute = _brute(Phi, D, Y, ridge)
    F = bench.lowrank_loo_corrected(Phi, Y, D, spec, ridge)
    np.testing.assert_allclose(F.numpy(), brute.numpy(), rtol=1e-9, atol=1e-9)
    # the sums add over row blocks, and a block is predicted from the sums over all rows
    parts = [bench.corrected_sums(Phi[a:a + 20], Y[a:a + 20], D[a:a + 20], ridge) for a in range(0, n, 20)]
    spec_blocks = LowRankSpectrum.from_sums(sum(p[0] for p in parts), sum(p[1] for p in parts))
    np.testing.assert_allclose(bench.lowrank_loo_corrected(Phi[20:40], Y[20:40], D[20:40], spec_blocks, ridge).numpy(),
                               brute[20:40].numpy(), rtol=1e-9, atol=1e-9)
    # the correction changes the predictions: it is not the uncorrected formula in disguise
    plain = _brute(Phi, torch.zeros(n, dtype=torch.float64), Y, ridge)
    assert float((F - plain).abs().max()) > 1e-2


def test_full_rank_correction_is_zero_and_gives_the_exact_leave_one_out():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(60, 5))
    y = rng.integers(0, 3, 60)
    K = arccos_gram(torch.as_tensor(unit_rows(X, "raw")))
    Y = torch.as_tensor(one_vs_rest(y, 3))
    ridge = 0.05
    exact, _ = loo_predictions(K.clone(), Y, ridge)
    Phi = torch.linalg.cholesky(K)  # r = n: ΦΦᵀ = K
    D = bench.diagonal_residual(Phi, K.diagonal())
    assert float(D.max()) < 1e-12
    spec = LowRankSpectrum.from_sums(*bench.corrected_sums(Phi, Y, D, ridge))
    F = bench.lowrank_loo_corrected(Phi, Y, D, spec, ridge)
    np.testing.assert_allclose(F.numpy(), exact.numpy(), rtol=1e-8, atol=1e-8 * float(exact.abs().max()))


def test_residual_stats_of_an_exact_and_a_truncated_factor():
    X = unit_rows(np.random.default_rng(3).normal(size=(70, 6)), "raw")
    K = arccos_gram(torch.as_tensor(X))
    full = bench.residual_stats(torch.linalg.cholesky(K), X, rows=30)
    assert full["diag_mean"] < 1e-10 and full["offdiag_abs_row_sum"] < 1e-8
    cut = bench.residual_stats(torch.linalg.cholesky(K)[:, :5], X, rows=30)
    assert cut["diag_mean"] > 1e-3 and cut["offdiag_abs_row_sum"] > 1e-3 and 0 < cut["top50_share_median"] <= 1
