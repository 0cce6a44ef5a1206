"""DAVINZ: data valuation at initialization (Wu, Shu, Low; ICML 2022).

The value of a dataset S (a coalition of contributors) against a validation set T is::

    ν(S) = −κ · sqrt(ŷᵀ Θ₀⁻¹ ŷ / m_S)  −  MMD(T, S)

Θ₀ is the empirical NTK of the network at initialization on S, ŷ the residual of the targets
against the network's output at initialization, m_S = |S|, and MMD an RBF-kernel maximum mean
discrepancy on inputs (or supplied features). Which ν is a named preset (``nu="recommended"``, the
default, or ``nu="paper"``; :mod:`.davinz_options`): with ``outputs="all"`` the quadratic form is summed
over one NTK per class output with one-hot residuals, with ``outputs="mean"`` (the default's) every
class's one-hot residual meets one kernel, the NTK averaged over the outputs, and ``size_ridge=ρ`` replaces
Θ₀ by Θ₀ + ρ·d·m_S·I on each coalition (d = mean diagonal of Θ₀; see :class:`DavinzUtility`). κ balances
the two terms: κ = Σ MMD / Σ NTK term over a reference family of coalitions, the K contributors alone
(``kappa="singletons"``, the official code's ``--no-loo`` mode) or the K leave-one-out coalitions and
the grand coalition (``kappa="leave_one_out"``, the official code's default). Contributors' values
are semivalues of ν (see :mod:`trainfree.semivalues` and :func:`davinz_values`); :class:`DavinzUtility`
is such a utility.

Everything is computed once over the union of the contributors' data: Θ₀, and the RBF kernel summed
per pair of contributors and against T. A coalition's NTK term is then a solve on a principal
sub-matrix of Θ₀, and its MMD comes from the pre-summed blocks in O(K²). Coalitions that grow by one
contributor (along a permutation, or a coalition whose prefix was evaluated) extend a cached Cholesky
factor by the new block instead of refactorising, and every coalition's quadratic form is computed
once (see :mod:`._coalition_solves`).
"""

from __future__ import annotations

import copy
import numbers
import time
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from .._device import resolve_device, resolve_dtype
from .._errors import TrainfreeError
from .._progress import bar
from .._random import SeedLike, check_random_state, seed_record
from .._random import rng as make_rng
from .._validation import check_array, check_param
from ..kernels import empirical_ntk, median_bandwidth
from ..kernels.mmd import ESTIMATORS as MMD_ESTIMATORS
from ..kernels.mmd import CoalitionMMD
from ._coalition_solves import CoalitionSolves
from ._davinz_checks import check_blocks, check_coalition, check_contributors, check_ntk_memory, fingerprint
from .davinz_options import DEFAULT_NU, NtkOptions, NuOptions, as_nu

JACOBIAN_BYTES = 2 * 2**30  # Jacobians of one NTK block are kept up to this size, else recomputed in row blocks


KAPPA_MODES = ("singletons", "leave_one_out")
CONVENTIONS = ("trainfree", "official")
NU_VARIANTS = {  # what the NTK term of each `outputs` setting is, for summaries and saved settings
    "own": "the paper's NTK term: NTK of each example's own-class output, residual 1 − f_y(x) (regression: "
           "y − f(x))",
    "all": "an extension of the paper's NTK term: one NTK per class output with one-hot residuals "
           "1[y = c] − f_c(x), summed over c (sees label noise; the paper's is outputs='own')",
    "mean": "an extension of the paper's NTK term: the NTK averaged over the class outputs (the multi-output "
            "NTK's Θ ⊗ I form), with one-hot residuals 1[y = c] − f_c(x), summed over c (sees label noise; one "
            "kernel; the paper's is outputs='own')"}
SIZE_RIDGE_NU = ("; kernel ridge ρ·d·m_S on each coalition S (size_ridge ρ, d = mean diagonal of Θ₀): a fixed ridge on "
                 "the per-example kernel Θ_S/m_S, so the NTK term measures label fit at one resolution whatever the size")
THRESHOLDED_NU = "; MMD thresholded: 0 unless the inputs differ significantly from the validation set's"
DEFAULT_JITTER = {"trainfree": 1e-6, "official": 1e-4}  # relative to mean diag Θ₀ / absolute (official ntk.py)


def describe_nu(outputs: str, size_ridge: float, mmd_estimator: str) -> str:
    """One sentence on which ν was computed, for summaries and saved settings."""
    return (NU_VARIANTS[outputs] + (SIZE_RIDGE_NU if size_ridge else "")
            + (THRESHOLDED_NU if mmd_estimator == "thresholded" else ""))


def davinz_value(ntk_term: float, mmd_term: float, kappa: float) -> float:
    """ν = −κ·ntk_term − mmd_term, with ntk_term = sqrt(ŷᵀΘ₀⁻¹ŷ/m) and mmd_term = MMD(T, S)."""
    return -kappa * ntk_term - mmd_term


def set_convention(model: nn.Module, convention: str) -> list[str]:
    """Put ``model`` (a private copy) in the modes of ``convention``; the names of the parameters to differentiate.

    ``trainfree``: eval mode, every parameter. ``official``: BatchNorm2d reset to (0, 1) statistics and
    (1, 0) affine and in eval mode, everything else in train mode; Linear and Conv2d weights and biases.
    """
    if convention == "trainfree":
        model.eval()
        return [k for k, _ in model.named_parameters()]
    model.train()
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm) and not isinstance(m, nn.BatchNorm2d):
            raise TrainfreeError(f"convention='official' resets only BatchNorm2d layers and leaves the rest in train "
                                 f"mode, where {type(m).__name__} would need batch statistics of one example. Use "
                                 f"convention='trainfree' (the whole network in eval mode).")
        if isinstance(m, nn.BatchNorm2d):
            m.reset_parameters()  # running stats (0, 1), weight 1, bias 0
            m.eval()
    return [f"{name}.{p}" if name else p for name, m in model.named_modules() if isinstance(m, (nn.Linear, nn.Conv2d))
            for p, v in m.named_parameters(recurse=False)]


class DavinzUtility:
    """ν over coalitions of K contributors; a utility for :mod:`trainfree.semivalues`.

    Parameters
    ----------
    contributors : sequence of (X_i, y_i)
        Each contributor's inputs, shaped ``(n_i, *input_shape)``, and targets: class labels (classification)
        or real numbers (regression). Each needs at least two examples.
    X_val : array of shape ``(m_T, *input_shape)``
        The validation set T (its inputs: MMD compares input distributions).
    model : nn.Module
        The network at initialization. Classification uses, for each example, the output of its
        own class (the model needs at least as many outputs as classes); regression the scalar output.
    task : {"classification", "regression"}
    nu : {"recommended", "paper"} or NuOptions
        Which ν: a preset name, or :class:`~trainfree.valuation.NuOptions` to override its options.
        ``"recommended"`` (default): ``outputs="mean", size_ridge=3e-4, mmd_estimator="thresholded"``,
        its constants chosen on tuning draws of the ground-truth study (trained test accuracy of
        Fashion-MNIST sets with flipped labels) and checked on held-out draws: the table, the shift
        benchmark and the cost are on the DAVINZ page of the documentation. ``"paper"``: ``outputs="own", size_ridge=0,
        mmd_estimator="biased"``, the paper's and the official code's ν. The three options:

        - ``outputs``: ``"own"``, one kernel, the NTK of each example's own-class output, with ŷ_i =
          1 − f_{y_i}(x_i); at initialization the logits are near 0, so ŷ ≈ 1 whatever the label and
          the term hardly sees label noise. ``"all"``, one NTK per output c (the block-diagonal-over-
          outputs approximation of the multi-output NTK, exact in expectation over the random last
          layer) with one-hot residuals 1[y_i = c] − f_c(x_i), summed over c: C times the cost, and it
          sees label noise. Regression has one output (``"own"``).
        - ``size_ridge`` ρ ≥ 0: the NTK term of a coalition S is sqrt(ŷᵀ(Θ₀,S + ρ·d·m_S·I)⁻¹ŷ / m_S),
          d the mean diagonal of Θ₀ (before the jitter, which is still added): a fixed ridge on the
          per-example kernel Θ₀,S/m_S. With ρ = 0 and ``outputs="all"`` the term grows with m (Θ₀'s
          smallest eigenvalues dominate) and ranks sizes the wrong way; with ρ > 0 it falls like
          1/sqrt(m) and its level measures the label noise. Every coalition is then factorised on
          its own (the ridge changes with the coalition).
        - ``mmd_estimator``: ``"biased"`` (the paper's V-statistic), ``"unbiased"`` (the U-statistic) or
          ``"thresholded"`` (the U-statistic less 3 of its standard deviations under no shift: 0 for sets
          drawn like T, so that the MMD's sampling noise does not blur the NTK term, and the MMD of a
          shifted set). κ, when a mode, is balanced against the biased MMD.
    kappa : {"singletons", "leave_one_out"} or float
        The balancing factor κ = Σ MMD / Σ NTK term over reference coalitions: the K contributors alone
        (``singletons``, default; the official code's ``--no-loo`` mode), or the K leave-one-out
        coalitions plus the grand coalition (``leave_one_out``; the official code's default, which
        averages over larger coalitions and so gives a smaller κ). Or a fixed value.
    bandwidth : "median", float
        RBF bandwidth σ: the median heuristic on the pooled inputs (default) or fixed (the paper uses 5).
    features, val_features : arrays, optional
        Use these (one row per example, contributors stacked in order) instead of the inputs for MMD.
    convention : {"trainfree", "official"}
        How Θ₀ and ŷ are taken from the network. ``trainfree``: all parameters, the whole network in
        eval mode, a jitter relative to Θ₀'s mean diagonal. ``official`` (the official DAVINZ code's
        ``ntk.py``): gradients of ``nn.Linear`` and ``nn.Conv2d`` weights and biases only, every
        ``BatchNorm2d`` reset to running statistics (0, 1) and affine (1, 0) and put in eval mode while
        the rest of the network stays in train mode (dropout active), an absolute jitter. The two agree
        for bias-free networks of Linear/Conv2d layers at initialisation, such as
        ``make_model("davinz_cnn")``, up to the jitter.
    ntk : NtkOptions
        How Θ₀ is computed and solved with: block-diagonal approximation, jitter, caches, memory
        budget (see :class:`~trainfree.valuation.NtkOptions`; default: the exact kernel).
        ``block_assignment`` holds the block of every example under each partition.
    device, dtype, random_state
        Where and in what precision to compute; the seed of the block assignment.

    Attributes
    ----------
    n_players : int
        The number of contributors K; semivalues refuse another ``n_players``. Coalitions are sorted
        tuples of indices in ``0..K-1``; others are refused.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> parts = [(rng.normal(size=(20, 4)), rng.integers(0, 2, 20)) for _ in range(3)]
    >>> net = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 2))
    >>> u = DavinzUtility(parts, rng.normal(size=(30, 4)), model=net)
    >>> bool(abs(u((0, 1, 2)) - u.along_permutation((2, 0, 1))[-1]) < 1e-10)
    True
    """

    def __init__(self, contributors: Sequence[tuple], X_val, *, model: nn.Module, task: str = "classification",
                 nu: str | NuOptions = DEFAULT_NU, kappa: str | float = "singletons", bandwidth: str | float = "median",
                 features=None, val_features=None, convention: str = "trainfree", ntk: NtkOptions = NtkOptions(),
                 device: str | None = "cpu", dtype: str = "float64", random_state: SeedLike = 0) -> None:
        t0 = time.perf_counter()
        check_param("task", task, str, choices=("classification", "regression"))
        nu_settings = as_nu(nu).resolved()
        outputs, mmd_estimator = nu_settings["outputs"], nu_settings["mmd_estimator"]
        check_param("mmd_estimator", mmd_estimator, str, choices=MMD_ESTIMATORS)
        check_param("convention", convention, str, choices=CONVENTIONS)
        if not isinstance(ntk, NtkOptions):
            raise TrainfreeError(f"The 'ntk' parameter must be NtkOptions(blocks=..., permutations=..., ...). Got "
                                 f"{type(ntk).__name__} instead.")
        jitter = DEFAULT_JITTER[convention] if ntk.jitter is None else ntk.jitter
        if not isinstance(kappa, numbers.Real) or isinstance(kappa, bool):
            check_param("kappa", kappa, str, choices=KAPPA_MODES)
        self.size_ridge = nu_settings["size_ridge"]
        if not isinstance(model, nn.Module):
            raise TrainfreeError(f"model must be a torch.nn.Module at initialization, got {type(model).__name__}.")
        self.device, self.dtype = resolve_device(device), resolve_dtype(dtype)
        self.task, self.jitter, self.ntk_options = task, jitter, ntk
        self.convention = convention
        self.outputs = nu_settings["outputs"] = outputs if task == "classification" else "own"
        Xs, ys = check_contributors(contributors, X_val, task)
        self.sizes = np.array([len(x) for x in Xs])
        self.offsets = np.r_[0, np.cumsum(self.sizes)]
        self.K = len(Xs)
        ntk_blocks, ntk_permutations = ntk.blocks, ntk.permutations
        check_blocks(ntk_blocks, int(self.sizes.sum()))
        X = torch.as_tensor(np.concatenate(Xs), dtype=self.dtype, device=self.device)
        y = np.concatenate(ys)
        model = copy.deepcopy(model).to(device=self.device, dtype=self.dtype)  # never change the caller's model
        self._param_names = set_convention(model, convention)
        out_idx, residual = self._residual(model, X, y)
        n = len(X)
        n_params = sum(p.numel() for k, p in model.named_parameters() if k in self._param_names)
        n_kernels = ntk_permutations * (1 if self.outputs == "mean" else len(out_idx))
        check_ntk_memory(n, n_kernels, -(-n // ntk_blocks), n_params, self.dtype, self.device,
                         ntk.max_memory_bytes, outputs=self.outputs, n_outputs=len(out_idx),
                         ntk_permutations=ntk_permutations, max_jacobian_bytes=JACOBIAN_BYTES,
                         jacobian_outputs=len(out_idx) if self.outputs in ("all", "mean") else 1)
        self.n_permutations = ntk_permutations
        if self.outputs == "mean":
            residual = residual.T[None]  # (1, n, C): every class's residual against the one kernel
        self.residual = residual.repeat(ntk_permutations, *[1] * (residual.dim() - 1))  # per partition, as theta
        seed = check_random_state(random_state)
        self.seed = seed_record(seed)
        self.theta = self._ntk(model, X, out_idx, ntk_blocks, ntk_permutations, seed)
        self.solves = CoalitionSolves(self.theta, self.residual, self.offsets, cache_bytes=ntk.cache_bytes,
                                      from_scratch=ntk.from_scratch, ridge_per_example=self.size_ridge * self.diag_mean)
        t1 = time.perf_counter()
        feats = X.reshape(len(X), -1) if features is None else torch.as_tensor(
            check_array(features, name="features", ndim=2), dtype=self.dtype, device=self.device)
        T = torch.as_tensor(check_array(X_val, name="X_val"), dtype=self.dtype, device=self.device)
        T = T.reshape(len(T), -1) if val_features is None else torch.as_tensor(
            check_array(val_features, name="val_features", ndim=2), dtype=self.dtype, device=self.device)
        if feats.shape[1] != T.shape[1] or len(feats) != len(X):
            raise TrainfreeError(f"features must have one row per contributor example ({len(X)}) and as many "
                                 f"columns as val_features; got {tuple(feats.shape)} and {tuple(T.shape)}.")
        self.bandwidth = (median_bandwidth(torch.cat([feats, T]), random_state=seed)
                          if bandwidth == "median" else float(check_param("bandwidth", bandwidth, (int, float),
                                                                            low=0, low_open=True)))
        self.mmd_sums = CoalitionMMD(feats, self.sizes, T, bandwidth=self.bandwidth, estimator=mmd_estimator)
        t2 = time.perf_counter()
        if isinstance(kappa, str):
            reference = self.kappa_coalitions(kappa)
            # The thresholded MMD is 0 for unshifted sets: κ balances against the MMD's usual (biased) scale.
            scale = "biased" if mmd_estimator == "thresholded" else None
            ntk_sum = sum(self.terms(c)[0] for c in reference)
            self.kappa = sum(self.mmd(c, scale) for c in reference) / max(ntk_sum, 1e-300)
        else:
            self.kappa = float(check_param("kappa", kappa, (int, float), low=0))
        self.settings = dict(task=task, kappa=self.kappa, kappa_mode=kappa if isinstance(kappa, str) else "fixed",
                             **nu_settings, nu_description=describe_nu(self.outputs, self.size_ridge, mmd_estimator),
                             convention=convention, bandwidth=self.bandwidth, jitter=jitter,
                             ntk_blocks=ntk_blocks, ntk_permutations=ntk_permutations, n_contributors=self.K,
                             sizes=self.sizes.tolist(), n_val=len(T), dtype=str(self.dtype).removeprefix("torch."),
                             device=str(self.device))
        self.timings = {"ntk_s": t1 - t0, "mmd_s": t2 - t1}

    def kappa_coalitions(self, mode: str) -> list[tuple[int, ...]]:
        """The coalitions κ averages over: the K singletons, or the non-empty leave-one-out ones and the grand one."""
        check_param("kappa", mode, str, choices=KAPPA_MODES)
        full = tuple(range(self.K))
        if mode == "singletons":
            return [(i,) for i in full]
        return [c for c in (full[:i] + full[i + 1:] for i in full) if c] + [full]

    # -- set-up ----------------------------------------------------------------------------------
    def _residual(self, model, X, y):
        try:
            with torch.no_grad():  # in the modes set_convention chose
                out = torch.cat([model(b) for b in X.split(512)])
        except RuntimeError as exc:
            raise TrainfreeError(f"The model cannot take inputs of shape {tuple(X.shape[1:])}: {exc}. Pass "
                                 f"inputs shaped as the model expects (e.g. images as (n, C, H, W)).") from None
        out = out.reshape(len(X), -1)
        if self.task == "regression":
            if out.shape[1] != 1:
                raise TrainfreeError(f"task='regression' needs a model with one output; it has {out.shape[1]}.")
            return [None], (torch.as_tensor(y, dtype=self.dtype, device=self.device) - out[:, 0])[None]
        labels = torch.as_tensor(y.astype(np.int64), device=self.device)
        if int(labels.max()) >= out.shape[1]:
            raise TrainfreeError(f"The model outputs {out.shape[1]} values but labels go up to {int(labels.max())}; "
                                 f"build it with one output per class ({int(labels.max()) + 1}).")
        if self.outputs == "own":  # own-class output at init against a one-hot target of 1
            return [labels], (1.0 - out.gather(1, labels[:, None])[:, 0])[None]
        onehot = torch.nn.functional.one_hot(labels, out.shape[1]).to(out.dtype)
        return [torch.full_like(labels, c) for c in range(out.shape[1])], (onehot - out).T

    def _ntk(self, model, X, out_idx, n_blocks, n_perms, seed):
        """Θ₀ of shape (n_perms · n_outputs, n, n): per random partition, one kernel per differentiated output.

        ``outputs="mean"``: (n_perms, n, n), each partition's kernels averaged over the outputs.
        """
        n = len(X)
        per = 1 if self.outputs == "mean" else len(out_idx)
        theta = torch.zeros(n_perms * per, n, n, dtype=self.dtype, device=self.device)
        rng = make_rng(seed)
        # Every class output (all, mean): one Jacobian of all outputs per block gives each output's kernel.
        every = {"all": "each", "mean": "mean"}.get(self.outputs) if len(out_idx) > 1 else None
        passes = 1 if every else len(out_idx)
        ticks = iter(bar(range(n_perms * n_blocks * passes), desc="DAVINZ NTK Θ₀ blocks", unit="block"))
        # n_blocks > 1: the paper's block-diagonal approximation over random partitions of the union.
        self.block_assignment = np.zeros((n_perms, n), dtype=np.int64)
        for p in range(n_perms):
            order = torch.as_tensor(rng.permutation(n), device=self.device)
            blocks = [torch.arange(n, device=self.device)] if n_blocks == 1 else order.tensor_split(n_blocks)
            for b, block in enumerate(blocks):
                self.block_assignment[p, block.cpu().numpy()] = b
                common = dict(max_jacobian_bytes=JACOBIAN_BYTES, parameters=self._param_names, eval_mode=False)
                if every:
                    theta[p * per:(p + 1) * per, block[:, None], block[None, :]] = empirical_ntk(
                        model, X[block], outputs=every, **common)
                    next(ticks, None)
                    continue
                for k, idx in enumerate(out_idx):
                    theta[p * per + k, block[:, None], block[None, :]] = empirical_ntk(
                        model, X[block], out1=None if idx is None else idx[block], **common)
                    next(ticks, None)
        next(ticks, None)  # closes the bar
        self.diag_mean = float(theta.diagonal(dim1=1, dim2=2).mean())  # d, the scale of both ridges
        self.jitter_abs = self.jitter if self.convention == "official" else self.jitter * self.diag_mean
        theta.diagonal(dim1=1, dim2=2).add_(self.jitter_abs)
        return theta

    # -- the two terms ---------------------------------------------------------------------------
    def mmd(self, coalition: Sequence[int], estimator: str | None = None) -> float:
        """MMD(T, S_C) from the pre-summed kernel blocks, O(K²); ``estimator`` overrides the utility's."""
        return self.mmd_sums.of(check_coalition(coalition, self.K), estimator)

    def mmd_along(self, perm: Sequence[int]) -> np.ndarray:
        """MMD(T, ·) of the K + 1 prefixes of ``perm`` (a checked permutation prefix), from running block sums."""
        return self.mmd_sums.along(perm)

    def _ntk_term(self, players: Sequence[int], quad: float) -> float:
        # Summed over output kernels, averaged over block partitions.
        return float(np.sqrt(quad / self.n_permutations / self.sizes[list(players)].sum()))

    def terms(self, coalition: Sequence[int]) -> tuple[float, float]:
        """(sqrt(ŷᵀΘ₀⁻¹ŷ/m), MMD(T, S)) of a coalition; the NTK term of ∅ is 0."""
        c = tuple(sorted(check_coalition(coalition, self.K)))
        if not c:
            return 0.0, self.mmd(c)
        return self._ntk_term(c, self.solves.along(c, last_only=True)[-1]), self.mmd(c)

    def __call__(self, coalition: Sequence[int]) -> float:
        ntk_term, mmd_term = self.terms(coalition)
        return davinz_value(ntk_term, mmd_term, self.kappa)

    def many(self, coalitions: Sequence[Sequence[int]]) -> np.ndarray:
        """ν of many coalitions at once, by one depth-first walk of their prefix tree (see :mod:`._coalition_solves`).

        The semivalues' evaluator calls this when a utility has it; a progress bar counts the coalitions
        where progress is shown (see :mod:`trainfree._progress`).
        """
        cs = [tuple(sorted(check_coalition(c, self.K))) for c in coalitions]
        quads = self.solves.many(cs, wrap=lambda steps, total: bar(steps, desc="DAVINZ coalitions", total=total,
                                                                   unit="coalition"))
        return np.array([davinz_value(self._ntk_term(c, q) if c else 0.0, self.mmd(c), self.kappa)
                         for c, q in zip(cs, quads)])

    def along_permutation(self, perm: Sequence[int]) -> np.ndarray:
        """ν of the K + 1 prefixes of ``perm``: one factor extended contributor by contributor, known prefixes reused."""
        perm = check_coalition(perm, self.K)
        m = np.r_[1, np.cumsum(self.sizes[perm])]  # 1 for ∅, whose NTK term is 0
        ntk = np.sqrt(self.solves.along(perm) / self.n_permutations / m)
        return davinz_value(ntk, self.mmd_along(perm), self.kappa)

    @property
    def n_players(self) -> int:
        """The number of contributors K (the semivalue protocol's player count)."""
        return self.K

    def fingerprint(self) -> dict:
        """Settings and summaries of Θ₀, ŷ and the MMD sums: checkpoints refuse another problem's run."""
        return fingerprint(self)

