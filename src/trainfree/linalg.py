"""Dense solvers shared by the scores: a Cholesky factorisation that recovers from near-singularity.

Issue-tracked large-n solvers (blocked / preconditioned iterative) belong here too, beside this one.
"""

from __future__ import annotations

import torch

from ._errors import TrainfreeError

JITTERS = (0.0, 1e-10, 1e-8, 1e-6, 1e-4, 1e-2)  # diagonal jitter tried in turn, relative to the mean diagonal


def jittered_cholesky(H: torch.Tensor, *, what: str = "The Gram matrix H") -> tuple[torch.Tensor, float]:
    """Lower Cholesky factor of ``H`` (modified in place) with the smallest jitter from :data:`JITTERS` that works.

    A factorisation counts as failed when a pivot² falls below 10·sqrt(eps)·mean(diag): kernels
    built from arccos (whose slope is infinite at 1) make duplicate rows singular only up to
    ~sqrt(eps), so Cholesky can "succeed" with a tiny pivot and return meaningless solves.

    Returns
    -------
    L : Tensor
        The factor of ``H + jitter·I``.
    jitter : float
        The absolute jitter added to the diagonal (0.0 when none was needed).

    Examples
    --------
    >>> L, jitter = jittered_cholesky(torch.tensor([[4.0, 2.0], [2.0, 3.0]], dtype=torch.float64))
    >>> L.diagonal().tolist(), jitter
    ([2.0, 1.4142135623730951], 0.0)
    """
    scale, tiny = float(H.diagonal().mean()), 10 * torch.finfo(H.dtype).eps ** 0.5
    added = 0.0
    for jitter in JITTERS:
        H.diagonal().add_((jitter - added) * scale)  # in place: no second n×n matrix
        added = jitter
        L, info = torch.linalg.cholesky_ex(H)
        if int(info) == 0 and float(L.diagonal().min()) ** 2 > tiny * scale:
            return L, jitter * scale
        del L
    raise TrainfreeError(f"{what} is singular even with a diagonal jitter of {JITTERS[-1]:g}×mean(diag): the "
                         f"data have (near-)duplicate rows with conflicting labels. Remove duplicates, e.g. with "
                         f"np.unique(X, axis=0, return_index=True).")
