"""
Clean, then train
=================

Does removing, or relabelling, what a score flags train a better network? Flip 20% of 2 000
Fashion-MNIST training labels, let the mislabel detector and the CG-score flag rows, and train the same
network on the noisy labels, on the rows left after removing the flagged ones, on the labels relabelled
to the detector's class where it is confident, and on the clean labels (the oracle), two paired runs each,
with :func:`~trainfree.experiments.cleaning_gain` (``trainfree experiment clean`` on the command line).

The network is the MLP, trained for 30 epochs: long enough to memorise flipped labels, which is what
costs test accuracy and what cleaning can win back. (A network stopped after a few epochs has not yet
fitted the flipped labels, and the noisy and clean labels then train about equally well.)
"""

import matplotlib.pyplot as plt
import numpy as np

from trainfree.experiments import cleaning_gain
from trainfree.experiments.pruning import pruning_splits

train, test = pruning_splits("fmnist", n=2000, test_size=1000, random_state=0)
res = cleaning_gain(train, test, noise_settings=[("symmetric", 0.2)], scores=["mislabel", "cg"], model="mlp",
                    epochs=30, n_runs=2, random_state=0)

# %%
# The table
# ---------
# ``gap_recovered`` is the share of the gap between the noisy and the clean labels' test accuracy
# that a variant closes; ``precision`` and ``recall`` say how many flags are flipped labels and how
# many flipped labels are flagged.
df = res.to_dataframe()
print(df[["score", "variant", "value", "stderr", "gap_recovered", "precision", "recall", "n_removed",
          "n_relabelled"]].round(3).to_string(index=False))

# %%
# The bars
# --------
labels = [v if s == "none" else f"{s}/{v}" for s, v in zip(df["score"], df["variant"])]
fig, ax = plt.subplots(figsize=(5.5, 3))
ax.bar(np.arange(len(df)), df["value"], yerr=df["stderr"], capsize=3,
       color=["grey" if s == "none" else "tab:blue" for s in df["score"]])
ax.set_xticks(np.arange(len(df)), labels, rotation=30, ha="right")
ax.set_ylim(df["value"].min() - 0.05, None)
ax.set_ylabel("test accuracy")
fig.tight_layout()
