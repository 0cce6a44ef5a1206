"""
Large n: the large method against the exact one, and a resumed run
==================================================================

The exact CG-score holds one n × n matrix; ``method="large"`` solves by preconditioned conjugate
gradients and estimates the diagonal of the inverse from exact chunks, for n past what fits. On 3 000
Fashion-MNIST images both fit, so they can be compared; a second call with the same ``checkpoint``
folder loads the finished work units instead of computing them again.
"""

import tempfile
import time

import matplotlib.pyplot as plt
from scipy.stats import spearmanr

from trainfree import cg_score
from trainfree.data import load

X, y = load("fmnist", n=3000, random_state=0)
exact = cg_score(X, y)
units = tempfile.mkdtemp()
t0 = time.perf_counter()
large = cg_score(X, y, method="large", chunk_size=1000, n_chunk_repeats=2, random_state=0, checkpoint=units)
first = time.perf_counter() - t0
print(f"Spearman with exact: {spearmanr(exact.scores, large.scores).statistic:.4f}; "
      f"{large.settings['iterations']} iterations, relative residual {large.settings['residual']:.1e}")

# %%
# Resume: the same call and folder, as after an interruption (here the run had finished, so every
# unit is loaded and only the scores are recomputed from them)
t0 = time.perf_counter()
again = cg_score(X, y, method="large", chunk_size=1000, n_chunk_repeats=2, random_state=0, checkpoint=units)
print(f"first run {first:.1f} s, resumed {time.perf_counter() - t0:.1f} s; "
      f"largest difference {abs(again.scores - large.scores).max():.1e}")

fig, ax = plt.subplots(figsize=(4.5, 4))
ax.scatter(exact.scores, large.scores, s=4)
ax.set(xlabel="exact CG-score", ylabel='method="large"', xscale="log", yscale="log")
fig.tight_layout()
