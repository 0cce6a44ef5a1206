import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from trainfree.training import evaluate, make_model
from trainfree.valuation.baselines import InfluenceUtility, RobustVolume, ValidationPerformance


def blobs(rng, n=60, d=3):
    X = np.r_[rng.normal(-1, 1, (n, d)), rng.normal(1, 1, (n, d))]
    return X, np.r_[np.zeros(n, int), np.ones(n, int)]


def val_loss(F, y, Fv, yv, l2, weights=None):
    clf = LogisticRegression(C=1.0 / (l2 * len(F)), fit_intercept=False, max_iter=1000, tol=1e-10)
    clf.fit(F, y, sample_weight=weights)
    p = clf.predict_proba(Fv)
    return -np.log(p[np.arange(len(yv)), yv]).mean()


def test_influence_predicts_the_effect_of_upweighting(rng):
    X, y = blobs(rng)
    Xv, yv = blobs(rng, n=40)
    y[:5] = 1 - y[:5]  # a few mislabelled points: harmful
    contribs = [(X[i::4], y[i::4]) for i in range(4)]
    u = InfluenceUtility(contribs, Xv, yv, n_components=3, l2=1e-2)
    Xs, ys = np.concatenate([c[0] for c in contribs]), np.concatenate([c[1] for c in contribs])
    F, Fv = np.c_[Xs - Xs.mean(0), np.ones(len(Xs))], np.c_[Xv - Xs.mean(0), np.ones(len(Xv))]
    base = val_loss(F, ys, Fv, yv, 1e-2)
    eps = 1e-3
    actual = []
    for j in range(0, len(ys), 7):
        w = np.ones(len(ys))
        w[j] += eps * len(ys)  # up-weight example j by eps in the mean loss
        actual.append((base - val_loss(F, ys, Fv, yv, 1e-2, w)) / eps)
    predicted = u.per_example[::7]
    assert np.corrcoef(actual, predicted)[0, 1] > 0.95
    assert u((0, 1)) == pytest.approx(u((0,)) + u((1,)))


def test_robust_volume_resists_replication(rng):
    X, y = blobs(rng, n=100)
    fresh = (X[:100], y[:100])
    other = (X[100:], y[100:])
    copy = (X[:100].copy(), y[:100])
    u = RobustVolume([fresh, other, copy], n_components=2, omega=0.3)
    gain_new = u((0, 1)) - u((0,))
    gain_copy = u((0, 2)) - u((0,))
    assert gain_copy < gain_new
    assert gain_copy < 0.8 * u((0,))  # replicas add far less than the data was worth


def test_validation_performance_trains_and_restores(rng):
    X, y = blobs(rng)
    Xv, yv = blobs(rng, n=30)
    model = make_model("mlp", (3,), 2, width=16, random_state=0)
    u = ValidationPerformance([(X[:60], y[:60]), (X[60:], y[60:])], Xv, yv, model=model, epochs=60, random_state=0)
    assert u(()) == evaluate(model, Xv, yv)
    assert u((0, 1)) > 0.85
    assert u(()) == evaluate(model, Xv, yv)  # the initialization is restored after training
