"""Finding flipped labels: trainfree's training-free scores against cleanlab, KNN-Shapley and Data-OOB, on the same flips.

The embeddings case (--settings emb-sym20,emb-pair30,emb-sym40 --peers cl-logreg,knn-vote,simifeat-vote):
a small CNN trained on the first 50 000 Fashion-MNIST training images gives 128-d embeddings of the other 10 000
(cached in --cache); the detector scores them with its arc-cosine kernel, in its exact and its low-rank mode, and the
peers are own code (bench/own_peers.py: confident learning (own implementation) on 5-fold logistic regression, a kNN
vote, a SimiFeat-style vote), every method on one thread. --embed-n and --epochs make a small run.

Usage: python bench/noise_peers.py [--n 10000] [--seed 0] [--settings fmnist-sym20,fmnist-sym50,fmnist-pair20,digits-sym20]
                                   [--scores mislabel,cg] [--peers cleanlab-logreg,cleanlab-mlp,knn-shapley,data-oob]
trainfree rows come from trainfree.experiments.score_dataset. The peers run their own code (bench/peer_scores.py) in a
separate virtual environment that this script creates once and reuses (--venv; pyDVL 0.10 pins numpy<2, which breaks
pyarrow beside trainfree): cleanlab 2.9 on 5-fold cross-validated probabilities of a logistic regression and of a
one-hidden-layer (128) MLP, pyDVL 0.10's KNN-Shapley (k = 10) and Data-OOB (random forest, 400 trees). Every method
sees the same noisy labels (asserted) and, for the peers, the flattened pixels scaled to [0, 1]. Every score is
oriented so that higher = more likely mislabeled; k = the number of flipped labels.
Last line: {"seed":..., "settings": {name: {"n":..., "noise":..., "mode":..., "k":..., "methods": {method: {"auroc":...,
"found_at_k":..., "seconds":..., ["flagged":..., "recall":..., "precision":...]}}}}, "peer_versions": {...}}
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from trainfree._random import check_random_state, child
from trainfree.data import inject_label_noise, load
from trainfree.experiments import score_dataset
from trainfree.metrics import auroc, noise_found_at, sign_rule_report

SETTINGS = {"fmnist-sym20": ("fmnist", 0.2, "symmetric"), "fmnist-sym50": ("fmnist", 0.5, "symmetric"),
            "fmnist-pair20": ("fmnist", 0.2, "pair"), "digits-sym20": ("digits", 0.2, "symmetric")}
EMBEDDINGS = {"emb-sym20": (0.2, "symmetric"), "emb-pair30": (0.3, "pair"), "emb-sym40": (0.4, "symmetric")}
PEERS = ("cleanlab-logreg", "cleanlab-mlp", "knn-shapley", "data-oob")
_spec = importlib.util.spec_from_file_location("own_peers", Path(__file__).with_name("own_peers.py"))
own_peers = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(own_peers)
OWN_PEERS = tuple(own_peers.PEERS)  # own code, run here on one thread
LABELS = {"mislabel": "trainfree mislabel (no training)", "cg": "trainfree CG-score, exact (no training)",
          "cleanlab-logreg": "cleanlab + 5-fold logistic regression", "cleanlab-mlp": "cleanlab + 5-fold MLP (128)",
          "knn-shapley": "KNN-Shapley, k = 10 (pyDVL)", "data-oob": "Data-OOB, random forest 400 trees (pyDVL)",
          "mislabel-arccos-exact": "trainfree mislabel, arc-cosine kernel on the embeddings, exact",
          "mislabel-arccos-lowrank": "trainfree mislabel, arc-cosine kernel on the embeddings, low-rank",
          **own_peers.LABELS}
DETECTOR_MODES = ("exact", "lowrank")
# Pinned: pyDVL 0.10 calls sklearn's private forest helpers, whose signature changed in scikit-learn 1.8.
REQUIREMENTS = ("numpy==1.26.4", "scikit-learn==1.7.2", "cleanlab==2.9.0", "pyDVL==0.10.0")
VENV = Path.home() / ".cache" / "trainfree" / "peers-venv"


def detection(scores, flipped, flags=None) -> dict:
    """AUROC and the share of flipped labels among the k highest scores, k = number flipped; with a boolean
    ``flags`` also how many it flags, their recall (flipped ones flagged) and precision.

    >>> detection([0.9, 0.1, 0.8, 0.2], [True, False, False, False])
    {'auroc': 1.0, 'found_at_k': 1.0}
    """
    flipped = np.asarray(flipped, dtype=bool)
    k = int(flipped.sum())
    out = {"auroc": auroc(scores, flipped),
           "found_at_k": noise_found_at(scores, flipped, fractions=(k / len(flipped),))[k / len(flipped)]}
    if flags is not None:
        rule = sign_rule_report(flags, flipped)
        out.update(flagged=int(np.sum(flags)), recall=rule["noisy_positive_frac"], precision=rule["precision"])
        p, r = out["precision"], out["recall"]
        out["f1"] = 2 * p * r / (p + r) if p + r > 0 else 0.0
    return out


def backbone_embeddings(cache: Path, *, epochs: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """128-d embeddings of Fashion-MNIST training images 50 000-59 999 and their labels, from a small CNN
    (conv 32, conv 64, 3×3, max-pooling, a 128-unit layer) trained on images 0-49 999; cached in ``cache``."""
    if cache.exists():
        with np.load(cache) as f:
            if int(f["epochs"]) == epochs and int(f["seed"]) == seed:
                return f["X"], f["y"]
    import torch
    from torch import nn

    from trainfree.data import load_fashion_mnist
    from trainfree.training import train

    data = load_fashion_mnist(split="train")  # all 60 000, in file order
    images = data.X.reshape(-1, 1, 28, 28)
    torch.manual_seed(seed)
    body = nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 3), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Flatten(), nn.Linear(64 * 5 * 5, 128), nn.ReLU())
    model = nn.Sequential(body, nn.Linear(128, 10))
    t = time.perf_counter()
    train(model, images[:50_000], data.y[:50_000], epochs=epochs, batch_size=128, tol=0, random_state=seed)
    with torch.no_grad():
        model.eval()
        emb = np.concatenate([body(torch.as_tensor(images[s:s + 2000])).numpy() for s in range(50_000, 60_000, 2000)])
    print(f"backbone: {epochs} epoch(s) in {time.perf_counter() - t:.0f} s", flush=True)
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez(cache, X=emb, y=data.y[50_000:], epochs=epochs, seed=seed)
    return emb, data.y[50_000:]


def embeddings_case(X, y, noise: float, mode: str, peers, seed: int) -> tuple[dict, int]:
    """The detector (arc-cosine kernel; exact and low-rank mode) and the own peers on the same flips of the
    embeddings, one thread each."""
    import torch
    from threadpoolctl import threadpool_limits

    from trainfree.scores import mislabel_score

    noisy, flipped = inject_label_noise(y, noise, n_classes=10, noise_mode=mode,
                                        random_state=child(check_random_state(seed), "noise"))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    methods = {}
    try:
        with threadpool_limits(1):
            mislabel_score(X[:200], y[:200], kernel="arccos", random_state=seed)  # untimed: torch's start-up
            for method in DETECTOR_MODES:
                t = time.perf_counter()
                res = mislabel_score(X, noisy, kernel="arccos", method=method, random_state=seed)
                methods[f"mislabel-arccos-{method}"] = {
                    **detection(res.scores, flipped, res.flags), "seconds": time.perf_counter() - t,
                    "noise_rate_estimate": res.settings["noise_rate_estimate"],
                    **{k: res.settings[k] for k in ("rank", "rank_path", "block_correction") if k in res.settings}}
            for p in peers:
                t = time.perf_counter()
                kwargs = {"seed": seed} if p != "knn-vote" else {}
                scores, flags, extra = own_peers.PEERS[p](X, noisy, **kwargs)
                methods[p] = {**detection(scores, flipped, flags), "seconds": time.perf_counter() - t, **extra}
    finally:
        torch.set_num_threads(threads)
    return methods, int(flipped.sum())


def peers_python(venv: Path) -> Path:
    """The peers' interpreter: ``venv`` is created and filled on first use, reused while its requirements match."""
    python, marker = venv / "bin" / "python", venv / "trainfree-peers.txt"
    wanted = "\n".join(REQUIREMENTS)
    if python.exists() and marker.exists() and marker.read_text() == wanted:
        return python
    print(f"setting up the peers' environment in {venv} ...", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", *REQUIREMENTS], check=True)
    marker.write_text(wanted)
    return python


def run_peers(python: Path, X, y, peers, seed) -> tuple[dict, dict]:
    """Each peer's (scores, flags, seconds), by name, and the package versions, through files in a temp folder."""
    with tempfile.TemporaryDirectory() as tmp:
        inp, out = Path(tmp) / "in.npz", Path(tmp) / "out.npz"
        np.savez(inp, X=X, y=y)
        env = {**os.environ, "PYTHONWARNINGS": "ignore::FutureWarning,ignore::DeprecationWarning"}
        env.pop("PYTHONPATH", None)  # trainfree (and its numpy>=2 world) stays out of the peers' process
        subprocess.run([str(python), str(Path(__file__).with_name("peer_scores.py")), str(inp), str(out),
                        "--peers", ",".join(peers), "--seed", str(seed)], check=True, env=env)
        with np.load(out) as f:
            res = {p: (f[f"score_{p}"], f[f"flag_{p}"] if f"flag_{p}" in f.files else None,
                       float(f[f"seconds_{p}"])) for p in peers}
            versions = json.loads(str(f["versions"]))
    return res, versions


def markdown(name, n, noise, mode, k, methods) -> str:
    lines = [f"{name}: n = {n}, {noise:.0%} {'pair (c → c+1)' if mode == 'pair' else mode} noise, "
             f"k = {k} flipped", "",
             "| method | AUROC | flipped in top k | flagged: precision / recall / F1 | time |", "|---|---|---|---|---|"]
    for m, r in methods.items():
        flag = f"{r['precision']:.3f} / {r['recall']:.3f} / {r['f1']:.3f} ({r['flagged']})" if "flagged" in r else ""
        lines.append(f"| {LABELS.get(m, m)} | {r['auroc']:.4f} | {r['found_at_k']:.3f} | {flag} | "
                     f"{r['seconds']:.1f} s |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10000, help="Fashion-MNIST images (digits always uses all 1797)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--settings", default=",".join(SETTINGS))
    ap.add_argument("--scores", default="mislabel,cg", help="trainfree scores ('none' for peers only)")
    ap.add_argument("--peers", default=",".join(PEERS), help="subset of " + ",".join(PEERS) + " ('none')")
    ap.add_argument("--venv", type=Path, default=VENV, help="the peers' virtual environment (made on first use)")
    ap.add_argument("--cache", type=Path, default=Path("out/noise_peers/fmnist-embeddings.npz"),
                    help="embeddings case: file caching the backbone's embeddings")
    ap.add_argument("--epochs", type=int, default=3, help="embeddings case: epochs of the backbone")
    ap.add_argument("--embed-n", type=int, default=10000, help="embeddings case: held-out rows scored (first ones)")
    args = ap.parse_args()
    settings = [s for s in args.settings.split(",") if s]
    scores = [s for s in args.scores.split(",") if s and s != "none"]
    peers = [p for p in args.peers.split(",") if p and p != "none"]
    for s in settings:
        if s not in SETTINGS and s not in EMBEDDINGS:
            ap.error(f"unknown setting {s!r}: choose from {', '.join([*SETTINGS, *EMBEDDINGS])}")
    for p in peers:
        if p not in PEERS and p not in OWN_PEERS:
            ap.error(f"unknown peer {p!r}: choose from {', '.join(PEERS + OWN_PEERS)}")
    own = [p for p in peers if p in OWN_PEERS]
    peers = [p for p in peers if p in PEERS]
    python = peers_python(args.venv) if peers and any(s in SETTINGS for s in settings) else None
    for s in scores:  # untimed warm-up: the first call in a process pays for torch's start-up
        score_dataset(load("digits", n=200, random_state=0), score=s, noise_rate=0.2, random_state=0)
    report, versions = {}, {}
    for name in [s for s in settings if s in EMBEDDINGS]:
        X, y = backbone_embeddings(args.cache, epochs=args.epochs, seed=args.seed)
        X, y = X[:args.embed_n], y[:args.embed_n]
        noise, mode = EMBEDDINGS[name]
        methods, k = embeddings_case(X, y, noise, mode, own, args.seed)
        report[name] = {"data": "fmnist-embeddings", "n": len(y), "noise": noise, "mode": mode, "k": k,
                        "methods": methods}
        print(markdown(name, len(y), noise, mode, k, methods) + "\n", flush=True)
    for name in [s for s in settings if s in SETTINGS]:
        source, noise, mode = SETTINGS[name]
        data = load(source, n=args.n if source == "fmnist" else None, random_state=args.seed)
        # The flips score_dataset draws for this seed: its "noise" child of the root seed.
        y, flipped = inject_label_noise(data.y, noise, n_classes=len(data.classes),
                                        noise_mode=mode,
                                        random_state=child(check_random_state(args.seed), "noise"))
        methods = {}
        for s in scores:
            t = time.perf_counter()
            res = score_dataset(data, score=s, noise_rate=noise, noise_mode=mode, random_state=args.seed)
            seconds = time.perf_counter() - t
            assert np.array_equal(res["flipped"], flipped), "the benchmark's flips differ from score_dataset's"
            flags = next((res[c] for c in res.columns if c.startswith("flag")), None)
            methods[s] = {**detection(res.scores, flipped, flags), "seconds": seconds}
        if peers:
            got, versions = run_peers(python, data.X, y, peers, args.seed)
            for p, (sc, flags, seconds) in got.items():
                methods[p] = {**detection(sc, flipped, flags), "seconds": seconds}
        k = int(flipped.sum())
        report[name] = {"data": source, "n": len(data), "noise": noise, "mode": mode, "k": k, "methods": methods}
        print(markdown(name, len(data), noise, mode, k, methods) + "\n", flush=True)
    print(json.dumps({"seed": args.seed, "settings": report, "peer_versions": versions}, default=float))


if __name__ == "__main__":
    main()
