"""Tables as a user writes them: does standardising the columns help the detector and the CG-score?

Usage: python bench/table_standardize.py [--seeds 0,1,2,3,4] [--noise 0.15] [--scores mislabel,cg]
Writes scikit-learn's breast-cancer and wine tables to CSV (a ``sample_id`` column, the class names in a
string column ``kind``, ``--noise`` of the labels flipped with trainfree's own noise injection), runs
``trainfree score SCORE --data table.csv --label-column kind --id-column sample_id`` with the default
(standardised columns) and with ``--no-standardize``, and prints the AUROC of each run against the flips.
Last line: {"rows": [{"data":..., "score":..., "standardize":..., "seed":..., "auroc":...}, ...]}
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.datasets import load_breast_cancer, load_wine

from trainfree.cli import main as cli
from trainfree.data import Dataset, inject_label_noise
from trainfree.metrics import auroc

SOURCES = {"breast_cancer": load_breast_cancer, "wine": load_wine}


def write_table(name: str, noise: float, seed: int, folder: Path) -> tuple[Path, np.ndarray]:
    """The CSV a user would have, and which rows' labels were flipped."""
    bunch = SOURCES[name]()
    ds = Dataset(bunch.data, bunch.target, tuple(bunch.target_names))
    y, flipped = inject_label_noise(ds.y, noise, n_classes=len(ds.classes), random_state=seed)
    frame = pd.DataFrame(bunch.data, columns=bunch.feature_names)
    frame.insert(0, "sample_id", [f"s{i:04d}" for i in range(len(frame))])
    frame["kind"] = np.asarray(ds.classes, dtype=object)[y]
    path = folder / f"{name}-{seed}.csv"
    frame.to_csv(path, index=False)
    return path, flipped


def run(path: Path, score: str, standardize: bool, out: Path) -> pd.DataFrame:
    argv = ["score", score, "--data", str(path), "--label-column", "kind", "--id-column", "sample_id",
            "--out", str(out), "--no-report", "--quiet"] + ([] if standardize else ["--no-standardize"])
    with contextlib.redirect_stdout(io.StringIO()):
        code = cli(argv)
    if code != 0:
        raise SystemExit(f"trainfree {' '.join(argv)} exited with {code}")
    return pd.read_parquet(out / "scores.parquet")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", default="0,1,2,3,4")
    ap.add_argument("--noise", type=float, default=0.15)
    ap.add_argument("--scores", default="mislabel,cg")
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for name in SOURCES:
            for seed in (int(s) for s in args.seeds.split(",")):
                path, flipped = write_table(name, args.noise, seed, folder)
                for score in args.scores.split(","):
                    for standardize in (False, True):
                        out = folder / f"out-{name}-{seed}-{score}-{standardize}"
                        table = run(path, score, standardize, out)
                        if table["row_id"].tolist() != [f"s{i:04d}" for i in range(len(table))]:
                            raise SystemExit("the output rows do not carry the sample ids")
                        rows.append({"data": name, "score": score, "standardize": standardize, "seed": seed,
                                     "auroc": round(auroc(table["score"].to_numpy(), flipped), 4)})
                        print(rows[-1], flush=True)
    summary = pd.DataFrame(rows).groupby(["data", "score", "standardize"])["auroc"].agg(["mean", "min", "max"])
    print(summary.round(4).to_string())
    print(json.dumps({"rows": rows}))


if __name__ == "__main__":
    main()
