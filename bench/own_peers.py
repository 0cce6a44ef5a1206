"""Mislabel peers written here from their papers (cleanlab and its kin cannot be installed offline): own code only.

* ``confident_learning_logreg``: confident learning (Northcutt et al., JAIR 2021), *own implementation*
  (trainfree.scores.mislabel_flags: confident joint, calibrated noise estimate, prune by noise rate), on
  5-fold cross-validated probabilities of a logistic regression (scikit-learn defaults);
  score = minus the self-confidence. Labelled "confident learning (own implementation)", never cleanlab.
* ``knn_vote``: the share of a row's k = 25 nearest neighbours (cosine) whose label differs from its own.
* ``simifeat_vote``: a SimiFeat-style vote (Zhu et al., ICML 2022): each row's label distribution from
  its k nearest neighbours averaged over random-projection views of the features; score = 1 − the
  averaged share of the row's own label, flag = that label is not the vote's winner.

Every peer runs on one thread (threadpoolctl) and returns (score, flags or None, extra dict).
"""

from __future__ import annotations

import numpy as np
from threadpoolctl import threadpool_limits

from trainfree.scores.mislabel_flags import confident_learning_flags


def confident_learning_logreg(X, y, seed: int = 0):
    """Own confident learning on 5-fold cross-validated logistic-regression probabilities."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    with threadpool_limits(1), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # lbfgs stops at scikit-learn's 100 iterations
        cv = StratifiedKFold(n_splits=5, shuffle=True, random_state=seed)
        P = cross_val_predict(LogisticRegression(), X, y, cv=cv, method="predict_proba", n_jobs=1)
    flags, estimate = confident_learning_flags(P, np.asarray(y))
    return -P[np.arange(len(y)), y], flags, {"noise_rate_estimate": estimate.overall}


def _neighbours(Z, k):
    """Indices of each row's k nearest other rows by cosine similarity (rows of Z unit-normed), in blocks."""
    out = np.empty((len(Z), k), dtype=np.int64)
    for s in range(0, len(Z), 2048):
        S = Z[s:s + 2048] @ Z.T
        S[np.arange(S.shape[0]), np.arange(s, s + S.shape[0])] = -np.inf  # not itself
        out[s:s + 2048] = np.argpartition(-S, k, axis=1)[:, :k]
    return out


def _unit(X):
    X = np.asarray(X, dtype=np.float64).reshape(len(X), -1)
    return X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-300)


def knn_vote(X, y, k: int = 25):
    """Share of the k nearest neighbours (cosine) that disagree with the row's label; flag: most of them do."""
    y = np.asarray(y)
    with threadpool_limits(1):
        nb = _neighbours(_unit(X), k)
    n_classes = int(y.max()) + 1
    votes = np.stack([(y[nb] == c).mean(axis=1) for c in range(n_classes)], axis=1)
    return 1 - votes[np.arange(len(y)), y], votes.argmax(axis=1) != y, {}


def simifeat_vote(X, y, k: int = 10, n_views: int = 21, seed: int = 0):
    """SimiFeat-style vote: kNN label shares averaged over random-projection views of the centred features."""
    y = np.asarray(y)
    rng = np.random.default_rng(seed)
    X = np.asarray(X, dtype=np.float64).reshape(len(X), -1)
    X = X - X.mean(axis=0)
    n_classes = int(y.max()) + 1
    votes = np.zeros((len(y), n_classes))
    with threadpool_limits(1):
        for _ in range(n_views):  # each view: a random Gaussian projection to half the dimensions
            R = rng.normal(size=(X.shape[1], max(X.shape[1] // 2, 2)))
            nb = _neighbours(_unit(X @ R), k)
            votes += np.stack([(y[nb] == c).mean(axis=1) for c in range(n_classes)], axis=1)
    votes /= n_views
    return 1 - votes[np.arange(len(y)), y], votes.argmax(axis=1) != y, {}


PEERS = {"cl-logreg": confident_learning_logreg, "knn-vote": knn_vote, "simifeat-vote": simifeat_vote}
LABELS = {"cl-logreg": "confident learning (own implementation) + 5-fold logistic regression",
          "knn-vote": "kNN vote (k = 25, cosine)", "simifeat-vote": "SimiFeat-style vote (k = 10, 21 views)"}
