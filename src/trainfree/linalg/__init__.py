"""The solvers the scores share, beside the kernels they factorise.

- :mod:`~trainfree.linalg.cholesky`: the jittered in-place Cholesky, diag(H⁻¹) from the factor, and the
  batched small factors and triangular solves of DAVINZ's coalitions;
- :mod:`~trainfree.linalg.pcg`: block preconditioned conjugate gradients;
- :mod:`~trainfree.linalg.nystrom`: randomly pivoted Cholesky and the Nyström preconditioner;
- :mod:`~trainfree.linalg.threads`: the one thread rule (``lapack_threads``, ``one_thread``);
- :mod:`~trainfree.linalg.arccos_solve`: α = (H + λI)⁻¹Y and diag((H + λI)⁻¹) for the arc-cosine H,
  exact (``exact_solve``) and for large n (``large_solve``);
- :mod:`~trainfree.linalg.loo_predictions`: the closed-form kernel leave-one-out predictions, their log
  loss over a ridge grid and their temperature (the detector's algebra);
- :mod:`~trainfree.linalg.lowrank_loo`: the same predictions from a low-rank factor K ≈ ΦΦᵀ (sums over rows,
  one r × r eigendecomposition for every ridge) and the Nyström map of landmarks;
- :mod:`~trainfree.linalg.block_loo`: those predictions with the exact residual K − ΦΦᵀ kept on blocks of rows.
"""

from .arccos_solve import exact_solve, large_solve
from .cholesky import JITTERS, cholesky, cholesky_solve_diag, jittered_cholesky, solve_lower, warn_jitter
from .loo_predictions import fit_temperature, loo_loss_path, loo_predictions, one_vs_rest
from .lowrank_loo import LowRankSpectrum, NystromMap, lowrank_loo, lowrank_loss_path
from .nystrom import nystrom_preconditioner, rp_cholesky
from .pcg import conjugate_gradients
from .threads import lapack_threads, one_thread, torch_threads

__all__ = ["JITTERS", "LowRankSpectrum", "NystromMap", "cholesky", "cholesky_solve_diag", "conjugate_gradients",
           "exact_solve", "fit_temperature", "jittered_cholesky", "lapack_threads", "large_solve", "loo_loss_path",
           "loo_predictions", "lowrank_loo", "lowrank_loss_path", "nystrom_preconditioner", "one_thread",
           "one_vs_rest", "rp_cholesky", "solve_lower", "torch_threads", "warn_jitter"]
