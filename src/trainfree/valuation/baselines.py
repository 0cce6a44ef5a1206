"""Dataset-valuation baselines from the DAVINZ paper, as utilities over coalitions of contributors.

- :class:`ValidationPerformance` (VP): train the network from one initialization on the coalition's
  data and measure it on the validation set. The expensive ground truth that DAVINZ approximates.
- :class:`InfluenceUtility` (IF): first-order influence of each example on the validation loss of a
  multinomial logistic regression (Koh & Liang, 2017), summed over the coalition.
- :class:`RobustVolume` (RV): the replication-robust volume of the coalition's (PCA) features
  (Xu et al., 2021): no labels, no validation set.

Each is a callable ``utility(coalition) -> float`` usable with :mod:`trainfree.semivalues`, with an
``n_players`` attribute (the number of contributors) that the semivalues check against theirs.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import numpy as np
from scipy.special import softmax
from torch import nn

from .._errors import TrainfreeError
from .._random import SeedLike, check_random_state
from .._validation import check_array, check_param
from ..training import evaluate, train


def _stack(contributors, coalition):
    if not coalition:
        raise TrainfreeError("This baseline is undefined on the empty coalition.")
    return (np.concatenate([contributors[i][0] for i in coalition]),
            np.concatenate([contributors[i][1] for i in coalition]))


class ValidationPerformance:
    """VP: validation accuracy (regression: −MSE) after training ``model``'s initialization on the coalition.

    ν(∅) is the untrained network's validation performance. :meth:`fit` returns the trained copy,
    so an experiment can measure the same network elsewhere (e.g. on a test set). ``tol``,
    ``plateau`` and ``even_batches`` are :func:`trainfree.training.train`'s. ``random_state`` (None:
    fresh entropy) is normalised once, into ``self.seed``, so every coalition trains on the same
    mini-batch stream.
    """

    def __init__(self, contributors: Sequence[tuple], X_val, y_val, *, model: nn.Module,
                 task: str = "classification", epochs: int = 50, optimizer: str = "adam", lr: float = 1e-3,
                 tol: float = 1e-3, plateau: float | None = None, even_batches: bool = False,
                 device: str | None = "cpu", random_state: SeedLike = None) -> None:
        check_param("task", task, str, choices=("classification", "regression"))
        self.training = dict(task=task, epochs=epochs, optimizer=optimizer, lr=lr, tol=tol, plateau=plateau,
                             even_batches=even_batches, device=device)  # trainfree.training.train's options
        self.contributors, self.X_val, self.y_val = contributors, X_val, y_val
        self.n_players = len(contributors)
        self.task, self.device = task, device
        self.seed = check_random_state(random_state)
        self.model = model

    def fit(self, coalition: Sequence[int]) -> nn.Module:
        """A copy of the model at initialization, trained on the coalition's data (untrained for ∅)."""
        net = copy.deepcopy(self.model)
        if coalition:
            X, y = _stack(self.contributors, coalition)
            train(net, X, y, random_state=self.seed, **self.training)
        return net

    def score(self, net: nn.Module) -> float:
        """Validation accuracy, or −MSE for regression: higher is better either way."""
        value = evaluate(net, self.X_val, self.y_val, task=self.task, device=self.device)
        return value if self.task == "classification" else -value

    def __call__(self, coalition: Sequence[int]) -> float:
        return self.score(self.fit(coalition))


def _pca(Z: np.ndarray, k: int) -> np.ndarray:
    """Top-k principal directions of Z (rows), for projecting high-dimensional inputs."""
    _, _, Vt = np.linalg.svd(Z - Z.mean(0), full_matrices=False)
    return Vt[:k].T


class InfluenceUtility:
    """IF: Σ over the coalition's examples z of ∇L_T(θ)ᵀ H⁻¹ ∇ℓ(z; θ), the first-order decrease in
    validation loss from up-weighting z, for an L2-regularised multinomial logistic regression fitted
    on all contributors' data (projected on ``n_components`` principal components, plus a bias).
    """

    def __init__(self, contributors: Sequence[tuple], X_val, y_val, *, n_components: int = 32,
                 l2: float = 1e-3, max_iter: int = 200) -> None:
        from sklearn.linear_model import LogisticRegression

        check_param("l2", l2, (int, float), low=0, low_open=True)
        X = np.concatenate([check_array(c[0]).reshape(len(c[0]), -1) for c in contributors])
        y = np.concatenate([np.asarray(c[1]) for c in contributors]).astype(int)
        Xv = check_array(X_val).reshape(len(X_val), -1)
        yv = np.asarray(y_val).astype(int)
        n_classes = int(max(y.max(), yv.max())) + 1
        P = _pca(X, min(n_components, X.shape[1]))
        mu = X.mean(0)
        feat = lambda A: np.c_[(A - mu) @ P, np.ones(len(A))]  # noqa: E731
        F, Fv = feat(X), feat(Xv)
        clf = LogisticRegression(C=1.0 / (l2 * len(F)), fit_intercept=False, max_iter=max_iter).fit(F, y)
        coef = clf.coef_ if len(clf.coef_) > 1 else np.r_[-clf.coef_, clf.coef_] / 2  # binary: one logit → softmax
        W = np.zeros((n_classes, F.shape[1]))
        W[clf.classes_] = coef
        p, pv = softmax(F @ W.T, axis=1), softmax(Fv @ W.T, axis=1)
        g = ((p - np.eye(n_classes)[y])[:, :, None] * F[:, None, :]).reshape(len(F), -1)  # per-example ∇ℓ
        g_val = ((pv - np.eye(n_classes)[yv])[:, :, None] * Fv[:, None, :]).reshape(len(Fv), -1).mean(0)
        S = p[:, :, None] * (np.eye(n_classes)[None] - p[:, None, :])  # softmax Jacobians, (n, C, C)
        H = np.einsum("nab,ni,nj->aibj", S, F, F).reshape(g.shape[1], g.shape[1]) / len(F)
        H += l2 * np.eye(len(H))
        self.per_example = g @ np.linalg.solve(H, g_val)
        self.offsets = np.r_[0, np.cumsum([len(c[0]) for c in contributors])]
        self.n_players = len(contributors)

    def __call__(self, coalition: Sequence[int]) -> float:
        return float(sum(self.per_example[self.offsets[i]:self.offsets[i + 1]].sum() for i in coalition))


class RobustVolume:
    """RV: Vol(X̃) · Π_cubes (1 − α^{k+1}) / (1 − α) on standardised PCA features (Xu et al., 2021).

    X̃ holds one representative per occupied cube of side ``omega`` (k examples in it), Vol(X̃) =
    sqrt(det(X̃ᵀX̃)); the product rewards, with diminishing returns, replicated points instead of
    letting them inflate the volume. Returned on a log scale, since volumes span many decades.
    """

    def __init__(self, contributors: Sequence[tuple], *, n_components: int = 4, omega: float = 0.5,
                 alpha: float = 0.9) -> None:
        check_param("alpha", alpha, (int, float), low=0, low_open=True, high=0.999999)
        X = np.concatenate([check_array(c[0]).reshape(len(c[0]), -1) for c in contributors])
        Z = (X - X.mean(0)) @ _pca(X, n_components)
        self.Z = Z / Z.std(0)
        self.omega, self.alpha = omega, alpha
        self.offsets = np.r_[0, np.cumsum([len(c[0]) for c in contributors])]
        self.n_players = len(contributors)

    def __call__(self, coalition: Sequence[int]) -> float:
        if not coalition:
            return 0.0  # no points: no volume, and no replication term
        Z = np.concatenate([self.Z[self.offsets[i]:self.offsets[i + 1]] for i in coalition])
        cubes, counts = np.unique(np.floor(Z / self.omega), axis=0, return_counts=True)
        reps = (cubes + 0.5) * self.omega
        sign, logdet = np.linalg.slogdet(reps.T @ reps)
        log_vol = 0.5 * logdet if sign > 0 else -np.inf
        return float(log_vol + np.log((1 - self.alpha ** (counts + 1)) / (1 - self.alpha)).sum())
