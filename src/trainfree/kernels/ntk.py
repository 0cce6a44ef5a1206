"""The empirical neural tangent kernel Θ(x, x') = ∇θf(x)·∇θf(x'): per-example Jacobians or per-layer factors."""

from __future__ import annotations

import torch

from .._errors import TrainfreeError

ELEMENTWISE = (torch.nn.ReLU, torch.nn.LeakyReLU, torch.nn.Tanh, torch.nn.Sigmoid, torch.nn.GELU, torch.nn.ELU,
               torch.nn.SiLU, torch.nn.Softplus, torch.nn.Identity)


def empirical_ntk(model: torch.nn.Module, X1, X2=None, *, out1=None, out2=None, outputs: str | None = None,
                  batch_size: int = 64, max_jacobian_bytes: float = 2 * 2**30, parameters=None,
                  eval_mode: bool = True, method: str = "auto") -> torch.Tensor:
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
    X1, X2 : Tensor of shape ``(n, *input_shape)``
        Inputs; ``X2=None`` computes the symmetric kernel of ``X1``.
    out1, out2 : int Tensor of shape (n,), optional
        Which output of each example to differentiate (DAVINZ uses the example's own class). None
        means the model has a single output (or, with ``outputs``, every output).
    outputs : {None, "each", "mean"}
        With several outputs: ``"each"`` gives every output's kernel, shaped (C, n1, n2), and
        ``"mean"`` their average, (n1, n2); both from one Jacobian of all C outputs per block, instead of C
        passes. None (default): the one output ``out1`` / ``out2`` name.
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
    Tensor of shape (n1, n2), or (C, n1, n2) with ``outputs="each"``

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
    if outputs not in (None, "each", "mean"):
        raise TrainfreeError(f"outputs must be None, 'each' or 'mean'; got {outputs!r}.")
    if outputs is not None and (out1 is not None or out2 is not None):
        raise TrainfreeError("outputs='each' or 'mean' differentiates every output; drop out1 / out2.")
    chain = _linear_chain(model, eval_mode) if method != "jacobian" else None
    if method == "layerwise" and chain is None:
        raise TrainfreeError("method='layerwise' needs an nn.Sequential of nn.Linear layers and elementwise "
                             "activations (an nn.Flatten first is allowed). Use method='jacobian' or 'auto'.")
    if chain is not None:
        if outputs is None:
            outs1 = [out1]
            return _layerwise_ntk(chain, parameters, X1, outs1, *((X1, outs1) if X2 is None else (X2, [out2])))[0]
        every = lambda A: [torch.full((len(A),), k, device=A.device)  # noqa: E731
                           for k in range(chain[-1][1].out_features)]
        outs1 = every(X1)
        each = _layerwise_ntk(chain, parameters, X1, outs1, *((X1, outs1) if X2 is None else (X2, every(X2))))
        return each if outputs == "each" else each.mean(0)

    fixed = {k: v.detach() for k, v in model.named_parameters() if k not in params}
    fixed.update({k: v.detach() for k, v in model.named_buffers()})
    modes = [(m, m.training) for m in model.modules()]
    if eval_mode:
        model.eval()

    def f(p, x, c):
        out = functional_call(model, (p, fixed), (x.unsqueeze(0),)).reshape(-1)
        if outputs is not None:
            return out
        return out.gather(0, c.reshape(1))[0] if c is not None else out[0]  # gather: vmap-safe indexing

    def jac(X, idx):  # (b, P), or (b, C, P) for every output
        J = vmap(jacrev(f), in_dims=(None, 0, 0 if idx is not None else None),
                 randomness="error" if eval_mode else "different")(params, X, idx)
        lead = (len(X),) if outputs is None else (len(X), -1)
        return torch.cat([j.reshape(*lead, j[0].numel() // (1 if outputs is None else j.shape[1]))
                          for j in J.values()], dim=-1)

    def gram(Ja, Jb):  # Σ over parameters, per output ("each") or also over outputs ("mean")
        if outputs is None:
            return Ja @ Jb.T
        if outputs == "mean":
            return Ja.reshape(len(Ja), -1) @ Jb.reshape(len(Jb), -1).T / Ja.shape[1]
        return torch.einsum("icp,jcp->cij", Ja, Jb)

    def blocks(X, idx):
        for s in range(0, len(X), batch_size):
            yield s, jac(X[s:s + batch_size], None if idx is None else idx[s:s + batch_size])

    symmetric = X2 is None
    X2, out2 = (X1, out1) if symmetric else (X2, out2)
    n_params = sum(p.numel() for p in params.values())
    item = X1.element_size()
    try:
        n_out = 1
        if outputs is not None:  # the number of outputs, from one example
            with torch.no_grad():
                n_out = f(params, X1[0], None).numel()
        lead = () if outputs != "each" else (n_out,)
        K = torch.zeros(*lead, len(X1), len(X2), dtype=X1.dtype, device=X1.device)
        if (len(X1) + (0 if symmetric else len(X2))) * n_params * n_out * item <= max_jacobian_bytes:
            J1 = torch.cat([J for _, J in blocks(X1, out1)])
            J2 = J1 if symmetric else torch.cat([J for _, J in blocks(X2, out2)])
            K = gram(J1, J2)
        else:  # recompute column blocks: O(n²/b) Jacobian blocks, but bounded memory
            for s, Ja in blocks(X1, out1):
                for t, Jb in blocks(X2, out2):
                    K[..., s:s + len(Ja), t:t + len(Jb)] = gram(Ja, Jb)
    finally:
        for m, mode in modes:
            m.training = mode
    return K


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


def _layer_factors(chain: list, X: torch.Tensor, outs: list) -> tuple[list, list]:
    """Each Linear layer's input a_l, and for each output selection in ``outs`` its backpropagated gradients δ_l.

    One forward pass serves every selection (None: the single output; else each example's chosen output).
    """
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
        all_deltas = []
        for out in outs:
            delta = (torch.ones_like(a[:, :1]) if out is None else
                     torch.nn.functional.one_hot(out.long(), a.shape[1]).to(a.dtype))
            deltas, g = [], list(grads)
            for _, m in reversed(chain):
                if isinstance(m, torch.nn.Linear):
                    deltas.append(delta)
                    delta = delta @ m.weight
                elif isinstance(m, ELEMENTWISE):
                    delta = delta * g.pop()
            all_deltas.append(deltas[::-1])
    return inputs, all_deltas


def _layerwise_ntk(chain: list, parameters, X1, outs1: list, X2, outs2: list) -> torch.Tensor:
    """Θ = Σ_l (δ_l δ_l'ᵀ) ⊙ (a_l a_l'ᵀ [if W_l differentiated] + 1 [if b_l differentiated]), one per selection.

    The input products a_l a_l'ᵀ are shared by every output selection: (len(outs1), n1, n2).
    """
    wanted = None if parameters is None else set(parameters)
    a1s, d1s = _layer_factors(chain, X1, outs1)
    a2s, d2s = (a1s, d1s) if X2 is X1 and outs2 is outs1 else _layer_factors(chain, X2, outs2)
    K = torch.zeros(len(outs1), len(X1), len(X2), dtype=X1.dtype, device=X1.device)
    linears = [(name, m) for name, m in chain if isinstance(m, torch.nn.Linear)]
    for layer, (name, m) in enumerate(linears):
        use_w = wanted is None or f"{name}.weight" in wanted
        use_b = m.bias is not None and (wanted is None or f"{name}.bias" in wanted)
        if use_w or use_b:
            inner = (a1s[layer] @ a2s[layer].T) if use_w else torch.zeros_like(K[0])
            inner = inner + 1.0 if use_b else inner
            for k, (d1, d2) in enumerate(zip(d1s, d2s)):
                K[k] += (d1[layer] @ d2[layer].T) * inner
    return K
