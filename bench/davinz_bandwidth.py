"""MMD bandwidth: the median heuristic vs the paper's fixed σ = 5 on standardised Fashion-MNIST.

Two contributors of equal size, one from the validation distribution and one domain-shifted (pixel
noise), and a smaller clean one. With σ = 5 on 784 standardised pixels, k(x, x') ≈ exp(−1568/50) ≈ 0
off the diagonal, so MMD² ≈ 1/m_T + 1/m_S: a function of dataset size only, blind to the shift.

Usage: python bench/davinz_bandwidth.py
Last line: {"median": {...}, "sigma5": {...}}
"""

from __future__ import annotations

import json

import numpy as np
import torch

from trainfree.data import load
from trainfree.kernels import median_bandwidth, mmd


def main() -> None:
    data = load("fmnist", n=2000, random_state=0)
    X = (data.X - data.X.mean(0)) / (data.X.std(0) + 1e-8)  # standardised, as in the paper's set-up
    rng = np.random.default_rng(0)
    T = torch.as_tensor(X[:500], dtype=torch.float64)
    clean = torch.as_tensor(X[500:900], dtype=torch.float64)
    shifted = torch.as_tensor(X[900:1300] + rng.normal(0, 1.0, size=(400, X.shape[1])), dtype=torch.float64)
    small = torch.as_tensor(X[1300:1400], dtype=torch.float64)
    out = {}
    for name, sigma in [("median", median_bandwidth(T)), ("sigma5", 5.0)]:
        out[name] = {"sigma": round(sigma, 3)} | {k: round(mmd(T, S, bandwidth=sigma), 5) for k, S in
                                                  [("clean_400", clean), ("shifted_400", shifted),
                                                   ("clean_100", small)]}
        print(name, out[name])
    print("σ=5 prediction from sizes alone, sqrt(1/500 + 1/400) =", round(np.sqrt(1 / 500 + 1 / 400), 5),
          "and sqrt(1/500 + 1/100) =", round(np.sqrt(1 / 500 + 1 / 100), 5))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
