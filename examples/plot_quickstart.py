"""
Flag the mislabelled rows of a table
====================================

Flip 15% of the labels of scikit-learn's wine table and let the detector find them.
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_wine

from trainfree import mislabel_score

X, y = load_wine(return_X_y=True)
rng = np.random.default_rng(0)
flip = rng.random(len(y)) < 0.15
y_noisy = np.where(flip, (y + rng.integers(1, 3, len(y))) % 3, y)
X = (X - X.mean(0)) / X.std(0)
res = mislabel_score(X, y_noisy, random_state=0)
order = np.argsort(-res.scores)
plt.plot(np.cumsum(flip[order]) / flip.sum())
plt.xlabel("rows inspected, most suspicious first")
plt.ylabel("share of flipped labels found")
