"""
Value data contributors from their files
========================================

Four contributors each send a CSV file of labelled digits; one of them (``carol``) has 40% wrong
labels. Against your own validation file, DAVINZ values each contributor's data at the network's
initialisation (no training), and exact Shapley values share the value of the union among them.
The command line does the same::

    trainfree value davinz --contributor-data alice.csv bob.csv carol.csv dan.csv \\
        --val-data val.csv --out out/contributors
"""

import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from trainfree.data import load, load_file
from trainfree.experiments import load_contributors, value_datasets

# %%
# One file per contributor, and a validation file
# -----------------------------------------------
digits = load("digits", n=800, random_state=0)
rng = np.random.default_rng(0)
folder = Path(tempfile.mkdtemp())


def write(name, rows, wrong=0.0):
    labels = digits.y[rows].copy()
    flip = rng.random(len(rows)) < wrong
    labels[flip] = (labels[flip] + rng.integers(1, 10, flip.sum())) % 10
    table = pd.DataFrame(digits.X[rows], columns=[f"pixel{j}" for j in range(digits.X.shape[1])])
    table["label"] = labels
    table.to_csv(folder / f"{name}.csv", index=False)
    return folder / f"{name}.csv"


order = rng.permutation(len(digits))
files = [write(name, order[150 * k:150 * (k + 1)], wrong=0.4 if name == "carol" else 0.0)
         for k, name in enumerate(["alice", "bob", "carol", "dan"])]
val = load_file(write("val", order[600:]))

# %%
# Their values
# ------------
contributors = load_contributors(files)  # named by file: alice, bob, carol, dan
res = value_datasets(contributors, val, random_state=0)  # the default ν: nu="recommended"
print(res.summary())
res.to_dataframe()

# %%
# ``value`` is each contributor's Shapley value of ν, ``stderr`` NaN because exact Shapley (all 16
# coalitions) has no sampling error, ``size`` its rows; ν(S) = −κ·NTK term − MMD term, and the two
# terms of each contributor's own ν are ``ntk_term`` and ``mmd_term``.
table = res.to_dataframe()
fig, ax = plt.subplots(figsize=(5, 3))
ax.bar(table["player"], table["value"], color=["C1" if p == "carol" else "C0" for p in table["player"]])
ax.set(ylabel="Shapley value of ν", title="carol's labels are 40% wrong")
fig.tight_layout()
