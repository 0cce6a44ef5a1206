"""
Flag mislabelled examples from embeddings you already have
==========================================================

When each example already has a feature vector (the penultimate layer of a trained network, a
sentence encoder, a pretrained image model), score those rows: with ``kernel="arccos"`` the
detector compares their directions, with ``kernel="precomputed"`` it takes any kernel matrix you
computed yourself. Here the "embeddings" are 24 principal components of scikit-learn's digits,
with 15% of the labels flipped.
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA

from trainfree import mislabel_score
from trainfree.metrics import auroc

X, y = load_digits(return_X_y=True)
embeddings = PCA(24, random_state=0).fit_transform(X)  # stands in for your encoder's output
rng = np.random.default_rng(0)
flipped = rng.random(len(y)) < 0.15
y_noisy = np.where(flipped, (y + rng.integers(1, 10, len(y))) % 10, y)

# %%
# Rows: the arc-cosine kernel of the embeddings
# ---------------------------------------------
res = mislabel_score(embeddings, y_noisy, random_state=0)
print(res.summary())
print(f"AUROC for the flipped labels: {auroc(res.scores, flipped):.3f}")

# %%
# Your own kernel: ``kernel="precomputed"``
# -----------------------------------------
# Any symmetric positive semi-definite n × n matrix; here a Gaussian kernel of the embeddings.
sq = (embeddings**2).sum(1)
distances = sq[:, None] + sq[None, :] - 2 * embeddings @ embeddings.T
K = np.exp(-distances / np.median(distances))
res_k = mislabel_score(K, y_noisy, kernel="precomputed", random_state=0)
print(f"AUROC with the Gaussian kernel: {auroc(res_k.scores, flipped):.3f}")

# %%
# The embeddings' first two components, each row coloured by its score (crosses: flipped labels):
fig, ax = plt.subplots(figsize=(5.5, 4))
points = ax.scatter(*embeddings[:, :2].T, c=res.scores, s=8, cmap="viridis")
ax.scatter(*embeddings[flipped, :2].T, marker="x", s=14, color="red", linewidths=0.7, label="flipped label")
fig.colorbar(points, label="mislabel score")
ax.set(xlabel="component 1", ylabel="component 2")
ax.legend(loc="lower right")
fig.tight_layout()
