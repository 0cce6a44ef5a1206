"""Input checks of :class:`~trainfree.valuation.davinz.DavinzUtility`: data, coalitions, memory, fingerprint.

Kept apart from the utility so that its module shows the computation; every check raises a
:class:`TrainfreeError` that names the problem and the fix before anything large is allocated.
"""

from __future__ import annotations

import hashlib
import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from .._device import check_memory
from .._errors import TrainfreeError
from .._validation import check_array


def check_contributors(contributors: Sequence, X_val: Any, task: str) -> tuple[list, list]:
    """Each contributor's (X_i, y_i) as arrays, checked against each other and against the validation set."""
    if len(contributors) < 1:
        raise TrainfreeError("No contributors given: pass a list of (X_i, y_i) pairs, one per contributor.")
    X_val = check_array(X_val, name="X_val", min_samples=1)
    Xs, ys = [], []
    for i, pair in enumerate(contributors):
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise TrainfreeError(f"Contributor {i} must be an (X, y) pair.")
        Xi = check_array(pair[0], name=f"X of contributor {i}", min_samples=0)
        yi = check_array(pair[1], name=f"y of contributor {i}", ndim=1, min_samples=0)
        if len(Xi) < 2:
            raise TrainfreeError(f"Contributor {i} has {len(Xi)} example(s); DAVINZ needs at least 2 per "
                                 f"contributor (its NTK term divides by the dataset and a single point has no "
                                 f"distribution to compare). Merge or drop that contributor.")
        if len(yi) != len(Xi):
            raise TrainfreeError(f"Contributor {i} has {len(Xi)} inputs but {len(yi)} targets.")
        if Xi.shape[1:] != X_val.shape[1:]:
            raise TrainfreeError(f"Inputs of contributor {i} have shape {Xi.shape[1:]} per example but the "
                                 f"validation set has {X_val.shape[1:]}; S and T must share an input shape.")
        if task == "classification" and (yi.min() < 0 or not np.all(yi == np.round(yi))):
            raise TrainfreeError(f"Labels of contributor {i} must be integers 0..C-1 for classification; "
                                 f"use task='regression' for real targets.")
        Xs.append(Xi)
        ys.append(yi)
    if task == "classification":
        classes = np.unique(np.concatenate(ys))
        if len(classes) < 2:
            raise TrainfreeError(f"All contributors' labels are class {int(classes[0])}: with one class the "
                                 f"classification target is constant (every example's own-class residual is "
                                 f"1 - f(x), whatever its data), so DAVINZ cannot value the labels. Give the "
                                 f"contributors examples of at least two classes, or use task='regression' for "
                                 f"real-valued targets.")
    return Xs, ys


def check_blocks(ntk_blocks: int, n: int) -> None:
    """The block-diagonal approximation needs at least one example per block."""
    if ntk_blocks > n:
        raise TrainfreeError(f"NtkOptions(blocks={ntk_blocks}) exceeds the {n} examples of all contributors "
                             f"together; every block needs at least one example. Use blocks <= {n} (--ntk-blocks; 1 "
                             f"keeps the exact kernel).")


def check_coalition(coalition: Sequence[int], K: int) -> list[int]:
    """The players of a coalition (or permutation prefix) as ints, each in 0..K-1 and listed once."""
    try:
        players = list(coalition)
    except TypeError:
        raise TrainfreeError(f"A coalition must be a sequence of player indices in 0..{K - 1}; got "
                             f"{coalition!r}.") from None
    if not all(isinstance(p, numbers.Integral) and not isinstance(p, (bool, np.bool_)) for p in players):
        raise TrainfreeError(f"Coalition {tuple(players)!r} must hold integer player indices in 0..{K - 1}.")
    players = [int(p) for p in players]
    bad = [p for p in players if not 0 <= p < K]
    if bad:
        raise TrainfreeError(f"Coalition {tuple(players)} has player indices {bad} outside 0..{K - 1}: this "
                             f"utility has {K} contributors. Use indices 0..{K - 1} (and n_players={K}).")
    if len(set(players)) != len(players):
        raise TrainfreeError(f"Coalition {tuple(players)} lists a player more than once; list each of 0..{K - 1} "
                             f"at most once.")
    return players


def check_ntk_memory(n: int, n_kernels: int, n_block: int, n_params: int, dtype: torch.dtype,
                     device: torch.device, budget: float | None, *, outputs: str, n_outputs: int,
                     ntk_permutations: int, max_jacobian_bytes: float, jacobian_outputs: int = 1) -> None:
    """Refuse before Θ₀ is allocated when it, the factors of the full coalition and the Jacobians do not fit.

    Θ₀ holds ``n_kernels`` (partitions × differentiated outputs) n×n matrices; evaluating the full
    coalition needs two more of that size (a copy of the sub-matrix, or the previous factor, and its
    Cholesky factor). Jacobians of a block (of ``jacobian_outputs`` outputs at once) are kept when they
    fit in ``max_jacobian_bytes``, else recomputed 64 rows at a time (see
    :func:`trainfree.kernels.empirical_ntk`).
    """
    item = torch.finfo(dtype).bits // 8
    kernels = 3 * n_kernels * n * n * item
    per_row = n_params * jacobian_outputs * item
    jacobians = (n_block * per_row if n_block * per_row <= max_jacobian_bytes else 128 * per_row) + n_block**2 * item
    fixes = [f"value fewer examples (memory grows as the square of their number, {n} now)"]
    if outputs == "all" and n_outputs > 1:
        fixes.append(f"use outputs='mean' (NuOptions(outputs='mean'): one kernel instead of {n_outputs})")
    if ntk_permutations > 1:
        fixes.append(f"use NtkOptions(permutations=1) (one kernel per partition, {ntk_permutations} now)")
    if dtype == torch.float64:
        fixes.append("use dtype='float32' (half the memory)")
    if jacobians > kernels / 3:
        fixes.append("raise NtkOptions(blocks=...) (smaller Jacobian blocks)")
    check_memory(kernels + jacobians, what=(
        f"DAVINZ's NTK on {n} examples ({n_kernels} kernel(s) of {n}×{n} {str(dtype).removeprefix('torch.')}: "
        f"Θ₀ and the Cholesky factors of the full coalition, plus Jacobians of {n_params} parameters)"),
        alternative="To fit, " + ", or ".join(fixes) + ".", budget=budget, device=device)


def fingerprint(u: Any) -> dict[str, Any]:
    """What identifies a DAVINZ problem: its settings and summaries of Θ₀, the residuals and the MMD sums.

    Floats are compared with a tolerance by checkpoints (the same inputs recompute them up to float
    noise); the summaries are positive sums, so they do not cancel to noise.
    """
    theta, r = u.theta, u.residual
    r2 = r.reshape(*r.shape[:2], -1).square().sum(-1)  # per kernel and example, over its right-hand sides
    w = torch.linspace(1.0, 2.0, theta.shape[-1], dtype=theta.dtype, device=theta.device)
    diag = theta.diagonal(dim1=1, dim2=2)
    # Values do not depend on the device, nor on the preset's name (the resolved options are compared); exact
    # settings first, so a refusal names them before derived floats.
    skip = ("device", "nu", "nu_description")
    settings = {k: v for k, v in u.settings.items() if k not in skip and not isinstance(v, float)}
    settings.update({k: v for k, v in u.settings.items() if isinstance(v, float)})
    return {
        "class": type(u).__name__,
        "settings": settings,
        "theta": [float(diag.sum()), float((diag @ w).sum()), float(theta.square().sum()), float((theta @ w).square().sum())],
        "residual": [float(r2.sum()), float((r2 @ w).sum()), float(r.abs().sum())],
        "mmd": {"s_TT": float(u.mmd_sums.s_TT), "s_TS": [float(x) for x in u.mmd_sums.s_TS],
                "s_SS": [float(np.trace(u.mmd_sums.s_SS)), float(u.mmd_sums.s_SS.sum())]},
        "block_assignment": hashlib.sha256(np.ascontiguousarray(u.block_assignment, dtype=np.int64)
                                           .tobytes()).hexdigest()[:16],
    }
