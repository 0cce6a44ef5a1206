"""Kernel matrices: the arc-cosine Gram H∞ of the CG-score, random CNN features, the NTK, RBF and MMD."""

from __future__ import annotations

import math

import torch

from ._errors import TrainfreeError
from ._random import SeedLike, check_random_state, torch_generator


def arccos_gram(Xa: torch.Tensor, Xb: torch.Tensor | None = None) -> torch.Tensor:
    """Arc-cosine (ReLU NTK, first layer) Gram matrix of unit-norm rows.

    H_ij = x_iᵀx_j (π − arccos x_iᵀx_j) / (2π)  (Arora et al., 2019; CG-score eq. 1).

    Parameters
    ----------
    Xa : Tensor of shape (n, d)
        L2-normalised rows.
    Xb : Tensor of shape (m, d), optional
        Second set of L2-normalised rows; defaults to ``Xa`` (then the diagonal is set to exactly 1/2).

    Returns
    -------
    Tensor of shape (n, m)

    Examples
    --------
    >>> X = torch.eye(2, dtype=torch.float64)
    >>> arccos_gram(X)
    tensor([[0.5000, 0.0000],
            [0.0000, 0.5000]], dtype=torch.float64)
    """
    G = Xa @ (Xa if Xb is None else Xb).T
    # Rounding can push cosines just outside [-1, 1], where arccos is NaN.
    G.clamp_(-1.0, 1.0)
    # In place: building H needs two n×n matrices, not four.
    H = torch.arccos(G).neg_().add_(math.pi).mul_(G).div_(2 * math.pi)
    del G
    if Xb is None:
        H.diagonal().fill_(0.5)
    return H


def arccos_lower_blocks(Xt: torch.Tensor, *, block_rows: int = 1024):
    """Row blocks of the lower triangle of ``arccos_gram(Xt)``: yields ``(start, stop, H[start:stop, :stop])``.

    Each block is computed from the rows alone, so a Gram matrix too large for two copies can be
    written into one buffer (or kept packed, or recomputed) block by block; only the lower triangle
    is computed (half the flops). The diagonal is exactly 1/2, as in :func:`arccos_gram`.

    Examples
    --------
    >>> X = torch.eye(3, dtype=torch.float64)
    >>> [(s, e, tuple(b.shape)) for s, e, b in arccos_lower_blocks(X, block_rows=2)]
    [(0, 2, (2, 2)), (2, 3, (1, 3))]
    """
    n = len(Xt)
    for start in range(0, n, block_rows):
        stop = min(start + block_rows, n)
        block = arccos_gram(Xt[start:stop], Xt[:stop])
        block[:, start:stop].diagonal().fill_(0.5)
        yield start, stop, block


def empirical_ntk(model: torch.nn.Module, X1, X2=None, *, out1=None, out2=None, batch_size: int = 64,
                  max_jacobian_bytes: float = 2 * 2**30, parameters=None, eval_mode: bool = True,
                  method: str = "auto") -> torch.Tensor:
    """Empirical neural tangent kernel Θ(x, x') = ∇θf(x)·∇θf(x') at the model's current parameters.

    Per-example Jacobians come from ``torch.func`` (``vmap`` over ``jacrev`` of a ``functional_call``),
    ``batch_size`` examples at a time. When all Jacobians of ``X1`` and ``X2`` fit in
    ``max_jacobian_bytes`` they are kept; otherwise the column blocks are recomputed for every row
    block, so memory stays at two blocks of Jacobians whatever n is. By default the model is evaluated
    in eval mode: BatchNorm uses its running statistics, as a network at initialization with fixed
    parameters.

    Parameters
    ----------
    model : nn.Module
        Its parameters and buffers are read, never changed.
    X1, X2 : Tensor of shape (n, *input_shape)
        Inputs; ``X2=None`` computes the symmetric kernel of ``X1``.
    out1, out2 : int Tensor of shape (n,), optional
        Which output of each example to differentiate (DAVINZ uses the example's own class). None
        means the model has a single output.
    batch_size : int
        Examples per Jacobian block.
    parameters : sequence of str, optional
        Names (as in ``named_parameters()``) of the parameters to differentiate; the others are held
        fixed. Default: all of them.
    eval_mode : bool
        Put the model in eval mode (default); False keeps each module's mode as it is (dropout in
        train mode then draws an independent mask per example and per call).
    method : {"auto", "jacobian", "layerwise"}
        ``jacobian``: per-example Jacobians as above, any network. ``layerwise``: for an
        ``nn.Sequential`` of ``nn.Linear`` layers and elementwise activations, the same kernel from
        per-layer factors: the gradient of ``W_l`` is the outer product of the backpropagated signal
        δ_l and the layer's input a_l, so Θ = Σ_l (δ_l·δ_l')(a_l·a_l' + 1[bias]), which costs
        O(n²·width) per layer instead of O(n²·parameters). ``auto`` (default): ``layerwise`` when the
        network allows it.

    Returns
    -------
    Tensor of shape (n1, n2)

    Examples
    --------
    >>> net = torch.nn.Linear(3, 1)
    >>> X = torch.eye(3)
    >>> empirical_ntk(net, X)   # ∇θ(wᵀx + b) = (x, 1)
    tensor([[2., 1., 1.],
            [1., 2., 1.],
            [1., 1., 2.]])
    """
    from torch.func import functional_call, jacrev, vmap

    wanted = None if parameters is None else set(parameters)
    params = {k: v.detach() for k, v in model.named_parameters() if wanted is None or k in wanted}
    unknown = sorted((wanted or set()) - {k for k, _ in model.named_parameters()})
    if unknown or not params:
        raise TrainfreeError(f"empirical_ntk needs names from model.named_parameters() to differentiate; got "
                             f"{unknown[:3] or 'none'}. Pass parameters=None for all of them.")
    if method not in ("auto", "jacobian", "layerwise"):
        raise TrainfreeError(f"method must be 'auto', 'jacobian' or 'layerwise'; got {method!r}.")
    chain = _linear_chain(model, eval_mode) if method != "jacobian" else None
    if method == "layerwise" and chain is None:
        raise TrainfreeError("method='layerwise' needs an nn.Sequential of nn.Linear layers and elementwise "
                             "activations (an nn.Flatten first is allowed). Use method='jacobian' or 'auto'.")
    if chain is not None:
        return _layerwise_ntk(chain, parameters, X1, out1, *((X1, out1) if X2 is None else (X2, out2)))

    fixed = {k: v.detach() for k, v in model.named_parameters() if k not in params}
    fixed.update({k: v.detach() for k, v in model.named_buffers()})
    modes = [(m, m.training) for m in model.modules()]
    if eval_mode:
        model.eval()

    def f(p, x, c):
        out = functional_call(model, (p, fixed), (x.unsqueeze(0),)).reshape(-1)
        return out.gather(0, c.reshape(1))[0] if c is not None else out[0]  # gather: vmap-safe indexing

    def jac(X, idx):
        J = vmap(jacrev(f), in_dims=(None, 0, 0 if idx is not None else None),
                 randomness="error" if eval_mode else "different")(params, X, idx)
        return torch.cat([j.reshape(len(X), -1) for j in J.values()], dim=1)

    def blocks(X, idx):
        for s in range(0, len(X), batch_size):
            yield s, jac(X[s:s + batch_size], None if idx is None else idx[s:s + batch_size])

    symmetric = X2 is None
    X2, out2 = (X1, out1) if symmetric else (X2, out2)
    n_params = sum(p.numel() for p in params.values())
    item = X1.element_size()
    try:
        K = torch.zeros(len(X1), len(X2), dtype=X1.dtype, device=X1.device)
        if (len(X1) + (0 if symmetric else len(X2))) * n_params * item <= max_jacobian_bytes:
            J1 = torch.cat([J for _, J in blocks(X1, out1)])
            J2 = J1 if symmetric else torch.cat([J for _, J in blocks(X2, out2)])
            K = J1 @ J2.T
        else:  # recompute column blocks: O(n²/b) Jacobian blocks, but bounded memory
            for s, Ja in blocks(X1, out1):
                for t, Jb in blocks(X2, out2):
                    K[s:s + len(Ja), t:t + len(Jb)] = Ja @ Jb.T
    finally:
        for m, mode in modes:
            m.training = mode
    return K


def random_conv_features(images: torch.Tensor, *, channels: int | tuple[int, int] = (32, 64),
                         random_state: SeedLike = 0, batch_size: int = 256) -> torch.Tensor:
    """Features of a random two-layer ReLU CNN at initialisation, for a convolutional kernel without training.

    The images are standardised by one scalar mean and standard deviation, then pass a 5×5 and a 3×3
    convolution (He-scaled Gaussian weights, no biases), each followed by ReLU and 2×2 average
    pooling. The arc-cosine kernel of these features approximates the kernel of a wide random CNN:
    unlike a kernel on pixels it is local and partly invariant to small shifts, which sharpens
    leave-one-out predictions on image data (docs/benchmarks.md, "Mislabel detector").

    Parameters
    ----------
    images : Tensor of shape (n, C, H, W)
    channels : int or (int, int), default=(32, 64)
        Filters of the first and second convolution (one int: both). On Fashion-MNIST 10 000 at 20%
        symmetric noise, (32, 64) finds flipped labels as well as (128, 128) (AUROC 0.9905 against
        0.9907; draws of the weights differ by ±0.0003) at a quarter of the second layer's cost and
        half the feature dimension (docs/benchmarks.md, "Width of the random CNN").
    random_state : None, int, Generator or SeedSequence
        Seeds the weights; they are drawn on the CPU, so every device gets the same network.
    batch_size : int, default=256
        Images per forward pass; 256 keeps a batch's activations in cache (10 000 images: 1.1-1.9 s
        against 2.1-2.4 s with 1 024 on the 2-core CPU).

    Returns
    -------
    Tensor of shape (n, c₂ · ⌊⌊H/2⌋/2⌋ · ⌊⌊W/2⌋/2⌋), float32, on the images' device.

    Examples
    --------
    >>> random_conv_features(torch.rand(3, 1, 28, 28), channels=(4, 8)).shape
    torch.Size([3, 392])
    """
    c1, c2 = (channels, channels) if isinstance(channels, int) else channels
    gen = torch_generator(check_random_state(random_state))
    c = images.shape[1]
    w1 = torch.randn(c1, c, 5, 5, generator=gen) * math.sqrt(2 / (25 * c))
    w2 = torch.randn(c2, c1, 3, 3, generator=gen) * math.sqrt(2 / (9 * c1))
    x = images.float()
    x = (x - x.mean()) / x.std().clamp_min(1e-12)
    w1, w2 = w1.to(x.device), w2.to(x.device)
    out = []
    with torch.no_grad():
        for b in x.split(batch_size):
            a = torch.nn.functional.avg_pool2d(torch.relu(torch.nn.functional.conv2d(b, w1, padding=2)), 2)
            a = torch.nn.functional.avg_pool2d(torch.relu(torch.nn.functional.conv2d(a, w2, padding=1)), 2)
            out.append(a.flatten(1))
    return torch.cat(out)

ELEMENTWISE = (torch.nn.ReLU, torch.nn.LeakyReLU, torch.nn.Tanh, torch.nn.Sigmoid, torch.nn.GELU, torch.nn.ELU,
               torch.nn.SiLU, torch.nn.Softplus, torch.nn.Identity)


def _linear_chain(model: torch.nn.Module, eval_mode: bool) -> list | None:
    """(name, module) of a Sequential of Linear layers and elementwise activations ending in a Linear, else None."""
    if not isinstance(model, torch.nn.Sequential) or not len(model):
        return None
    chain = list(model.named_children())
    if isinstance(chain[0][1], torch.nn.Flatten) and (chain[0][1].start_dim, chain[0][1].end_dim) == (1, -1):
        chain = chain[1:]
    for _, m in chain:
        dropout_off = isinstance(m, torch.nn.Dropout) and (eval_mode or not m.training or m.p == 0)
        if not (isinstance(m, (torch.nn.Linear, *ELEMENTWISE)) or dropout_off):
            return None
    return chain if chain and isinstance(chain[-1][1], torch.nn.Linear) else None


def _layer_factors(chain: list, X: torch.Tensor, out: torch.Tensor | None) -> list:
    """For each Linear layer: (input a_l, backpropagated output gradient δ_l) of every example's chosen output."""
    a, inputs, grads = X.reshape(len(X), -1), [], []
    with torch.no_grad():
        for _, m in chain:
            if isinstance(m, torch.nn.Linear):
                inputs.append(a)
            elif isinstance(m, ELEMENTWISE):
                with torch.enable_grad():  # the activation's derivative, elementwise
                    z = a.detach().requires_grad_(True)
                    grads.append(torch.autograd.grad(m(z).sum(), z)[0])
            a = a if isinstance(m, torch.nn.Dropout) else m(a)
        delta = (torch.ones_like(a[:, :1]) if out is None else
                 torch.nn.functional.one_hot(out.long(), a.shape[1]).to(a.dtype))
        deltas = []
        for _, m in reversed(chain):
            if isinstance(m, torch.nn.Linear):
                deltas.append(delta)
                delta = delta @ m.weight
            elif isinstance(m, ELEMENTWISE):
                delta = delta * grads.pop()
    return list(zip(inputs, reversed(deltas)))


def _layerwise_ntk(chain: list, parameters, X1, out1, X2, out2) -> torch.Tensor:
    """Θ = Σ_l (δ_l δ_l'ᵀ) ⊙ (a_l a_l'ᵀ [if W_l differentiated] + 1 [if b_l differentiated])."""
    wanted = None if parameters is None else set(parameters)
    f1 = _layer_factors(chain, X1, out1)
    f2 = f1 if X2 is X1 and out2 is out1 else _layer_factors(chain, X2, out2)
    K = torch.zeros(len(X1), len(X2), dtype=X1.dtype, device=X1.device)
    linears = [(name, m) for name, m in chain if isinstance(m, torch.nn.Linear)]
    for (name, m), (a1, d1), (a2, d2) in zip(linears, f1, f2):
        use_w = wanted is None or f"{name}.weight" in wanted
        use_b = m.bias is not None and (wanted is None or f"{name}.bias" in wanted)
        if use_w or use_b:
            inner = (a1 @ a2.T) if use_w else torch.zeros_like(K)
            K += (d1 @ d2.T) * (inner + 1.0 if use_b else inner)
    return K


def rbf_kernel(A: torch.Tensor, B: torch.Tensor, bandwidth: float) -> torch.Tensor:
    """Gaussian kernel exp(−‖a − b‖² / (2σ²)) between the rows of ``A`` and ``B``."""
    d2 = (A.square().sum(1)[:, None] + B.square().sum(1)[None, :] - 2 * A @ B.T).clamp_(min=0)
    return torch.exp(-d2 / (2 * bandwidth**2))


def median_bandwidth(Z: torch.Tensor, *, max_points: int = 1000, random_state: SeedLike = 0) -> float:
    """Median heuristic: the median pairwise distance between rows (on at most ``max_points`` of them)."""
    if len(Z) > max_points:
        g = torch_generator(check_random_state(random_state))
        Z = Z[torch.randperm(len(Z), generator=g)[:max_points].to(Z.device)]
    d = torch.cdist(Z, Z)
    iu = torch.triu_indices(len(Z), len(Z), offset=1, device=Z.device)
    med = float(d[iu[0], iu[1]].median()) if len(Z) > 1 else 1.0
    return med if med > 0 else 1.0


def mmd(T: torch.Tensor, S: torch.Tensor, *, bandwidth: float, estimator: str = "biased") -> float:
    """Maximum mean discrepancy between the rows of ``T`` and ``S`` under an RBF kernel.

    ``biased`` is the V-statistic (0 for identical sets); ``unbiased`` the U-statistic, which drops the
    diagonals and can be negative. MMD² is clamped at 0 before the square root.

    Examples
    --------
    >>> Z = torch.randn(5, 2, dtype=torch.float64)
    >>> mmd(Z, Z, bandwidth=1.0)
    0.0
    """
    kTT, kSS, kTS = rbf_kernel(T, T, bandwidth), rbf_kernel(S, S, bandwidth), rbf_kernel(T, S, bandwidth)
    m, n = len(T), len(S)
    if estimator == "unbiased":
        mmd2 = ((kTT.sum() - kTT.trace()) / (m * (m - 1)) + (kSS.sum() - kSS.trace()) / (n * (n - 1))
                - 2 * kTS.mean())
    else:
        mmd2 = kTT.mean() + kSS.mean() - 2 * kTS.mean()
    return float(mmd2.clamp(min=0).sqrt())
