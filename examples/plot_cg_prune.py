"""
CG-scores and a pruning order
=============================

The CG-score (Ki, Choi, Chung, ICLR 2023) measures, without training, how much each example's label
disagrees with the kernel geometry of the data: high for mislabelled or atypical examples, low for
redundant ones. Score 2 000 Fashion-MNIST images with 20% flipped labels, then prune by the score
with :func:`~trainfree.experiments.prune_order` and fit a 5-nearest-neighbour classifier on what is kept.
(The Data Diet protocol with a CNN on a fixed step budget is
:func:`~trainfree.experiments.pruning_curve`, or ``trainfree experiment prune``.)
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.neighbors import KNeighborsClassifier

from trainfree import cg_score
from trainfree.data import inject_label_noise, load, load_fashion_mnist
from trainfree.experiments import prune_order

train = load("fmnist", n=2000, random_state=0)
test = load_fashion_mnist(split="test", n=1000, random_state=0)
y_noisy, flipped = inject_label_noise(train.y, 0.2, random_state=0)

# %%
# Score
# -----
res = cg_score(train.X, y_noisy)  # exact: one factorisation serves all ten classes
print(res.summary())
fig, ax = plt.subplots(figsize=(5, 3))
bins = np.linspace(res.scores.min(), np.quantile(res.scores, 0.995), 40)
ax.hist(res.scores[~flipped], bins, alpha=0.6, label="clean labels")
ax.hist(res.scores[flipped], bins, alpha=0.6, label="flipped labels")
ax.set(xlabel="CG-score", ylabel="examples")
ax.legend()
fig.tight_layout()

# %%
# Prune and train
# ---------------
# ``keep_easy`` removes the highest scores (the CG paper's direction, which drops flipped labels
# first), ``keep_hard`` the lowest (Data Diet's direction); a random order is the baseline.
fractions = [0.1, 0.2, 0.3, 0.4, 0.5]
rng = np.random.default_rng(0)


def accuracy(kept):
    model = KNeighborsClassifier(n_neighbors=5).fit(train.X[kept], y_noisy[kept])
    return model.score(test.X, test.y)


curves = {direction: [accuracy(prune_order(res, y_noisy, fraction=f, direction=direction)) for f in fractions]
          for direction in ("keep_easy", "keep_hard")}
curves["random"] = [accuracy(np.sort(rng.permutation(len(train))[:round((1 - f) * len(train))])) for f in fractions]
for name, acc in curves.items():
    print(f"{name:9s}", " ".join(f"{a:.3f}" for a in acc))
fig, ax = plt.subplots(figsize=(5, 3.2))
for name, acc in curves.items():
    ax.plot(fractions, acc, "o-", label=name)
ax.axhline(accuracy(np.arange(len(train))), color="grey", ls="--", label="all data")
ax.set(xlabel="share of training rows removed", ylabel="test accuracy")
ax.legend()
fig.tight_layout()
