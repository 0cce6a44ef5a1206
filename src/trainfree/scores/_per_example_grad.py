"""Norms of per-example loss gradients, without materialising the per-example gradients.

For a batch, the loss is the SUM of per-example cross-entropies, so the gradient that reaches a
layer's output for example i is exactly that example's own (unscaled) output gradient δ_i. For a
layer whose output is linear in its weight, the per-example weight gradient is built from δ_i and
the layer's input a_i alone, so its squared norm follows from one batched backward pass:

* ``nn.Linear`` on (B, in) inputs: g_i = δ_i a_iᵀ, so ‖g_i‖² = ‖δ_i‖²‖a_i‖² (bias: ‖δ_i‖²).
* ``nn.Conv2d``: with U_i the unfolded input (in·k·k × L positions) and D_i the output gradient
  (out × L), g_i = D_i U_iᵀ. Its squared Frobenius norm is either formed directly (B small
  out × in·k·k matrices, cost out·in·k²·L per example) or taken as ⟨D_iᵀD_i, U_iᵀU_i⟩ (two L × L
  Gram matrices, cost L²·(out + in·k²)). Each layer uses whichever costs fewer flops. For the
  reference CNN on 28×28 images the direct matrix is 59× cheaper in the first layer (L = 576
  positions, 16 × 25 weights) and 2× in the second (L = 64, 32 × 400), and its B small matrices
  take less memory than B L × L Grams; the Gram form wins only for many channels on few positions.
  On CPU the unfolding is a strided view copied once (several times faster than ``F.unfold``),
  and conv outputs are made NHWC so the network's max-pooling runs ~5× faster.

* ``nn.BatchNorm1d/2d`` in eval mode (running statistics, so examples do not interact) is affine in
  its parameters: with x̂ = (a − μ)/√(σ² + ε), the per-example gradients are Σ_positions δ_i·x̂_i
  (γ) and Σ_positions δ_i (β) per channel, C numbers each: no weight-sized tensor at all.

Only the output gradients are requested from autograd (``torch.autograd.grad`` w.r.t. the layer
outputs), so no parameter gradient is ever computed. Networks with other parameterised layers, a
BatchNorm without running statistics, 'same' padding or a non-zero padding_mode fall back to
``torch.func.vmap(grad(...))``, exact but slower (and it holds one gradient per example of a batch);
networks that reuse a layer fall back to a per-example backward loop.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .._errors import TrainfreeError

BATCHNORMS = (nn.BatchNorm1d, nn.BatchNorm2d)  # eval mode: affine per channel, so the fast path applies


def grad_norms(model: nn.Module, X: torch.Tensor, y: torch.Tensor, *, batch_size: int = 256,
               method: str = "auto") -> tuple[np.ndarray, str]:
    """L2 norm of ∇_θ CE(f(x_i), y_i) over all trainable parameters θ, for every example.

    The model is evaluated in eval mode (BatchNorm on running statistics, so examples in a batch do
    not interact) and its training mode is restored afterwards. ``method`` is ``"auto"`` (layer
    identities where every parameterised layer is ``nn.Linear``, ``nn.Conv2d`` or BatchNorm, else vmap),
    ``"fast"``, ``"vmap"`` or ``"loop"`` (one backward per example: the reference, also used for
    models that share a module or parameter between layers). Returns the
    norms (float64) and the method used.

    Examples
    --------
    >>> net = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    >>> X, y = torch.randn(5, 3), torch.tensor([0, 1, 0, 1, 1])
    >>> fast, used = grad_norms(net, X, y)
    >>> used, bool(np.allclose(fast, grad_norms(net, X, y, method="loop")[0], rtol=1e-5))
    ('fast', True)
    """
    if method not in ("auto", "fast", "vmap", "loop"):
        raise TrainfreeError(f"The 'method' parameter must be one of ['auto', 'fast', 'vmap', 'loop']. "
                             f"Got {method!r} instead.")
    unsupported = _unsupported_layers(model)
    if method == "fast" and unsupported:
        raise TrainfreeError(f"The fast per-example gradient path supports nn.Linear, nn.Conv2d (zero or 'valid' "
                             f"padding) and BatchNorm with running statistics only; this model has {unsupported}. "
                             f"Use method='auto' or 'vmap'.")
    if method == "auto":  # shared modules or parameters: only the loop sums their uses correctly
        shared = len(list(model.named_parameters(remove_duplicate=False))) != len(list(model.parameters()))
        method = "loop" if shared else "vmap" if unsupported else "fast"
    was_training = model.training
    model.eval()
    try:
        out = []
        for xb, yb in zip(X.split(batch_size), y.split(batch_size)):
            if method == "fast":
                sq = _fast_batch(model, xb, yb)
                if sq is None:  # a layer called twice: the identities do not hold, so redo everything exactly
                    return grad_norms(model, X, y, batch_size=batch_size, method="loop")
            else:
                sq = _vmap_batch(model, xb, yb) if method == "vmap" else _loop_batch(model, xb, yb)
            out.append(sq)
    finally:
        model.train(was_training)
    return torch.cat(out).sqrt().cpu().numpy(), method


def _unsupported_layers(model: nn.Module) -> list[str]:
    bad = []
    for name, m in model.named_modules():
        if not any(p.requires_grad for p in m.parameters(recurse=False)):
            continue
        if type(m) is nn.Linear:
            continue
        if type(m) is nn.Conv2d and m.padding_mode == "zeros" and m.padding != "same":
            continue
        if type(m) in BATCHNORMS and m.running_mean is not None:
            continue
        bad.append(f"{name or 'the model'} ({type(m).__name__})")
    return bad


def _fast_batch(model: nn.Module, xb: torch.Tensor, yb: torch.Tensor, clone: bool = False) -> torch.Tensor | None:
    records: list = []

    def hook(module, inputs, output):
        records.append((module, inputs[0].detach(), output, output._version))
        if output.dim() == 4 and output.device.type == "cpu":  # CPU max-pooling is ~5x faster on NHWC
            output = output.contiguous(memory_format=torch.channels_last)
        # A later in-place op (ReLU(inplace=True)) would overwrite the tensor we differentiate: hand it a copy.
        return output.clone() if clone and output is records[-1][2] else output

    layers = [m for m in model.modules() if any(p.requires_grad for p in m.parameters(recurse=False))]
    handles = [m.register_forward_hook(hook) for m in layers]
    try:
        with torch.enable_grad():
            logits = model(xb)
    finally:
        for h in handles:
            h.remove()
    if len({id(r[0]) for r in records}) != len(records):
        return None
    if any(r[2]._version != r[3] for r in records):
        return None if clone else _fast_batch(model, xb, yb, clone=True)
    if not records:
        return torch.zeros(len(xb), dtype=torch.float64, device=xb.device)
    loss = F.cross_entropy(logits, yb, reduction="sum")  # a sum: each example's gradient keeps its own scale
    deltas = torch.autograd.grad(loss, [r[2] for r in records], allow_unused=True)
    sq = torch.zeros(len(xb), dtype=torch.float64, device=xb.device)
    for (m, a, _, _), d in zip(records, deltas):
        if d is not None:
            sq += (_linear_sq(m, a, d) if isinstance(m, nn.Linear) else _conv_sq(m, a, d) if isinstance(m, nn.Conv2d)
                   else _batchnorm_sq(m, a, d)).double()
    return sq


def _linear_sq(m: nn.Linear, a: torch.Tensor, d: torch.Tensor) -> torch.Tensor:
    B = len(a)
    out = torch.zeros(B, dtype=d.dtype, device=d.device)
    if a.dim() == 2:
        d2 = _sumsq(d)
        if m.weight.requires_grad:
            out += d2 * _sumsq(a)
        if m.bias is not None and m.bias.requires_grad:
            out += d2
        return out
    a, d = a.reshape(B, -1, a.shape[-1]), d.reshape(B, -1, d.shape[-1])  # extra dims: a sum over positions
    if m.weight.requires_grad:
        out += _sumsq(torch.bmm(d.transpose(1, 2), a))
    if m.bias is not None and m.bias.requires_grad:
        out += _sumsq(d.sum(1))
    return out


def _batchnorm_sq(m: nn.modules.batchnorm._BatchNorm, a: torch.Tensor, d: torch.Tensor) -> torch.Tensor:
    """Eval-mode BatchNorm: per channel, γ's gradient is Σ δ·x̂ and β's is Σ δ over the positions."""
    B, C = a.shape[:2]
    shape = (1, C) + (1,) * (a.dim() - 2)
    xhat = (a - m.running_mean.view(shape)) / torch.sqrt(m.running_var.view(shape) + m.eps)
    d3 = d.reshape(B, C, -1)
    out = torch.zeros(B, dtype=d.dtype, device=d.device)
    if m.weight is not None and m.weight.requires_grad:
        out += _sumsq((d3 * xhat.reshape(B, C, -1)).sum(2))
    if m.bias is not None and m.bias.requires_grad:
        out += _sumsq(d3.sum(2))
    return out


def conv_strategy(out_ch: int, in_kk: int, positions: int, groups: int = 1) -> str:
    """``"matrix"`` or ``"gram"``: the cheaper way (in flops) to get a conv layer's per-example norms.

    Examples
    --------
    >>> conv_strategy(16, 25, 576), conv_strategy(512, 4608, 16)
    ('matrix', 'gram')
    """
    matrix = out_ch * in_kk * positions
    gram = positions * positions * (out_ch + in_kk)
    return "gram" if groups == 1 and gram < matrix else "matrix"


def _unfold(m: nn.Conv2d, a: torch.Tensor) -> torch.Tensor:
    """Unfolded input (B, in·k·k, L): a strided view (any memory layout) copied once, several times faster
    than F.unfold on CPU."""
    if m.padding != "valid" and any(m.padding):
        ph, pw = m.padding
        a = F.pad(a, (pw, pw, ph, ph))
    B, C, H, W = a.shape
    (kh, kw), (sh, sw), (dh, dw) = m.kernel_size, m.stride, m.dilation
    Ho, Wo = (H - dh * (kh - 1) - 1) // sh + 1, (W - dw * (kw - 1) - 1) // sw + 1
    s = a.stride()
    view = a.as_strided((B, C, kh, kw, Ho, Wo), (s[0], s[1], s[2] * dh, s[3] * dw, s[2] * sh, s[3] * sw))
    return view.reshape(B, C * kh * kw, Ho * Wo)


def _sumsq(t: torch.Tensor) -> torch.Tensor:
    return torch.linalg.vector_norm(t.flatten(1), dim=1).square()  # fused: no squared copy of t


def _conv_sq(m: nn.Conv2d, a: torch.Tensor, d: torch.Tensor, strategy: str | None = None) -> torch.Tensor:
    B, g = len(a), m.groups
    U = _unfold(m, a)  # (B, in·k·k, L)
    D = d.reshape(B, d.shape[1], -1)  # (B, out, L)
    out = torch.zeros(B, dtype=d.dtype, device=d.device)
    if m.weight.requires_grad:
        strategy = strategy or conv_strategy(D.shape[1], U.shape[1], U.shape[2], g)
        if strategy == "gram":
            out += (torch.bmm(U.transpose(1, 2), U) * torch.bmm(D.transpose(1, 2), D)).sum((1, 2))
        elif g == 1:
            out += _sumsq(torch.bmm(D, U.transpose(1, 2)))
        else:
            Ug, Dg = U.reshape(B, g, -1, U.shape[2]), D.reshape(B, g, -1, D.shape[2])
            out += _sumsq(torch.einsum("bgol,bgil->bgoi", Dg, Ug))
    if m.bias is not None and m.bias.requires_grad:
        out += _sumsq(D.sum(2))
    return out


def _trainable(model: nn.Module) -> list[torch.nn.Parameter]:
    return [p for p in model.parameters() if p.requires_grad]


def _loop_batch(model: nn.Module, xb: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
    params = _trainable(model)
    sq = torch.zeros(len(xb), dtype=torch.float64, device=xb.device)
    for i in range(len(xb)):
        with torch.enable_grad():
            loss = F.cross_entropy(model(xb[i:i + 1]), yb[i:i + 1], reduction="sum")
            grads = torch.autograd.grad(loss, params, allow_unused=True)
        sq[i] = sum(g.double().square().sum() for g in grads if g is not None)
    return sq


def _vmap_batch(model: nn.Module, xb: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
    from torch.func import functional_call, grad, vmap

    params = {k: v.detach() for k, v in model.named_parameters() if v.requires_grad}
    frozen = {k: v.detach() for k, v in model.named_parameters() if not v.requires_grad}
    buffers = dict(model.named_buffers())

    def loss_one(p, x, t):
        logits = functional_call(model, (p, frozen, buffers), (x.unsqueeze(0),))
        return F.cross_entropy(logits, t.unsqueeze(0), reduction="sum")

    with torch.enable_grad():
        grads = vmap(grad(loss_one), in_dims=(None, 0, 0))(params, xb, yb)
    sq = torch.zeros(len(xb), dtype=torch.float64, device=xb.device)
    for g in grads.values():
        sq += g.reshape(len(xb), -1).double().square().sum(1)
    return sq
