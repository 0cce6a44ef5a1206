"""Tests for trainfree.data: loaders, label noise, contributor splits and the Ising generator."""

from __future__ import annotations

import gzip
import itertools
import os
import random
import socket
import struct

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trainfree import TrainfreeError
from trainfree.data import (Dataset, domain_shift, inject_label_noise, ising_energy, load, load_digits_dataset,
                            load_fashion_mnist, load_file, load_mnist1d, make_ising, read_idx, split_contributors)
from trainfree.data.sources import FMNIST_CLASSES, FMNIST_DEFAULT_DIR

Image = pytest.importorskip("PIL.Image")


def write_idx(path, arr, *, compress=True, type_code=0x08):
    """Write ``arr`` in IDX format, header built by hand (independent of the reader)."""
    big = arr.astype(arr.dtype.newbyteorder(">"))
    payload = bytes([0, 0, type_code, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape) + big.tobytes()
    (gzip.open if compress else open)(path, "wb").write(payload)
    return path


def write_fmnist(folder, n_train=20, n_test=10, seed=0):
    rng = np.random.default_rng(seed)
    data = {}
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        labels = (np.arange(n) % 10).astype(np.uint8)
        write_idx(folder / f"{prefix}-images-idx3-ubyte.gz", images)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte.gz", labels)
        data[prefix] = images, labels
    return data


# ---------------------------------------------------------------------------------------------- IDX


@pytest.mark.parametrize("compress", [True, False])
def test_read_idx_round_trip(tmp_path, compress):
    arr = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    assert np.array_equal(read_idx(write_idx(tmp_path / "a.idx", arr, compress=compress)), arr)
    ints = np.array([-5, 70000, 3], dtype=np.int32)
    out = read_idx(write_idx(tmp_path / "b.idx", ints, compress=compress, type_code=0x0C))
    assert out.dtype == np.int32 and np.array_equal(out, ints)


def test_read_idx_rejects_bad_magic_and_truncation(tmp_path):
    bad = tmp_path / "bad.gz"
    with gzip.open(bad, "wb") as fh:
        fh.write(b"\x01\x02\x08\x01" + struct.pack(">I", 2) + b"\x00\x00")
    with pytest.raises(TrainfreeError, match="magic number"):
        read_idx(bad)
    short = tmp_path / "short.gz"
    with gzip.open(short, "wb") as fh:
        fh.write(bytes([0, 0, 8, 1]) + struct.pack(">I", 5) + b"\x00\x00")
    with pytest.raises(TrainfreeError, match="truncated"):
        read_idx(short)


def test_fashion_mnist_from_tiny_files(tmp_path, monkeypatch):
    data = write_fmnist(tmp_path)
    ds = load_fashion_mnist(root=tmp_path)
    images, labels = data["train"]
    assert ds.X.shape == (20, 784) and ds.X.dtype == np.float32 and ds.image_shape == (1, 28, 28)
    np.testing.assert_allclose(ds.images()[:, 0], images / 255.0, rtol=1e-6)
    assert np.array_equal(ds.y, labels) and ds.classes == FMNIST_CLASSES
    monkeypatch.setenv("TRAINFREE_FMNIST_DIR", str(tmp_path))
    X, y = load_fashion_mnist(split="test", n=5, random_state=0)
    assert X.shape == (5, 784) and len(set(y.tolist())) == 5


def test_fashion_mnist_missing_dir_names_the_fix(tmp_path, monkeypatch):
    monkeypatch.setenv("TRAINFREE_FMNIST_DIR", str(tmp_path))
    with pytest.raises(TrainfreeError, match="apt-get install -y dataset-fashion-mnist") as info:
        load_fashion_mnist()
    assert "TRAINFREE_FMNIST_DIR" in str(info.value)
    with pytest.raises(TrainfreeError, match="apt-get"):
        load("fmnist")


@pytest.mark.skipif(not (FMNIST_DEFAULT_DIR / "train-images-idx3-ubyte.gz").is_file(),
                    reason="Fashion-MNIST not installed (apt-get install -y dataset-fashion-mnist)")
def test_real_fashion_mnist(monkeypatch):
    monkeypatch.delenv("TRAINFREE_FMNIST_DIR", raising=False)
    ds = load_fashion_mnist()
    assert ds.X.shape == (60000, 784) and ds.X.dtype == np.float32
    assert np.bincount(ds.y).tolist() == [6000] * 10
    assert ds.X.min() == 0.0 and ds.X.max() == 1.0
    sub = load_fashion_mnist(split="test", n=1000, random_state=0)
    assert np.bincount(sub.y).tolist() == [100] * 10


# ------------------------------------------------------------------------------------- subsampling


@settings(max_examples=60, deadline=None)
@given(counts=st.lists(st.integers(1, 30), min_size=1, max_size=6), frac=st.floats(0.01, 1.0), seed=st.integers(0, 99))
def test_subsample_is_stratified(counts, frac, seed):
    y = np.repeat(np.arange(len(counts)), counts)
    n = max(1, int(frac * len(y)))
    ds = Dataset(np.arange(len(y), dtype=float)[:, None], y)
    sub = ds.subsample(n, random_state=seed)
    got = np.bincount(sub.y, minlength=len(counts))
    share = n * np.array(counts) / len(y)
    assert len(sub) == n and got.sum() == n
    assert np.all(got >= np.floor(share)) and np.all(got <= np.ceil(share))
    # Rows are original rows, distinct, with their own labels.
    rows = sub.X[:, 0].astype(int)
    assert np.all(np.diff(rows) > 0) and np.array_equal(y[rows], sub.y)  # distinct, original order


def test_subsample_balanced_source_and_errors():
    ds = load_digits_dataset()
    assert ds.X.shape == (1797, 64) and ds.X.min() == 0 and ds.X.max() == 1
    share = 500 * np.bincount(ds.y) / len(ds)  # digits classes hold 174 to 183 images
    counts = np.bincount(ds.subsample(500, random_state=1).y)
    assert counts.sum() == 500 and np.all(np.abs(counts - share) < 1)
    balanced = Dataset(np.zeros((1000, 1)), np.arange(1000) % 10).subsample(95, random_state=0)
    assert sorted(np.bincount(balanced.y).tolist()) == [9] * 5 + [10] * 5
    assert np.array_equal(ds.subsample(50, random_state=3).X, ds.subsample(50, random_state=3).X)
    with pytest.raises(TrainfreeError, match="exceeds the 1797"):
        ds.subsample(2000)


def test_dataset_validation_and_unpacking():
    ds = Dataset(np.zeros((3, 4)), np.array([0, 2, 1]), image_shape=(1, 2, 2))
    X, y = ds
    assert X.dtype == np.float32 and y.dtype == np.int64 and ds.classes == ("0", "1", "2")
    assert ds.images().shape == (3, 1, 2, 2)
    with pytest.raises(TrainfreeError, match="image_shape"):
        Dataset(np.zeros((3, 4)), np.zeros(3, int), image_shape=(1, 3, 3))
    with pytest.raises(TrainfreeError, match="shape \\(3,\\)"):
        Dataset(np.zeros((3, 4)), np.zeros(2, int))
    with pytest.raises(TrainfreeError, match="no image_shape"):
        Dataset(np.zeros((3, 4)), np.zeros(3, int)).images()


# ------------------------------------------------------------------------------------------ MNIST-1D


def test_mnist1d_default_is_the_published_dataset():
    from mnist1d.data import get_dataset_args, make_dataset

    ds = load_mnist1d(random_state=42)
    ref = make_dataset(get_dataset_args())
    assert ds.X.shape == (5000, 40) and ds.image_shape == (1, 40)
    np.testing.assert_allclose(ds.X[:4000], ref["x"], rtol=1e-6, atol=1e-6)
    assert np.array_equal(ds.y[:4000], ref["y"]) and np.array_equal(ds.y[4000:], ref["y_test"])


def test_mnist1d_offline_no_files_no_global_state(tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.chdir(tmp_path)
    np.random.seed(123)
    random.seed(123)
    np_state, py_state = np.random.get_state(), random.getstate()
    ds = load_mnist1d(n=37, random_state=5)
    assert os.listdir(tmp_path) == []
    assert np.array_equal(np.random.get_state()[1], np_state[1]) and random.getstate() == py_state
    assert ds.X.shape == (37, 40) and ds.X.dtype == np.float32
    counts = np.bincount(ds.y, minlength=10)
    assert counts.max() - counts.min() <= 1
    assert np.array_equal(load_mnist1d(n=37, random_state=5).X, ds.X)
    assert not np.array_equal(load_mnist1d(n=37, random_state=6).X, ds.X)


# ------------------------------------------------------------------------------------------ files


def test_npz_round_trip(tmp_path):
    X = np.random.default_rng(0).random((6, 2, 3, 3))
    np.savez(tmp_path / "a.npz", X=X, y=np.array(["dog", "cat", "dog", "cat", "eel", "eel"]))
    ds = load_file(tmp_path / "a.npz")
    assert ds.classes == ("cat", "dog", "eel") and ds.y.tolist() == [1, 0, 1, 0, 2, 2]
    assert ds.image_shape == (2, 3, 3) and np.allclose(ds.images(), X)
    np.savez(tmp_path / "r.npz", X=X[:, 0, 0], y=np.linspace(0.1, 0.9, 6))
    reg = load_file(tmp_path / "r.npz")
    assert reg.task == "regression" and np.allclose(reg.y, np.linspace(0.1, 0.9, 6)) and reg.classes == ()


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_table_round_trip(tmp_path, suffix):
    df = pd.DataFrame({"a": [0.5, 1.5, 2.5, 3.5], "target": [3, 7, 3, 7], "b": [1, 2, 3, 4]})
    path = tmp_path / f"t{suffix}"
    df.to_csv(path, index=False) if suffix == ".csv" else df.to_parquet(path, index=False)
    ds = load_file(path, label_column="target", standardize=False)
    assert np.allclose(ds.X, df[["a", "b"]].to_numpy()) and ds.y.tolist() == [0, 1, 0, 1]
    # By default each column is standardised: 0.5..3.5 and 1..4 both become the same z-scores.
    z = (np.arange(4) - 1.5) / np.sqrt(1.25)
    np.testing.assert_allclose(load_file(path, label_column="target").X, np.c_[z, z], rtol=1e-6)
    assert ds.classes == ("3", "7")
    with pytest.raises(TrainfreeError, match="no label column 'label'.*'target'"):
        load_file(path)


def test_table_errors(tmp_path):
    pd.DataFrame({"x": np.arange(30.0), "note": [f"n{i}" for i in range(30)], "label": [0, 1] * 15}).to_csv(
        tmp_path / "c.csv", index=False)
    with pytest.raises(TrainfreeError, match="column 'note' has 30 distinct values.*id_column='note'"):
        load_file(tmp_path / "c.csv")
    np.savez(tmp_path / "k.npz", data=np.zeros((2, 2)), labels=np.zeros(2))
    with pytest.raises(TrainfreeError, match="found keys \\['data', 'labels'\\]"):
        load_file(tmp_path / "k.npz")
    with pytest.raises(TrainfreeError, match="No such file"):
        load_file(tmp_path / "missing.npz")
    (tmp_path / "x.txt").write_text("1")
    with pytest.raises(TrainfreeError, match="supported are"):
        load_file(tmp_path / "x.txt")


def make_png(path, array, mode):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array.astype(np.uint8), mode=mode).save(path)


def test_image_folder_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    imgs = {("b_cls", "1.png"): rng.integers(0, 256, (4, 5)), ("a_cls", "2.png"): rng.integers(0, 256, (4, 5)),
            ("a_cls", "1.png"): rng.integers(0, 256, (4, 5))}
    for (cls, name), arr in imgs.items():
        make_png(tmp_path / "imgs" / cls / name, arr, "L")
    ds = load_file(tmp_path / "imgs")
    assert ds.classes == ("a_cls", "b_cls") and ds.y.tolist() == [0, 0, 1] and ds.image_shape == (1, 4, 5)
    expected = [imgs[("a_cls", "1.png")], imgs[("a_cls", "2.png")], imgs[("b_cls", "1.png")]]
    np.testing.assert_allclose(ds.images()[:, 0], np.stack(expected) / 255.0, rtol=1e-6)
    # One colour image makes the whole folder RGB, channels first; grey images get equal channels.
    rgb = rng.integers(0, 256, (4, 5, 3))
    make_png(tmp_path / "imgs" / "b_cls" / "2.png", rgb, "RGB")
    ds = load_file(tmp_path / "imgs")
    assert ds.image_shape == (3, 4, 5)
    np.testing.assert_allclose(ds.images()[3], rgb.transpose(2, 0, 1) / 255.0, rtol=1e-6)
    assert np.all(ds.images()[0] == ds.images()[0, :1])


def test_load_dispatch(tmp_path):
    X, y = load("digits", n=100, random_state=0)
    assert X.shape == (100, 64)
    np.savez(tmp_path / "d.npz", X=np.zeros((10, 2)), y=np.arange(10) % 2)
    assert len(load(tmp_path / "d.npz", n=4, random_state=0)) == 4
    with pytest.raises(TrainfreeError, match="Unknown data set 'cifar'.*'fmnist', 'digits', 'mnist1d'"):
        load("cifar")


# -------------------------------------------------------------------------------------- label noise


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 200), C=st.integers(2, 7), rate=st.floats(0, 1),
       mode=st.sampled_from(["symmetric", "pair"]), seed=st.integers(0, 999))
def test_noise_invariants(n, C, rate, mode, seed):
    y = np.random.default_rng(seed).integers(0, C, n)
    y_noisy, flipped = inject_label_noise(y, rate, n_classes=C, noise_mode=mode, random_state=seed)
    assert flipped.sum() == int(np.floor(rate * n + 0.5))
    assert np.array_equal(flipped, y_noisy != y)
    assert y_noisy.min() >= 0 and y_noisy.max() < C
    if mode == "pair":
        assert np.array_equal(y_noisy[flipped], (y[flipped] + 1) % C)
    again = inject_label_noise(y, rate, n_classes=C, noise_mode=mode, random_state=seed)
    assert np.array_equal(again[0], y_noisy) and np.array_equal(again[1], flipped)


def test_symmetric_noise_is_uniform_over_other_classes():
    y = np.zeros(20000, dtype=int)
    y_noisy, _ = inject_label_noise(y, 1.0, n_classes=5, random_state=0)
    counts = np.bincount(y_noisy, minlength=5)
    assert counts[0] == 0
    assert np.all(np.abs(counts[1:] - 5000) < 4 * np.sqrt(5000 * 0.75))  # 4 binomial standard deviations


def test_class_conditional_transition():
    T = np.array([[0, 1, 0], [0, 0, 1], [0.5, 0.5, 0]])
    y = np.repeat([0, 1, 2], 4000)
    y_noisy, flipped = inject_label_noise(y, 0.5, noise_mode="class_conditional", transition=T, random_state=0)
    assert np.all(y_noisy[flipped & (y == 0)] == 1) and np.all(y_noisy[flipped & (y == 1)] == 2)
    from2 = y_noisy[flipped & (y == 2)]
    assert set(from2.tolist()) == {0, 1} and abs(np.mean(from2 == 0) - 0.5) < 0.05


@pytest.mark.parametrize("kwargs, match", [
    (dict(noise_rate=1.5), "'noise_rate'.*range"),
    (dict(noise_rate=0.1, transition=np.eye(3)[[1, 2, 0]]), "only, and always, with noise_mode='class_conditional'"),
    (dict(noise_rate=0.1, noise_mode="class_conditional"), "only, and always, with noise_mode='class_conditional'"),
    (dict(noise_rate=0.1, noise_mode="class_conditional", transition=np.eye(3)), "zero diagonal"),
    (dict(noise_rate=0.1, noise_mode="class_conditional", transition=np.full((3, 3), 0.2)), "summing to 1"),
    (dict(noise_rate=0.1, noise_mode="class_conditional", transition=np.zeros((2, 2))), "shape \\(3, 3\\)"),
    (dict(noise_rate=0.1, n_classes=2), "n_classes=2"),
])
def test_noise_validation(kwargs, match):
    with pytest.raises(TrainfreeError, match=match):
        inject_label_noise(np.array([0, 1, 2, 2]), **kwargs)
    with pytest.raises(TrainfreeError, match="integer class codes"):
        inject_label_noise(np.array(["a", "b"]), 0.5)


# ------------------------------------------------------------------------------------- contributors


def assert_partition(contributors, n):
    idx = np.concatenate([c.indices for c in contributors])
    assert len(idx) == n and np.array_equal(np.sort(idx), np.arange(n))


@pytest.mark.parametrize("how", ["random", "class", "sizes", "noisy"])
def test_splits_partition_the_data(how):
    rng = np.random.default_rng(0)
    X, y = rng.random((300, 3)), rng.integers(0, 10, 300)
    cs = split_contributors(X, y, 4, how=how, random_state=0)
    assert len(cs) == 4 and [c.name for c in cs] == ["c0", "c1", "c2", "c3"]
    assert_partition(cs, 300)
    for c in cs:
        assert np.array_equal(c.X, X[c.indices]) and np.array_equal(c.y[~c.flipped], y[c.indices][~c.flipped])
    if how == "random":
        assert sorted(len(c) for c in cs) == [75] * 4
    if how == "sizes":
        assert min(len(c) for c in cs) >= 2 and len({len(c) for c in cs}) > 1
    if how == "class":
        sets = [set(y[c.indices].tolist()) for c in cs]
        assert all(a.isdisjoint(b) for a, b in itertools.combinations(sets, 2))
        assert sets[0] == {0, 4, 8} and sets[3] == {3, 7}


def test_noisy_split_rates():
    X, y = np.zeros((1000, 1)), np.arange(1000) % 10
    cs = split_contributors(X, y, 10, how="noisy", random_state=0)
    assert [c.noise_rate for c in cs] == [0.4] * 3 + [0.0] * 7
    for c in cs:
        assert c.flipped.sum() == round(c.noise_rate * len(c))
        assert np.array_equal(c.flipped, c.y != y[c.indices])
    cs = split_contributors(X, y, 2, how="class", noise_rates=[0.0, 0.25], random_state=0)
    assert cs[0].flipped.sum() == 0 and cs[1].flipped.sum() == 125
    assert set(cs[1].y[cs[1].flipped].tolist()) - {1, 3, 5, 7, 9}  # flips reach classes outside the contributor


def test_split_errors_and_reproducibility():
    X, y = np.zeros((20, 1)), np.arange(20) % 3
    with pytest.raises(TrainfreeError, match="at least 4 classes; y has 3"):
        split_contributors(X, y, 4, how="class")
    with pytest.raises(TrainfreeError, match="one rate per contributor"):
        split_contributors(X, y, 2, noise_rates=[0.1])
    with pytest.raises(TrainfreeError, match="needs at least 22"):
        split_contributors(X, y, 11, how="sizes")
    a = split_contributors(X, y, 3, how="sizes", random_state=7)
    b = split_contributors(X, y, 3, how="sizes", random_state=7)
    assert all(np.array_equal(p.indices, q.indices) for p, q in zip(a, b))


def test_domain_shift_kinds():
    rng = np.random.default_rng(0)
    X, y = rng.random((40, 16)).astype(np.float32), np.arange(40) % 2
    X[0, 0], X[1, 0] = 0.0, 1.0  # pooled range exactly [0, 1]
    cs = domain_shift(X, y, 4, n_shifted=2, kind="invert", random_state=0)
    assert [c.shift for c in cs] == ["invert", "invert", None, None]
    for c in cs:
        assert np.allclose(c.X, 1 - X[c.indices] if c.shift else X[c.indices])
    cs = domain_shift(X, y, 2, n_shifted=1, kind="rotate", image_shape=(1, 4, 4), random_state=0)
    imgs = X[cs[0].indices].reshape(-1, 1, 4, 4)
    assert np.array_equal(cs[0].X.reshape(-1, 1, 4, 4), np.rot90(imgs, axes=(-2, -1)))
    cs = domain_shift(X, y, 2, n_shifted=1, kind="noise", scale=2.0, random_state=0)
    noise = cs[0].X - X[cs[0].indices]
    assert abs(noise.std() / (2 * X.std()) - 1) < 0.15 and np.array_equal(cs[1].X, X[cs[1].indices])
    with pytest.raises(TrainfreeError, match="square images"):
        domain_shift(X, y, 2, kind="rotate")


# -------------------------------------------------------------------------------------------- Ising


def brute_energy(s):
    L, e = s.shape[0], 0.0
    for i in range(L):
        for j in range(L):
            e -= s[i, j] * (s[(i + 1) % L, j] + s[i, (j + 1) % L])
    return e / L**2


@settings(max_examples=30, deadline=None)
@given(L=st.integers(2, 7), seed=st.integers(0, 999))
def test_ising_energy_matches_brute_force(L, seed):
    s = np.random.default_rng(seed).choice([-1, 1], (3, L, L))
    assert np.allclose(ising_energy(s), [brute_energy(x) for x in s])


def test_ising_energy_known_states():
    assert float(ising_energy(np.ones((6, 6)))) == -2.0
    checker = np.where(np.add.outer(np.arange(6), np.arange(6)) % 2, 1, -1)
    assert float(ising_energy(checker)) == 2.0


def test_make_ising_low_and_high_temperature():
    cold = make_ising(200, temperatures=(1.5, 1.5), sweeps=100, random_state=0)
    hot = make_ising(200, temperatures=(5.0, 5.0), sweeps=100, random_state=0)
    assert np.abs(cold.extras["magnetisation"]).mean() > 0.95
    assert np.abs(hot.extras["magnetisation"]).mean() < 0.3
    for ds in (cold, hot):
        assert ds.task == "regression" and ds.image_shape == (1, 8, 8) and set(np.unique(ds.X)) <= {-1.0, 1.0}
        assert np.allclose(ds.y, ising_energy(ds.images()[:, 0]))
        assert np.allclose(ds.extras["magnetisation"], ds.X.mean(axis=1))


@pytest.mark.parametrize("T", [1.8, 2.5, 4.0])
def test_make_ising_matches_exact_enumeration(T):
    """Mean energy and |m| of a 4x4 lattice against the exact Boltzmann averages over all 2**16 states."""
    states = ((np.arange(2**16)[:, None] >> np.arange(16)) & 1).reshape(-1, 4, 4) * 2 - 1
    e = np.array([brute_energy(s) for s in states[:64]])  # spot-check the vectorised energy
    assert np.allclose(e, ising_energy(states[:64]))
    energy, mag = ising_energy(states), np.abs(states.mean(axis=(1, 2)))
    w = np.exp(-16 * (energy - energy.min()) / T)
    w /= w.sum()
    ds = make_ising(3000, size=4, temperatures=(T, T), sweeps=200, random_state=1)
    for sample, exact in ((ds.y, w @ energy), (np.abs(ds.extras["magnetisation"]), w @ mag)):
        assert abs(sample.mean() - exact) < 4 * sample.std() / np.sqrt(len(sample)) + 1e-3


def test_make_ising_validation_and_seed():
    with pytest.raises(TrainfreeError, match="even"):
        make_ising(5, size=5)
    with pytest.raises(TrainfreeError, match="temperatures"):
        make_ising(5, temperatures=(3.0, 1.0))
    a, b = make_ising(20, size=4, sweeps=10, random_state=3), make_ising(20, size=4, sweeps=10, random_state=3)
    assert np.array_equal(a.X, b.X) and np.array_equal(a.extras["temperature"], b.extras["temperature"])


def test_groundtruth_pool_of_the_first_images(tmp_path, monkeypatch):
    from trainfree.experiments.groundtruth import groundtruth_splits

    data = write_fmnist(tmp_path)
    monkeypatch.setenv("TRAINFREE_FMNIST_DIR", str(tmp_path))
    train, val, test = groundtruth_splits("fmnist", pool=12, val_size=4, test_size=5, first=True)
    images, labels = data["train"]
    # The paper's pool: the file's first images in order, validation first, then the datasets' source.
    np.testing.assert_allclose(val.X, images[:4].reshape(4, -1) / 255.0, rtol=1e-6)
    assert np.array_equal(train.y, labels[4:12]) and len(test) == 5
