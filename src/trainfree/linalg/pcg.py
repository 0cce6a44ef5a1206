"""Preconditioned conjugate gradients on several right-hand sides at once."""

from __future__ import annotations

from collections.abc import Callable

import torch


def conjugate_gradients(matvec: Callable[[torch.Tensor], torch.Tensor], B: torch.Tensor, *,
                        precond: Callable[[torch.Tensor], torch.Tensor] | None = None, tol: float = 1e-6,
                        max_iter: int = 500, X0: torch.Tensor | None = None) -> tuple[torch.Tensor, dict]:
    """Solve A X = B for symmetric positive definite A by preconditioned conjugate gradients, all columns at once.

    Every column runs its own PCG recurrence, but one ``matvec`` call per iteration serves them all,
    so a matrix that is expensive to apply (read from memory or recomputed) is read once per
    iteration whatever the number of columns. A column stops when its relative residual
    ‖b − Ax‖/‖b‖ (from the recurrence) is at most ``tol``.

    Returns
    -------
    X : Tensor shaped like B
    info : dict
        ``iterations``, ``residual`` (the largest relative residual over columns, recomputed as
        ‖B − AX‖/‖B‖ at the end), ``converged`` (bool).

    Examples
    --------
    >>> A = torch.tensor([[4.0, 1.0], [1.0, 3.0]], dtype=torch.float64)
    >>> X, info = conjugate_gradients(lambda V: A @ V, torch.eye(2, dtype=torch.float64), tol=1e-12)
    >>> torch.allclose(X, torch.linalg.inv(A)), info["iterations"] <= 2
    (True, True)
    """
    precond = precond or (lambda R: R)
    X = torch.zeros_like(B) if X0 is None else X0.clone()
    R = B - matvec(X) if X0 is not None else B.clone()
    bnorm = B.norm(dim=0).clamp_min(torch.finfo(B.dtype).tiny)
    Z = precond(R)
    P = Z.clone()
    rz = (R * Z).sum(0)
    active = R.norm(dim=0) / bnorm > tol
    it = 0
    while bool(active.any()) and it < max_iter:
        AP = matvec(P)
        step = torch.where(active, rz / (P * AP).sum(0), torch.zeros_like(rz))
        X += step * P
        R -= step * AP
        it += 1
        active &= R.norm(dim=0) / bnorm > tol
        Z = precond(R)
        rz_new = (R * Z).sum(0)
        P = Z + torch.where(active, rz_new / rz, torch.zeros_like(rz)) * P
        rz = rz_new
    residual = float(((B - matvec(X)).norm(dim=0) / bnorm).max())
    return X, {"iterations": it, "residual": residual, "converged": residual <= 10 * tol}
