"""DAVINZ's options in two small groups: which ν (a named preset and its overrides) and how Θ₀ is computed.

``nu="recommended"`` (the default everywhere: library, CLI, ground-truth study) and ``nu="paper"``
name the two settings of ν that the ground-truth study compared; :class:`NuOptions` overrides any of
their three options, and :class:`NtkOptions` holds the NTK computation's knobs, which change cost and
memory but not (beyond ``blocks`` and ``jitter``) the value.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

from .._errors import TrainfreeError
from .._validation import check_param

NU_PRESETS = {
    # The paper's ν as the official code computes it: own-class NTK, residual 1 − f_y(x), biased MMD.
    "paper": {"outputs": "own", "size_ridge": 0.0, "mmd_estimator": "biased"},
    # Chosen by the ground truth on Fashion-MNIST (docs/methods/davinz.md): sees label noise and size.
    "recommended": {"outputs": "mean", "size_ridge": 3e-4, "mmd_estimator": "thresholded"},
}
DEFAULT_NU = "recommended"
OUTPUTS = ("own", "all", "mean")  # which NTK term: see DavinzUtility


@dataclass(frozen=True)
class NuOptions:
    """Which ν DAVINZ computes: a named preset, with any of its three options overridden.

    Parameters
    ----------
    preset : {"recommended", "paper"}
        ``"recommended"``: ``outputs="mean", size_ridge=3e-4, mmd_estimator="thresholded"``, the ν
        whose constants were chosen on tuning draws of the ground-truth study (Fashion-MNIST sets with
        flipped labels, trained test accuracy as the truth) and checked on held-out draws; it sees label
        noise and set size where the paper's ν hardly does. The table and the cost are on the DAVINZ
        page of the documentation.
        ``"paper"``: ``outputs="own", size_ridge=0, mmd_estimator="biased"``, the ν of the paper and of
        its official code (for the official code's network conventions, add ``convention="official"``
        and ``bandwidth=5.0`` on [0, 1] pixels; see :class:`~trainfree.valuation.DavinzUtility`).
    outputs : {"own", "all", "mean"}, optional
        Classification: the NTK of each example's own-class output with residual 1 − f_y(x); one
        NTK per class output with one-hot residuals, summed over classes; or one kernel, the NTK
        averaged over the class outputs, with every class's one-hot residual. None: the preset's.
    size_ridge : float, optional
        ρ ≥ 0: each coalition S's NTK term uses Θ₀,S + ρ·d·m_S·I (d the mean diagonal of Θ₀).
        None: the preset's.
    mmd_estimator : {"biased", "unbiased", "thresholded"}, optional
        The MMD between T and S. None: the preset's.

    Examples
    --------
    >>> NuOptions("paper", outputs="all").resolved()
    {'nu': 'paper', 'outputs': 'all', 'size_ridge': 0.0, 'mmd_estimator': 'biased'}
    """

    preset: str = DEFAULT_NU
    outputs: str | None = None
    size_ridge: float | None = None
    mmd_estimator: str | None = None

    def __post_init__(self) -> None:
        check_param("nu", self.preset, str, choices=tuple(NU_PRESETS))
        if self.outputs is not None:
            check_param("outputs", self.outputs, str, choices=OUTPUTS)
        if self.size_ridge is not None:
            check_param("size_ridge", self.size_ridge, (int, float), low=0)
        if self.mmd_estimator is not None:
            check_param("mmd_estimator", self.mmd_estimator, str)

    def resolved(self) -> dict:
        """The preset's name and its three options, overridden where given."""
        preset = NU_PRESETS[self.preset]
        given = {"outputs": self.outputs, "size_ridge": self.size_ridge, "mmd_estimator": self.mmd_estimator}
        options = {k: preset[k] if v is None else v for k, v in given.items()}
        return {"nu": self.preset, **options, "size_ridge": float(options["size_ridge"])}


def as_nu(nu: str | NuOptions) -> NuOptions:
    """A preset name or :class:`NuOptions` as :class:`NuOptions`."""
    if isinstance(nu, NuOptions):
        return nu
    if isinstance(nu, str):
        return NuOptions(nu)
    raise TrainfreeError(f"The 'nu' parameter must be a preset name ({' or '.join(map(repr, NU_PRESETS))}) or "
                         f"NuOptions(preset, outputs=..., size_ridge=..., mmd_estimator=...). Got {nu!r} instead.")


@dataclass(frozen=True)
class NtkOptions:
    """How DAVINZ computes Θ₀ and solves with it: cost, memory and the block-diagonal approximation.

    Parameters
    ----------
    blocks : int
        The paper's block-diagonal approximation: the union of the contributors' data is split at
        random into this many blocks and Θ₀ is kept only within blocks (1, the default, keeps the
        exact kernel). Cuts the NTK's cost by about the number of blocks.
    permutations : int
        With ``blocks > 1``: average ŷᵀΘ₀⁻¹ŷ over this many random partitions into blocks, which
        lowers the variance one partition adds (memory and solves grow by the same factor). Default 1.
    jitter : float, optional
        Ridge added to Θ₀'s diagonal; needed when examples outnumber parameters (or repeat). Relative
        to the mean diagonal under ``convention="trainfree"`` (default 1e-6), absolute under
        ``"official"`` (default 1e-4, the official code's ``diagonal_I_mag``).
    from_scratch : bool
        Refactorise every coalition (no incremental Cholesky); for benchmarks and checks. Default False.
    cache_bytes : float
        Memory for cached Cholesky factors of evaluated coalitions. Default 1 GiB.
    max_memory_bytes : float, optional
        Memory budget for Θ₀, the Cholesky factors of the full coalition and the Jacobians, checked
        before allocating; default 80 % of the available memory (of the GPU on CUDA).

    Examples
    --------
    >>> NtkOptions(blocks=4).permutations
    1
    """

    blocks: int = 1
    permutations: int = 1
    jitter: float | None = None
    from_scratch: bool = False
    cache_bytes: float = 2**30
    max_memory_bytes: float | None = None

    def __post_init__(self) -> None:
        check_param("ntk_blocks", self.blocks, numbers.Integral, low=1)
        check_param("ntk_permutations", self.permutations, numbers.Integral, low=1)
        if self.permutations > 1 and self.blocks == 1:
            raise TrainfreeError("NtkOptions(permutations > 1) averages over random partitions into blocks, but "
                                 "blocks=1 keeps the exact kernel, which every partition shares. Set blocks > 1 "
                                 "(--ntk-blocks) or permutations=1.")
        if self.jitter is not None:
            check_param("jitter", self.jitter, (int, float), low=0)
        if not isinstance(self.from_scratch, bool):
            raise TrainfreeError(f"NtkOptions(from_scratch=...) must be True or False. Got {self.from_scratch!r}.")
        check_param("cache_bytes", self.cache_bytes, (int, float), low=0)
        if self.max_memory_bytes is not None:
            check_param("max_memory_bytes", self.max_memory_bytes, (int, float), low=0, low_open=True)
