"""Semivalues: closed-form games, brute-force definitions, Monte Carlo error bars, parallel and resume."""

import itertools
import json
import math
import threading

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from joblib import parallel_config
from scipy import integrate, stats

from trainfree import PlayerResult, TrainfreeError, load_result
from trainfree.semivalues import (banzhaf_msr, banzhaf_weights, beta_shapley_weights,
                                  exact_banzhaf, exact_semivalue, exact_shapley, leave_one_out,
                                  permutation_shapley, shapley_weights)


# ------------------------------------------------------------------------------------------- games

class TableGame:
    """Utility given by a table over bitmasks; counts calls (per process)."""

    def __init__(self, table):
        self.table = np.asarray(table, dtype=float)
        self.n_players = int(np.log2(len(self.table)))
        self.calls = 0

    def __call__(self, coalition):
        self.calls += 1
        assert coalition == tuple(sorted(coalition)) and all(type(i) is int for i in coalition)
        return self.table[sum(1 << i for i in coalition)]


class IncrementalGame(TableGame):
    """The same table, also offering the ``along_permutation`` protocol."""

    def __init__(self, table):
        super().__init__(table)
        self.along_calls = 0

    def along_permutation(self, perm):
        self.along_calls += 1
        masks = np.concatenate([[0], np.cumsum([1 << i for i in perm])])
        return self.table[masks]


THREADS_SEEN: set[str] = set()


class ThreadRecordingGame(TableGame):
    def __call__(self, coalition):
        THREADS_SEEN.add(threading.current_thread().name)
        return super().__call__(coalition)


class InterruptingGame(TableGame):
    """Raises KeyboardInterrupt on call number ``stop_after + 1``, like a user pressing Ctrl-C."""

    def __init__(self, table, stop_after):
        super().__init__(table)
        self.stop_after = stop_after

    def __call__(self, coalition):
        if self.calls >= self.stop_after:
            raise KeyboardInterrupt
        return super().__call__(coalition)


class RecordingGame(TableGame):
    """Records every coalition it is asked for, in order."""

    def __init__(self, table):
        super().__init__(table)
        self.seen = []

    def __call__(self, coalition):
        self.seen.append(coalition)
        return super().__call__(coalition)


def random_game(K, seed=0):
    return TableGame(np.random.default_rng(seed).normal(size=2**K))


def brute_shapley(table, K):
    """Average marginal contribution over all K! orderings (the definition)."""
    phi = np.zeros(K)
    for perm in itertools.permutations(range(K)):
        mask = 0
        for i in perm:
            phi[i] += table[mask | 1 << i] - table[mask]
            mask |= 1 << i
    return phi / math.factorial(K)


def brute_banzhaf(table, K):
    """Average marginal contribution over all coalitions of the other players."""
    phi = np.zeros(K)
    for i in range(K):
        others = [j for j in range(K) if j != i]
        for r in range(K):
            for c in itertools.combinations(others, r):
                mask = sum(1 << j for j in c)
                phi[i] += table[mask | 1 << i] - table[mask]
    return phi / 2 ** (K - 1)


games = st.integers(1, 6).flatmap(
    lambda K: st.lists(st.floats(-10, 10), min_size=2**K, max_size=2**K))


# --------------------------------------------------------------------------- exact, closed forms

def test_additive_game_every_exact_method_returns_the_weights():
    w = np.array([0.5, -1.0, 2.0, 3.5])
    game = lambda c: 7.0 + float(w[list(c)].sum())  # noqa: E731
    for method in (exact_shapley, exact_banzhaf, leave_one_out):
        np.testing.assert_allclose(method(game, 4).values, w, atol=1e-12)
    np.testing.assert_allclose(exact_semivalue(game, 4, weights=beta_shapley_weights(4, 16, 1)).values, w,
                               atol=1e-12)


def test_glove_game():
    # Players 0, 1 hold a left glove, player 2 a right glove; a pair is worth 1.
    glove = lambda c: float(min(sum(i in c for i in (0, 1)), int(2 in c)))  # noqa: E731
    np.testing.assert_allclose(exact_shapley(glove, 3).values, [1 / 6, 1 / 6, 2 / 3])
    np.testing.assert_allclose(exact_banzhaf(glove, 3).values, [1 / 4, 1 / 4, 3 / 4])


def test_unanimity_game():
    T = {1, 3, 4}
    unanimity = lambda c: float(T <= set(c))  # noqa: E731
    expected = np.array([1 / 3 if i in T else 0.0 for i in range(6)])
    np.testing.assert_allclose(exact_shapley(unanimity, 6).values, expected)
    # Pivotal exactly when the rest of T is in: 2^(K-|T|) of the 2^(K-1) coalitions.
    np.testing.assert_allclose(exact_banzhaf(unanimity, 6).values, (expected > 0) / 2 ** (len(T) - 1))


def test_symmetric_majority_game():
    majority = lambda c: float(len(c) >= 3)  # noqa: E731
    np.testing.assert_allclose(exact_shapley(majority, 5).values, np.full(5, 1 / 5))
    # A player is pivotal when exactly 2 of the other 4 are in: C(4, 2) / 2^4.
    np.testing.assert_allclose(exact_banzhaf(majority, 5).values, np.full(5, 6 / 16))


def test_weighted_majority_game():
    # Quota 3, weights (2, 1, 1): player 0 is pivotal unless it comes first.
    weights = [2, 1, 1]
    vote = lambda c: float(sum(weights[i] for i in c) >= 3)  # noqa: E731
    np.testing.assert_allclose(exact_shapley(vote, 3).values, [2 / 3, 1 / 6, 1 / 6])


def test_single_player_and_empty_coalition_is_evaluated():
    seen = []
    game = lambda c: seen.append(c) or (5.0 if c else 2.0)  # noqa: E731
    r = exact_shapley(game, 1)
    np.testing.assert_allclose(r.values, [3.0])
    assert sorted(seen) == [(), (0,)]


@settings(max_examples=30, deadline=None)
@given(games)
def test_shapley_is_efficient_and_matches_the_permutation_definition(table):
    game = TableGame(table)
    K = game.n_players
    phi = exact_shapley(game, K).values
    assert phi.sum() == pytest.approx(table[-1] - table[0], abs=1e-9)
    np.testing.assert_allclose(phi, brute_shapley(game.table, K), atol=1e-9)


@settings(max_examples=30, deadline=None)
@given(games)
def test_banzhaf_matches_the_enumeration_formula(table):
    game = TableGame(table)
    K = game.n_players
    np.testing.assert_allclose(exact_banzhaf(game, K).values, brute_banzhaf(game.table, K), atol=1e-9)


def test_each_coalition_is_evaluated_once_and_counted():
    game = random_game(4)
    r = exact_shapley(game, 4)
    assert game.calls == r.n_evaluations == 16
    game = random_game(3)
    r = permutation_shapley(game, 3, max_permutations=200, tolerance=None, random_state=0)
    assert game.calls == r.n_evaluations == 8


def test_leave_one_out_definition():
    game = random_game(4, seed=3)
    r = leave_one_out(game, 4)
    full = 15
    np.testing.assert_allclose(r.values, [game.table[full] - game.table[full ^ (1 << i)] for i in range(4)])
    assert r.n_evaluations == game.calls == 5


# ----------------------------------------------------------------------------------------- weights

def test_beta_one_one_is_shapley():
    for K in (1, 2, 5, 12):
        np.testing.assert_allclose(beta_shapley_weights(K, 1, 1), shapley_weights(K), rtol=1e-12)
    game = random_game(5, seed=1)
    np.testing.assert_allclose(exact_semivalue(game, 5, weights=beta_shapley_weights(5, 1, 1)).values,
                               exact_shapley(game, 5).values, atol=1e-12)


@pytest.mark.parametrize("alpha,beta", [(1, 1), (4, 1), (16, 1), (0.5, 2)])
def test_beta_weights_match_the_integral_definition(alpha, beta):
    # w(k) = ∫ t^k (1-t)^(K-1-k) Beta(t; β, α) dt (Kwon & Zou 2022, per coalition).
    K = 6
    expected = [integrate.quad(lambda t: t**k * (1 - t) ** (K - 1 - k) * stats.beta.pdf(t, beta, alpha), 0, 1)[0]
                for k in range(K)]
    w = beta_shapley_weights(K, alpha, beta)
    np.testing.assert_allclose(w, expected, rtol=1e-6)
    # A probabilistic semivalue: the weights of all coalitions not containing i sum to 1.
    assert sum(math.comb(K - 1, k) * w[k] for k in range(K)) == pytest.approx(1.0)


def test_beta_with_large_alpha_favours_small_coalitions():
    w = beta_shapley_weights(8, 16, 1) * [math.comb(7, k) for k in range(8)]
    assert np.all(np.diff(w) < 0)


def test_banzhaf_weights_via_exact_semivalue_and_callable_weights():
    game = random_game(4, seed=2)
    a = exact_semivalue(game, 4, weights=lambda k: 0.125).values
    np.testing.assert_allclose(a, exact_banzhaf(game, 4).values)
    np.testing.assert_allclose(banzhaf_weights(4), 0.125)


# ------------------------------------------------------------------------------------- Monte Carlo

def test_permutation_shapley_within_three_standard_errors():
    game = random_game(6, seed=4)
    exact = exact_shapley(game, 6).values
    r = permutation_shapley(game, 6, max_permutations=2000, tolerance=None, random_state=1)
    assert r.settings["n_permutations"] == 2000
    assert np.all(r.stderr > 0)
    assert np.all(np.abs(r.values - exact) <= 3 * r.stderr)


def test_permutation_shapley_converges():
    game = random_game(6, seed=5)
    exact = exact_shapley(game, 6).values
    small = permutation_shapley(game, 6, max_permutations=64, tolerance=None, random_state=0)
    large = permutation_shapley(game, 6, max_permutations=4096, tolerance=None, random_state=0)
    np.testing.assert_allclose(large.stderr, small.stderr / 8, rtol=0.35)
    assert np.abs(large.values - exact).max() < np.abs(small.values - exact).max()


def test_permutation_shapley_stops_at_the_tolerance():
    game = random_game(5, seed=6)
    r = permutation_shapley(game, 5, max_permutations=100_000, tolerance=0.05, batch_size=16, random_state=0)
    assert r.settings["converged"]
    assert 32 <= r.settings["n_permutations"] < 100_000
    assert np.all(r.stderr <= 0.05 * np.abs(r.values).max())
    fewer = permutation_shapley(game, 5, max_permutations=r.settings["n_permutations"] - 16, tolerance=0.05,
                                batch_size=16, random_state=0)
    assert not fewer.settings["converged"]


def test_permutation_shapley_antithetic():
    game = random_game(6, seed=7)
    exact = exact_shapley(game, 6).values
    r = permutation_shapley(game, 6, max_permutations=2000, tolerance=None, antithetic=True, random_state=2)
    assert r.settings["n_permutations"] == 2000
    assert np.all(np.abs(r.values - exact) <= 3 * r.stderr)
    # On an additive game a permutation and its reverse give every player its exact value.
    additive = lambda c: float(sum(c))  # noqa: E731
    np.testing.assert_allclose(permutation_shapley(additive, 4, antithetic=True, random_state=0).values,
                               [0, 1, 2, 3])
    # With two players every pair is both orderings, so each pair average is exact: zero error.
    two = random_game(2, seed=7)
    r = permutation_shapley(two, 2, antithetic=True, tolerance=None, max_permutations=40, random_state=0)
    np.testing.assert_allclose(r.values, exact_shapley(two, 2).values)
    np.testing.assert_allclose(r.stderr, 0, atol=1e-12)


def test_along_permutation_is_used_and_agrees():
    table = np.random.default_rng(8).normal(size=2**5)
    plain, incremental = TableGame(table), IncrementalGame(table)
    kw = dict(max_permutations=100, tolerance=None, batch_size=20, random_state=3)
    a = permutation_shapley(plain, 5, **kw)
    b = permutation_shapley(incremental, 5, **kw)
    assert incremental.calls == 0 and incremental.along_calls == 100
    assert b.n_evaluations == 100 * 6
    np.testing.assert_array_equal(a.values, b.values)
    np.testing.assert_array_equal(a.stderr, b.stderr)


def test_n_jobs_does_not_change_results():
    table = np.random.default_rng(9).normal(size=2**5)
    kw = dict(max_permutations=96, tolerance=None, random_state=4)
    one = permutation_shapley(TableGame(table), 5, n_jobs=1, **kw)
    two = permutation_shapley(TableGame(table), 5, n_jobs=2, **kw)
    np.testing.assert_array_equal(one.values, two.values)
    np.testing.assert_array_equal(one.stderr, two.stderr)
    assert one.n_evaluations == two.n_evaluations
    np.testing.assert_array_equal(permutation_shapley(IncrementalGame(table), 5, n_jobs=2, **kw).values,
                                  one.values)
    msr = dict(n_samples=200, random_state=4)
    np.testing.assert_array_equal(banzhaf_msr(TableGame(table), 5, n_jobs=1, **msr).values,
                                  banzhaf_msr(TableGame(table), 5, n_jobs=2, **msr).values)


def test_dask_backend_gives_identical_values():
    distributed = pytest.importorskip("distributed")
    table = np.random.default_rng(10).normal(size=2**6)
    kw = dict(max_permutations=64, tolerance=None, random_state=5)
    reference = permutation_shapley(TableGame(table), 6, n_jobs=1, **kw)
    THREADS_SEEN.clear()
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster, distributed.Client(cluster):
        with parallel_config(backend="dask"):
            r = permutation_shapley(ThreadRecordingGame(table), 6, **kw)
    np.testing.assert_array_equal(r.values, reference.values)
    np.testing.assert_array_equal(r.stderr, reference.stderr)
    # The work really ran on dask's worker threads, not in the calling thread.
    assert THREADS_SEEN and threading.current_thread().name not in THREADS_SEEN


def test_banzhaf_msr_within_reported_error_of_exact():
    exact = exact_banzhaf(random_game(6, seed=11), 6).values
    game = random_game(6, seed=11)
    r = banzhaf_msr(game, 6, n_samples=4000, random_state=0)
    assert r.method == "banzhaf_msr" and r.seed == 0
    assert np.all(r.stderr > 0)
    assert np.all(np.abs(r.values - exact) <= 3 * r.stderr)
    assert r.n_evaluations == game.calls <= 64


def test_seed_reproducibility_and_generator_seed():
    game = random_game(4, seed=12)
    a = permutation_shapley(game, 4, max_permutations=64, tolerance=None, random_state=7)
    b = permutation_shapley(game, 4, max_permutations=64, tolerance=None, random_state=7)
    c = permutation_shapley(game, 4, max_permutations=64, tolerance=None, random_state=8)
    np.testing.assert_array_equal(a.values, b.values)
    assert not np.array_equal(a.values, c.values)
    g = permutation_shapley(game, 4, max_permutations=64, tolerance=None, random_state=np.random.default_rng(1))
    again = permutation_shapley(game, 4, max_permutations=64, tolerance=None, random_state=g.seed)
    np.testing.assert_array_equal(g.values, again.values)


# ---------------------------------------------------------------------------------- checkpointing

@pytest.mark.parametrize("method,kw", [
    (permutation_shapley, dict(max_permutations=160, tolerance=None, batch_size=16)),
    (permutation_shapley, dict(max_permutations=160, tolerance=None, batch_size=16, antithetic=True)),
    (banzhaf_msr, dict(n_samples=400, batch_size=40)),
])
def test_interrupted_run_resumes_to_the_same_values(tmp_path, method, kw):
    K = 8  # 256 coalitions, so batches keep needing new evaluations
    table = np.random.default_rng(13).normal(size=2**K)
    reference = method(TableGame(table), K, random_state=21, **kw)
    ckpt = tmp_path / "run.npz"
    with pytest.raises(KeyboardInterrupt):
        method(InterruptingGame(table, stop_after=150), K, random_state=21, checkpoint=ckpt, **kw)
    with np.load(ckpt) as saved:
        n_batches, _, n_evaluations = saved["progress"]
    assert 0 < n_batches < 10  # stopped part-way through the 10 batches
    resumed_game = TableGame(table)
    resumed = method(resumed_game, K, random_state=21, checkpoint=ckpt, **kw)
    np.testing.assert_array_equal(resumed.values, reference.values)
    np.testing.assert_array_equal(resumed.stderr, reference.stderr)
    assert resumed.n_evaluations == n_evaluations + resumed_game.calls
    assert [p.name for p in tmp_path.iterdir()] == ["run.npz"]  # no temp files left behind
    # A finished run reloads evaluating only the two probes that check it is the same utility (the empty and
    # the grand coalition); random_state=None adopts the saved seed.
    again = RecordingGame(table)
    np.testing.assert_array_equal(method(again, K, checkpoint=ckpt, **kw).values, reference.values)
    assert again.seen == [(), tuple(range(K))]


@pytest.mark.parametrize("method,kw", [
    (permutation_shapley, dict(max_permutations=160, tolerance=None, batch_size=16)),
    (banzhaf_msr, dict(n_samples=400, batch_size=40)),
])
def test_interrupt_while_writing_keeps_the_previous_checkpoint(tmp_path, monkeypatch, method, kw):
    K = 6
    table = np.random.default_rng(17).normal(size=2**K)
    reference = method(TableGame(table), K, random_state=5, **kw)
    ckpt = tmp_path / "run.npz"
    real_savez, saves = np.savez, []

    def savez(fh, **arrays):  # the third save is cut off by Ctrl-C after writing part of the file
        saves.append(1)
        if len(saves) == 3:
            fh.write(b"PK\x03\x04 half a zip")
            raise KeyboardInterrupt
        real_savez(fh, **arrays)

    monkeypatch.setattr(np, "savez", savez)
    with pytest.raises(KeyboardInterrupt):
        method(TableGame(table), K, random_state=5, checkpoint=ckpt, **kw)
    monkeypatch.setattr(np, "savez", real_savez)
    assert [p.name for p in tmp_path.iterdir()] == ["run.npz"]  # the temp file is gone
    with np.load(ckpt) as saved:
        assert saved["progress"][0] == 2  # the last complete write
    resumed = method(TableGame(table), K, random_state=5, checkpoint=ckpt, **kw)
    np.testing.assert_array_equal(resumed.values, reference.values)
    np.testing.assert_array_equal(resumed.stderr, reference.stderr)


def test_interrupted_incremental_run_resumes_to_the_same_values(tmp_path):
    K = 7
    table = np.random.default_rng(18).normal(size=2**K)

    class Interrupting(IncrementalGame):
        def along_permutation(self, perm):
            if self.along_calls >= 50:
                raise KeyboardInterrupt
            return super().along_permutation(perm)

    kw = dict(max_permutations=128, tolerance=None, batch_size=16, random_state=8)
    reference = permutation_shapley(IncrementalGame(table), K, **kw)
    ckpt = tmp_path / "run.npz"
    with pytest.raises(KeyboardInterrupt):
        permutation_shapley(Interrupting(table), K, checkpoint=ckpt, **kw)
    with np.load(ckpt) as saved:
        assert saved["progress"][0] == 3  # 50 permutations: three full batches of 16 were saved
    resumed = permutation_shapley(IncrementalGame(table), K, checkpoint=ckpt, **kw)
    np.testing.assert_array_equal(resumed.values, reference.values)
    np.testing.assert_array_equal(resumed.stderr, reference.stderr)


def test_checkpoint_with_other_settings_is_refused(tmp_path):
    game = random_game(4, seed=14)
    ckpt = tmp_path / "run.npz"
    permutation_shapley(game, 4, max_permutations=64, tolerance=None, random_state=0, checkpoint=ckpt)
    with pytest.raises(TrainfreeError, match="seed"):
        permutation_shapley(game, 4, max_permutations=64, random_state=1, checkpoint=ckpt)
    with pytest.raises(TrainfreeError, match="n_players"):
        permutation_shapley(random_game(3), 3, random_state=0, checkpoint=ckpt)
    with pytest.raises(TrainfreeError, match="method"):
        banzhaf_msr(game, 4, random_state=0, checkpoint=ckpt)
    with pytest.raises(TrainfreeError, match="antithetic"):
        permutation_shapley(game, 4, random_state=0, antithetic=True, checkpoint=ckpt)
    bad = tmp_path / "bad.npz"
    bad.write_text("not a checkpoint")
    with pytest.raises(TrainfreeError, match="Could not read checkpoint"):
        permutation_shapley(game, 4, random_state=0, checkpoint=bad)


class FingerprintGame(TableGame):
    def __init__(self, table, fingerprint):
        super().__init__(table)
        self._fingerprint = fingerprint

    def fingerprint(self):
        return self._fingerprint


@pytest.mark.parametrize("method,kw", [
    (permutation_shapley, dict(max_permutations=64, tolerance=None, batch_size=16)),
    (banzhaf_msr, dict(n_samples=64, batch_size=16)),
])
def test_checkpoint_of_another_utility_is_refused(tmp_path, method, kw):
    table = np.random.default_rng(31).normal(size=2**5)
    ckpt = tmp_path / "run.npz"
    first = method(TableGame(table), 5, random_state=3, checkpoint=ckpt, **kw)
    with np.load(ckpt) as saved:
        identity = json.loads(str(saved["identity"]))
    np.testing.assert_allclose(identity["probe"], [table[0], table[-1]], rtol=0, atol=0)
    # Every value doubled: resuming would average two different games. Refused, naming what differs.
    with pytest.raises(TrainfreeError, match=r"different run \(probe: saved \[.*\], now \[.*\]\).*new checkpoint path"):
        method(TableGame(2 * table), 5, random_state=3, checkpoint=ckpt, **kw)
    # Only the grand coalition differs: still refused.
    other = table.copy()
    other[-1] += 0.5
    with pytest.raises(TrainfreeError, match="probe"):
        method(TableGame(other), 5, random_state=3, checkpoint=ckpt, **kw)
    # Float noise far below the tolerance is the same problem: it resumes to the saved values.
    noisy = table * (1 + 1e-12)
    np.testing.assert_allclose(method(TableGame(noisy), 5, random_state=3, checkpoint=ckpt, **kw).values,
                               first.values, rtol=1e-9)


def test_checkpoint_compares_the_utilitys_fingerprint(tmp_path):
    table = np.random.default_rng(32).normal(size=2**4)
    ckpt = tmp_path / "run.npz"
    kw = dict(max_permutations=32, tolerance=None, batch_size=16, random_state=0, checkpoint=ckpt)
    fp = {"data": "abc", "n": np.int64(40), "scale": 1.5, "shape": (3, 4)}
    ref = permutation_shapley(FingerprintGame(table, fp), 4, **kw)
    # The same fingerprint (floats within the tolerance) resumes; another one is refused, naming the key.
    same = permutation_shapley(FingerprintGame(table, {**fp, "scale": 1.5 * (1 + 1e-9)}), 4, **kw)
    np.testing.assert_allclose(same.values, ref.values, rtol=1e-12)
    with pytest.raises(TrainfreeError, match=r"fingerprint.n: saved 40, now 41"):
        permutation_shapley(FingerprintGame(table, {**fp, "n": 41}), 4, **kw)
    with pytest.raises(TrainfreeError, match=r"fingerprint.scale: saved 1.5, now 1.6"):
        permutation_shapley(FingerprintGame(table, {**fp, "scale": 1.6}), 4, **kw)
    with pytest.raises(TrainfreeError, match=r"fingerprint: saved \{.*\}, now 'other'"):
        permutation_shapley(FingerprintGame(table, "other"), 4, **kw)
    # A utility without a fingerprint is not the fingerprinted one either.
    with pytest.raises(TrainfreeError, match="fingerprint"):
        permutation_shapley(TableGame(table), 4, **kw)
    with pytest.raises(TrainfreeError, match=r"fingerprint\(\) must return a str or a dict"):
        permutation_shapley(FingerprintGame(table, 3.0), 4, **{**kw, "checkpoint": tmp_path / "new.npz"})


def test_stopping_settings_may_change_to_extend_a_run(tmp_path):
    game = random_game(5, seed=33)
    ckpt = tmp_path / "run.npz"
    kw = dict(tolerance=None, batch_size=16, random_state=4)
    permutation_shapley(game, 5, max_permutations=64, checkpoint=ckpt, **kw)
    longer = permutation_shapley(game, 5, max_permutations=128, checkpoint=ckpt, **kw)
    np.testing.assert_allclose(longer.values, permutation_shapley(game, 5, max_permutations=128, **kw).values,
                               rtol=1e-12, atol=1e-15)
    assert longer.settings["n_permutations"] == 128


# ------------------------------------------------------------------------------------------ result

def test_result_columns_names_and_round_trip(tmp_path):
    game = random_game(3, seed=15)
    r = exact_shapley(game, 3, names=["a", "b", "c"])
    assert isinstance(r, PlayerResult)
    assert list(r.columns) == ["value", "stderr", "player"]
    # Exact enumeration has no sampling error: NaN, not a misleading 0.
    assert list(r["player"]) == ["a", "b", "c"] and np.isnan(r.stderr).all() and r.seed is None
    loaded = load_result(r.save(tmp_path / "shapley.parquet"))
    assert type(loaded) is PlayerResult
    np.testing.assert_allclose(loaded.values, r.values)
    assert loaded.n_evaluations == 8 and loaded.method == "exact_shapley"
    mc = permutation_shapley(game, 3, max_permutations=64, random_state=3)
    assert mc.seed == 3 and mc.settings["tolerance"] == 0.01 and list(mc["player"]) == [0, 1, 2]


# ------------------------------------------------------------------------------------- bad input

@pytest.mark.parametrize("n_players", [0, -1, 2.5, True, "3"])
def test_bad_n_players(n_players):
    with pytest.raises(TrainfreeError, match="n_players"):
        exact_shapley(lambda c: 0.0, n_players)


@pytest.mark.parametrize("method", [exact_shapley, exact_banzhaf, leave_one_out,
                                    lambda u, n: exact_semivalue(u, n, weights=shapley_weights(n)),
                                    lambda u, n: permutation_shapley(u, n, max_permutations=8),
                                    lambda u, n: banzhaf_msr(u, n, n_samples=8)])
def test_n_players_beyond_the_utilitys_players_is_refused(method):
    table = np.random.default_rng(40).normal(size=2**3)
    # The utility declares its players: another n_players is refused before any evaluation.
    game = TableGame(table)
    with pytest.raises(TrainfreeError, match=r"utility has 3 players \(its n_players attribute\) but n_players=5"):
        method(game, 5)
    assert game.calls == 0
    # It does not: its IndexError (a table) or KeyError (a dict) names the coalition and the likely cause.
    bare = lambda c: table[sum(1 << i for i in c)]  # noqa: E731
    with pytest.raises(TrainfreeError, match=r"IndexError.*for coalition \(.*\): n_players may exceed the utility's "
                                             r"players \(n_players=5: players 0..4\)"):
        method(bare, 5)
    values = {tuple(i for i in range(3) if m >> i & 1): v for m, v in enumerate(table)}
    with pytest.raises(TrainfreeError, match=r"KeyError.*for coalition \(.*\): n_players may exceed"):
        method(lambda c: values[c], 4)


def test_incremental_utility_indexing_past_its_players_is_refused():
    table = np.random.default_rng(41).normal(size=2**3)
    game = IncrementalGame(table)
    del game.n_players
    with pytest.raises(TrainfreeError, match=r"IndexError.*for permutation \(.*\) \(via along_permutation\): "
                                             r"n_players may exceed"):
        permutation_shapley(game, 4, max_permutations=8)


def test_an_index_error_of_a_utility_with_matching_n_players_is_its_own():
    class Buggy(TableGame):
        def __call__(self, coalition):
            raise IndexError("bug inside the utility")

    with pytest.raises(IndexError, match="bug inside the utility"):
        exact_shapley(Buggy(np.zeros(8)), 3)


def test_utility_must_be_callable():
    with pytest.raises(TrainfreeError, match="callable"):
        permutation_shapley([1, 2, 3], 3)


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_non_finite_utility_names_the_coalition(bad):
    game = lambda c: bad if c == (0, 2) else 1.0  # noqa: E731
    with pytest.raises(TrainfreeError, match=r"coalition \(0, 2\)"):
        exact_shapley(game, 3)
    with pytest.raises(TrainfreeError, match=r"coalition \(0, 2\)"):
        permutation_shapley(game, 3, random_state=0)


def test_non_scalar_utility_and_bad_along_permutation():
    with pytest.raises(TrainfreeError, match="one float"):
        leave_one_out(lambda c: np.ones(2), 2)
    with pytest.raises(TrainfreeError, match="one float"):
        leave_one_out(lambda c: "high", 2)

    class Short(IncrementalGame):
        def along_permutation(self, perm):
            return super().along_permutation(perm)[:-1]

    with pytest.raises(TrainfreeError, match="along_permutation must return 4"):
        permutation_shapley(Short(np.zeros(8)), 3, random_state=0)

    class NaNPrefix(IncrementalGame):
        def along_permutation(self, perm):
            values = super().along_permutation(perm)
            values[2] = np.nan
            return values

    with pytest.raises(TrainfreeError, match=r"coalition \(\d, \d\)"):
        permutation_shapley(NaNPrefix(np.zeros(8)), 3, random_state=0)


def test_exact_refuses_too_many_players_before_evaluating():
    calls = []
    game = lambda c: calls.append(c) or 0.0  # noqa: E731
    with pytest.raises(TrainfreeError, match="permutation_shapley"):
        exact_shapley(game, 21)
    with pytest.raises(TrainfreeError, match="banzhaf_msr"):
        exact_banzhaf(game, 21)
    assert calls == []


@pytest.mark.parametrize("call,match", [
    (lambda g: exact_semivalue(g, 3, weights=[1.0, 2.0]), "weights"),
    (lambda g: exact_shapley(g, 3, names=["a", "b"]), "names"),
    (lambda g: beta_shapley_weights(3, 0, 1), "alpha"),
    (lambda g: permutation_shapley(g, 3, tolerance=-1), "tolerance"),
    (lambda g: permutation_shapley(g, 3, max_permutations=1), "max_permutations"),
    (lambda g: permutation_shapley(g, 3, antithetic=1), "antithetic"),
    (lambda g: permutation_shapley(g, 3, random_state=-1), "random_state"),
    (lambda g: permutation_shapley(g, 3, random_state="seed"), "random_state"),
    (lambda g: permutation_shapley(g, 3, n_jobs=0), "n_jobs"),
    (lambda g: banzhaf_msr(g, 3, n_samples=1), "n_samples"),
])
def test_bad_parameters(call, match):
    game = TableGame(np.zeros(8))
    with pytest.raises(TrainfreeError, match=match):
        call(game)
    assert game.calls == 0


def test_msr_with_too_few_samples_says_so():
    with pytest.raises(TrainfreeError, match="Increase n_samples"):
        banzhaf_msr(lambda c: 0.0, 12, n_samples=2, random_state=0)


def test_exact_methods_accept_n_jobs():
    game = random_game(4, seed=16)
    np.testing.assert_array_equal(exact_shapley(game, 4, n_jobs=2).values, exact_shapley(game, 4).values)
