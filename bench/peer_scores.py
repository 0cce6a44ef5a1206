"""Mislabel scores from the peers' own code; runs inside the peers' virtual environment (see noise_peers.py).

Usage: python bench/peer_scores.py IN.npz OUT.npz --peers cleanlab-logreg,cleanlab-mlp,knn-shapley,data-oob --seed 0
IN.npz holds X (n, d) and y (n,) integer labels (the noisy ones). OUT.npz gets, for each peer P, ``score_P``
(higher = more likely mislabeled: the peers' values are negated), ``seconds_P`` and, for cleanlab,
``flag_P`` (cleanlab.filter.find_label_issues); ``versions`` names the packages. Imports numpy,
scikit-learn, cleanlab and pyDVL only, never trainfree (whose pyarrow breaks under pyDVL's numpy<2).
"""

from __future__ import annotations

import argparse
import json
import time
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning

PEERS = ("cleanlab-logreg", "cleanlab-mlp", "knn-shapley", "data-oob")


def cleanlab_scores(X, y, model, seed):
    """cleanlab on 5-fold cross-validated probabilities: minus self-confidence, and its label-issue mask."""
    from cleanlab.filter import find_label_issues
    from cleanlab.rank import get_label_quality_scores
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    cv = StratifiedKFold(n_splits=5, shuffle=True, random_state=seed)
    probs = cross_val_predict(model, X, y, cv=cv, method="predict_proba")
    quality = get_label_quality_scores(y, probs, method="self_confidence")
    return -quality, find_label_issues(y, probs)


def knn_shapley_scores(X, y, seed, n_jobs):
    """pyDVL's exact KNN-Shapley (k = 10), valued on the data itself: there is no clean validation set."""
    import joblib
    from pydvl.valuation import Dataset, KNNShapleyValuation
    from sklearn.neighbors import KNeighborsClassifier

    data = Dataset(X, y)
    valuation = KNNShapleyValuation(KNeighborsClassifier(n_neighbors=10), test_data=data, progress=False)
    with joblib.parallel_config(n_jobs=n_jobs):
        valuation.fit(data)
    return -_in_order(valuation.result, len(y)), None


def data_oob_scores(X, y, seed, n_jobs):
    """pyDVL's Data-OOB of a 400-tree random forest (mean out-of-bag accuracy on each example)."""
    from pydvl.valuation import DataOOBValuation, Dataset
    from sklearn.ensemble import RandomForestClassifier

    forest = RandomForestClassifier(n_estimators=400, random_state=seed, n_jobs=n_jobs).fit(X, y)
    valuation = DataOOBValuation(forest).fit(Dataset(X, y))
    return -_in_order(valuation.result, len(y)), None


def _in_order(result, n):
    values = np.full(n, np.nan)  # a result may be sorted: place each value at its row
    values[np.asarray(result.indices, dtype=int)] = result.values
    if np.isnan(values).any():
        raise RuntimeError(f"{int(np.isnan(values).sum())} rows got no value")
    return values


def score(name, X, y, seed, n_jobs):
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier

    if name == "cleanlab-logreg":
        # scikit-learn's defaults (lbfgs, 100 iterations): 1000 iterations took minutes per fold on 784 pixels.
        return cleanlab_scores(X, y, LogisticRegression(), seed)
    if name == "cleanlab-mlp":
        mlp = MLPClassifier(hidden_layer_sizes=(128,), early_stopping=True, random_state=seed)
        return cleanlab_scores(X, y, mlp, seed)
    if name == "knn-shapley":
        return knn_shapley_scores(X, y, seed, n_jobs)
    return data_oob_scores(X, y, seed, n_jobs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("inp")
    ap.add_argument("out")
    ap.add_argument("--peers", default=",".join(PEERS))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--n-jobs", type=int, default=2)
    args = ap.parse_args()
    warnings.filterwarnings("ignore", category=ConvergenceWarning)  # the logistic regression stops at 100
    with np.load(args.inp) as f:
        X, y = f["X"], f["y"]
    out = {}
    for name in args.peers.split(","):
        if name not in PEERS:
            raise SystemExit(f"unknown peer {name!r}: choose from {', '.join(PEERS)}")
        t = time.perf_counter()
        scores, flags = score(name, X, y, args.seed, args.n_jobs)
        out[f"seconds_{name}"] = time.perf_counter() - t
        out[f"score_{name}"] = np.asarray(scores, dtype=float)
        if flags is not None:
            out[f"flag_{name}"] = np.asarray(flags, dtype=bool)
        print(f"{name}: {out[f'seconds_{name}']:.1f} s", flush=True)
    from importlib.metadata import version

    versions = {p: version(p) for p in ("numpy", "scikit-learn", "cleanlab", "pyDVL")}
    np.savez(args.out, versions=json.dumps(versions), **out)


if __name__ == "__main__":
    main()
