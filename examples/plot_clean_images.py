"""
Flag the mislabelled images of an image folder
==============================================

An image folder holds one sub-folder per class; the sub-folder names are the classes. Write 400
Fashion-MNIST images into one, 40 of them into the wrong class's folder, and let the detector find
them. On images its default kernel (``kernel="auto"`` → ``"conv"``) compares the features of a
random, untrained convolutional network, so nothing is trained. The command line does the same:
``trainfree score mislabel --data images/ --out out/images``.
"""

import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from PIL import Image

from trainfree.data import load, load_file
from trainfree.experiments import score_dataset

# %%
# An image folder with wrong labels
# ---------------------------------
source = load("fmnist", n=400, random_state=0)  # 28×28 grayscale in [0, 1]
rng = np.random.default_rng(0)
wrong = rng.choice(len(source), 40, replace=False)
labels = source.y.copy()
labels[wrong] = (labels[wrong] + rng.integers(1, 10, len(wrong))) % 10  # any other class
folder = Path(tempfile.mkdtemp()) / "images"
for i, (pixels, label) in enumerate(zip(source.images(), labels)):
    class_dir = folder / source.classes[label].replace("/", "-")  # "T-shirt/top" is no folder name
    class_dir.mkdir(parents=True, exist_ok=True)
    Image.fromarray((pixels[0] * 255).round().astype(np.uint8)).save(class_dir / f"{i:04d}.png")
print(sorted(p.name for p in folder.iterdir()))

# %%
# Score every image
# -----------------
data = load_file(folder)  # grayscale, scaled to [0, 1]; row_id is the path inside the folder
res = score_dataset(data, score="mislabel", random_state=0)
print(res.summary())
table = res.to_dataframe().sort_values("score", ascending=False)
table.head(8)

# %%
# ``row_id`` names the file and ``label`` its folder; ``predicted`` is the class the other images vote
# for, by name. The images the detector doubts most, with the
# folder they were in and what the rest of the data predicts (red: one we moved to a wrong folder):
was_moved = {f"{i:04d}.png" for i in wrong}
moved = np.array([Path(r).name in was_moved for r in res["row_id"]])
print(f"{res.flags.sum()} flagged, {(res.flags & moved).sum()} of them moved; "
      f"the 40 highest scores hold {moved[np.argsort(-res.scores)[:40]].sum()} of the 40 moved images")
fig, axes = plt.subplots(2, 6, figsize=(9, 3.8))
for ax, (k, row) in zip(axes.flat, table.head(12).iterrows()):  # k: the row's position in data
    ax.imshow(data.images()[k, 0], cmap="gray_r")
    ax.set_title(f"{row['label']}\n→ {row['predicted']}", fontsize=8,
                 color="red" if moved[k] else "black")
    ax.axis("off")
fig.tight_layout()
