"""
Flag the mislabelled rows of a CSV table
========================================

Write scikit-learn's breast-cancer table to a CSV file with 10% of its labels flipped, load it with
:func:`trainfree.data.load_file`, and let the kernel leave-one-out detector
(:func:`~trainfree.scores.mislabel_score`, here through :func:`~trainfree.experiments.score_dataset`,
which keeps each row's identity) say which labels the rest of the table disagrees with. The command
line does the same: ``trainfree score mislabel --data table.csv --out out/table``.
"""

import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_breast_cancer

from trainfree.data import load_file
from trainfree.experiments import score_dataset

# %%
# A table with wrong labels
# -------------------------
# One row per example, a ``label`` column (names or integers) and feature columns, as written: the
# areas are in the thousands and the smoothness values below 0.2. The detector compares the
# *directions* of rows, so ``load_file`` standardises every column by default
# (``standardize=False`` keeps the values as written).
frame = load_breast_cancer(as_frame=True).frame
target = frame.pop("target").to_numpy()  # 0 = malignant, 1 = benign
rng = np.random.default_rng(0)
flipped = rng.random(len(frame)) < 0.10
frame["label"] = np.array(["malignant", "benign"])[np.where(flipped, 1 - target, target)]
folder = Path(tempfile.mkdtemp())
frame.to_csv(folder / "table.csv", index=False)
print(f"{flipped.sum()} of {len(frame)} labels flipped")

# %%
# Score every row
# ---------------
data = load_file(folder / "table.csv")  # label_column="label" by default
res = score_dataset(data, score="mislabel", random_state=0)
table = res.to_dataframe()
print(res.summary())
table.sort_values("score", ascending=False).head(8)

# %%
# The columns, one row per row of the file:
#
# - ``score``: how far the rest of the data's belief in the row's label falls below what is typical
#   for that label (log t_c − log P[c]); higher = more likely mislabelled, about 0 for a typical row.
# - ``stderr``: its standard error over repeats (NaN for the exact method).
# - ``margin``: the best other class's leave-one-out prediction minus the given class's.
# - ``self_confidence``: the leave-one-out probability of the given label.
# - ``predicted``: the class the other rows predict for this one.
# - ``flag_mislabel``: among the estimated number of wrong labels; needs no guess of the noise rate.
# - ``flag_argmax``: ``predicted`` differs from the label.
# - ``label``: the label as the file wrote it; ``row_id``: the row's number in the file
#   (0 = the first row after the header).
#
# How many of the flipped labels are among the flagged rows and the highest scores:
hits = flipped[table["row_id"]]
order = np.argsort(-table["score"].to_numpy())
print(f"flagged {table['flag_mislabel'].sum()} rows, {(table['flag_mislabel'] & hits).sum()} of them flipped")
print(f"top {flipped.sum()} scores hold {hits[order[:flipped.sum()]].sum()} of the {flipped.sum()} flipped labels")

fig, ax = plt.subplots(figsize=(5, 3.5))
ax.plot(np.arange(1, len(order) + 1), np.cumsum(hits[order]) / hits.sum(), label="detector")
ax.plot([0, len(order)], [0, 1], "--", color="grey", label="random order")
ax.set(xlabel="rows inspected, highest score first", ylabel="share of flipped labels found")
ax.legend()
fig.tight_layout()
