"""ŷ_Cᵀ Θ_C⁻¹ ŷ_C for coalitions C of contributors, from one shared Θ₀: block-Cholesky extension with two caches.

A coalition's factor extends the factor of a sub-coalition by one contributor's block (O(n_old²·n_new)
instead of a refactorisation). Two caches make repeated work free:

- the quadratic form of every coalition evaluated, keyed by its set of players (a few bytes each);
- Cholesky factors, keyed by set and stored with the order they were built in (any order of a set
  extends equally well), least recently used first out past ``cache_bytes``.

Along a permutation, z = L⁻¹ŷ of the longest prefix holds every shorter prefix's z as its leading
rows, so one extension per new contributor gives every prefix's form; prefixes already known are not
recomputed, and the work starts from the longest cached factor among them.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

import numpy as np
import torch

from ..linalg.cholesky import cholesky, solve_lower
from ..linalg.threads import one_thread

NOT_DEFINITE = ("Θ₀ restricted to a coalition is not positive definite (more examples than the network's parameters, "
                "or duplicates). Increase `jitter` (e.g. 1e-4).")


class CoalitionSolves:
    """Σ_k ‖(Θ₀ᵏ)_C^{-1/2} Ŷᵏ_C‖² over the kernels k of ``theta`` (k, n, n), for coalitions of contributors.

    ``residual`` is (k, n), one right-hand side per kernel, or (k, n, r): r right-hand sides per kernel
    whose forms are summed (one kernel shared by every class output).

    ``offsets[i]:offsets[i + 1]`` are contributor i's rows; ``from_scratch`` refactorises every
    coalition and caches nothing (benchmarks and checks), as does ``ridge_per_example`` > 0, which adds
    ``ridge_per_example · m_C`` to the diagonal of each coalition C's kernel (it changes with C, so no
    factor extends another's). ``n_extensions`` counts block extensions
    and ``n_factorisations`` full factorisations: what the caches saved.
    """

    def __init__(self, theta: torch.Tensor, residual: torch.Tensor, offsets: np.ndarray, *,
                 cache_bytes: float, from_scratch: bool, ridge_per_example: float = 0.0) -> None:
        self.theta, self.offsets = theta, offsets
        self.residual = residual if residual.dim() == 3 else residual[..., None]  # (k, n, r)
        self.ridge_per_example = ridge_per_example
        self.cache_bytes, self.from_scratch = cache_bytes, from_scratch or ridge_per_example > 0
        self.reset()

    def reset(self) -> None:
        self.quads: dict[int, float] = {0: 0.0}  # set of players (bitmask) → quadratic form
        self.factors: OrderedDict = OrderedDict()  # bitmask → (order, L, z), least recently used first
        self.cache_used = 0
        self.n_extensions = self.n_factorisations = 0

    def along(self, order: Sequence[int], *, last_only: bool = False) -> np.ndarray:
        """The form of each prefix of ``order`` (``len(order) + 1`` values, the first 0); only the last if asked."""
        with one_thread(self.theta.device):
            return self._along(order, last_only)

    def _along(self, order: Sequence[int], last_only: bool) -> np.ndarray:
        masks = np.zeros(len(order) + 1, dtype=object)
        for j, p in enumerate(order):
            masks[j + 1] = masks[j] | (1 << p)
        wanted = [len(order)] if last_only else range(1, len(order) + 1)
        missing = [j for j in wanted if masks[j] not in self.quads]
        if self.from_scratch:
            for j in missing:
                z = self._factor(order[:j])[1]
                self.quads[masks[j]] = float(z.square().sum())
            out = [self.quads.get(m, np.nan) for m in masks]
            self.quads = {0: 0.0}
            return np.array(out, dtype=float)
        if missing:
            self._extend_to(order, masks, missing[0], missing[-1])
        return np.array([self.quads.get(m, np.nan) for m in masks], dtype=float)

    def many(self, coalitions: Sequence[Sequence[int]], wrap=None) -> np.ndarray:
        """The forms of many sorted coalitions, by a depth-first walk of their prefix tree.

        Each node c carries the Schur complement of Θ₀ given c over the contributors that still follow it
        in some wanted coalition, S = Θ_RR − Θ_Rc Θ_cc⁻¹ Θ_cR, and the residual r = ŷ_R − Θ_Rc Θ_cc⁻¹ ŷ_c.
        A child c ∪ {j} then costs one m_j×m_j Cholesky for its form, q(c ∪ j) = q(c) + r_jᵀ S_jj⁻¹ r_j, and a
        rank-m_j update for its own S: O(m_j·|R|²) instead of a solve against c's whole factor
        (O(|c|²·m_j)). Over all 2^K subsets of K equal contributors of m examples this is about 6× fewer
        flops at K = 10 than extending a prefix's factor, with at most one S per depth in memory.
        ``wrap(steps, total)`` may wrap the walk's steps (one per wanted coalition), e.g. in a progress bar.
        """
        todo = sorted({tuple(c) for c in coalitions if _mask(c) not in self.quads})
        if todo and not self.from_scratch:
            children: dict[tuple, set] = {}
            following: dict[tuple, set] = {}
            for c in todo:
                for t in range(len(c)):
                    children.setdefault(c[:t], set()).add(c[t])
                    following.setdefault(c[:t], set()).update(c[t:])
            wanted = {_mask(c) for c in todo}
            R = sorted(following[()])
            idx = self._index(R)
            S = self.theta[:, idx[:, None], idx[None, :]]
            steps = self._walk((), 0.0, S, self.residual[:, idx], R, children, following, wanted)
            with one_thread(self.theta.device):
                for _ in (steps if wrap is None else wrap(steps, len(todo))):
                    pass
        return np.array([self.along(c, last_only=True)[-1] for c in coalitions], dtype=float)

    def _walk(self, c, q, S, r, R, children, following, wanted):
        """Depth-first from node c (form q, Schur complement S and residual r over R); yields per wanted coalition."""
        sizes = np.diff(self.offsets)[R]
        start = dict(zip(R, np.r_[0, np.cumsum(sizes)[:-1]].tolist()))
        for j in sorted(children[c]):
            a, b = start[j], start[j] + int(self.offsets[j + 1] - self.offsets[j])
            Ljj = cholesky(S[:, a:b, a:b], error=NOT_DEFINITE)
            w = solve_lower(Ljj, r[:, a:b])
            child = c + (j,)
            qc = q + float(w.square().sum())
            mask = _mask(child)
            self.quads[mask] = qc
            if mask in wanted:
                yield mask
            if child in children:
                R2 = sorted(following[child])
                if R2 == R[R.index(j) + 1:]:  # every later contributor (all subsets): a view, not a gather
                    rows, S22, r2 = slice(b, None), S[:, b:, b:], r[:, b:]
                else:
                    rows = torch.cat([torch.arange(start[e], start[e] + sizes[R.index(e)], device=S.device)
                                      for e in R2])
                    S22, r2 = S[:, rows[:, None], rows[None, :]], r[:, rows]
                M = solve_lower(Ljj, S[:, a:b][:, :, rows])
                yield from self._walk(child, qc, torch.baddbmm(S22, M.mT, M, alpha=-1),
                                      torch.baddbmm(r2, M.mT, w, alpha=-1), R2, children, following, wanted)

    def _extend_to(self, order: Sequence[int], masks: np.ndarray, first: int, last: int) -> None:
        """Forms of prefixes ``first..last``: extend one factor along ``order``, jumping to any cached prefix factor."""
        k = first - 1  # the longest prefix before the first unknown one whose factor is cached
        while k > 0 and masks[k] not in self.factors:
            k -= 1
        state, built = None, []
        for j in range(max(k, 1), last + 1):
            cached = self.factors.get(masks[j])
            if cached is not None:  # known and kept: no work, whatever order it was built in
                self.factors.move_to_end(masks[j])
                built, state = list(cached[0]), cached[1:]
                continue
            state = self._extend(state, built, order[j - 1])
            built.append(order[j - 1])
            self.quads[masks[j]] = float(state[1].square().sum())
            self._store(masks[j], tuple(built), state)

    def _store(self, mask: int, built: tuple, state: tuple) -> None:
        old = self.factors.pop(mask, None)
        if old is not None:
            self.cache_used -= old[1].numel() * old[1].element_size()
        self.factors[mask] = (built, *state)
        self.cache_used += state[0].numel() * state[0].element_size()
        while self.cache_used > self.cache_bytes and len(self.factors) > 1:
            L = self.factors.popitem(last=False)[1][1]
            self.cache_used -= L.numel() * L.element_size()

    def _index(self, players: Sequence[int]) -> torch.Tensor:
        dev = self.theta.device
        return torch.cat([torch.arange(self.offsets[i], self.offsets[i + 1], device=dev) for i in players])

    def _factor(self, players: Sequence[int]):
        """Cholesky factor L and z = L⁻¹ŷ of Θ₀ on the players' examples (in that order)."""
        self.n_factorisations += 1
        idx = self._index(players)
        A = self.theta[:, idx[:, None], idx[None, :]]  # a copy: the ridge below leaves Θ₀ alone
        if self.ridge_per_example:
            A.diagonal(dim1=1, dim2=2).add_(self.ridge_per_example * len(idx))
        L = cholesky(A, error=NOT_DEFINITE)
        return L, solve_lower(L, self.residual[:, idx])

    def _extend(self, state, old: Sequence[int], new: int):
        """Block-Cholesky update: add contributor ``new`` to the factor of ``old`` (in that order)."""
        if not old:
            return self._factor((new,))
        self.n_extensions += 1
        L, z = state
        I, J = self._index(old), self._index((new,))
        L21 = solve_lower(L, self.theta[:, I[:, None], J[None, :]]).mT
        L22 = cholesky(self.theta[:, J[:, None], J[None, :]] - L21 @ L21.mT, error=NOT_DEFINITE)
        z2 = solve_lower(L22, self.residual[:, J] - L21 @ z)
        n_old, n_new = L.shape[-1], L22.shape[-1]
        Lnew = L.new_empty(L.shape[0], n_old + n_new, n_old + n_new)
        Lnew[:, :n_old, :n_old], Lnew[:, n_old:, :n_old], Lnew[:, n_old:, n_old:] = L, L21, L22
        Lnew[:, :n_old, n_old:] = 0.0
        return Lnew, torch.cat([z, z2], dim=1)

    def __getstate__(self):  # the caches are a per-process accelerator, not state worth shipping
        state = dict(self.__dict__)
        state.update(quads={0: 0.0}, factors=OrderedDict(), cache_used=0)
        return state


def _mask(players: Sequence[int]) -> int:
    return sum(1 << p for p in players)
