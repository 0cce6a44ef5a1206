"""The one training loop: Adam on cross-entropy or MSE, seeded mini-batches, and evaluation."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from .._device import resolve_device
from .._random import SeedLike, check_random_state, torch_generator
from .._validation import check_param

EpochCallback = Callable[[int, nn.Module, float], "bool | None"]
BatchCallback = Callable[[int, torch.Tensor, torch.Tensor], None]


@dataclass
class TrainLog:
    """What a training run did: epochs run, final training loss and whether it met the tolerance."""

    epochs: int
    train_loss: float
    converged: bool


def train(model: nn.Module, X, y, *, task: str = "classification", epochs: int = 100, lr: float = 1e-3,
          batch_size: int = 128, tol: float = 1e-3, device: str | None = "cpu",
          random_state: SeedLike = 0, callbacks: Sequence[EpochCallback] = (),
          batch_callbacks: Sequence[BatchCallback] = ()) -> TrainLog:
    """Train ``model`` in place with Adam until the training loss is below ``tol`` or ``epochs`` end.

    Classification minimises cross-entropy over integer labels; regression the mean squared error of
    the scalar output. Mini-batch order is seeded by ``random_state``. After every epoch each of
    ``callbacks`` is called as ``callback(epoch, model, train_loss)`` (model in train mode); this
    is where per-epoch scores (forgetting events, EL2N over training) hook in. A callback that
    returns True stops training after that epoch. Each of ``batch_callbacks`` is called for every
    mini-batch as ``callback(epoch, idx, outputs)``: the example indices of the batch and the
    detached outputs of that step's training forward pass (before the update), so per-batch
    statistics such as forgetting events cost no extra forward pass.

    Examples
    --------
    >>> from trainfree.training import make_model
    >>> net, seen = make_model("mlp", (4,), 2, width=8), []
    >>> X, y = np.eye(4, dtype=np.float32), np.array([0, 1, 0, 1])
    >>> log = train(net, X, y, epochs=3, tol=0.0, callbacks=[lambda e, m, loss: seen.append(e)])
    >>> seen, log.epochs
    ([1, 2, 3], 3)
    """
    check_param("task", task, str, choices=("classification", "regression"))
    dev = resolve_device(device)
    model.to(dev).train()
    Xt = torch.as_tensor(np.asarray(X), dtype=torch.float32, device=dev)
    yt = torch.as_tensor(np.asarray(y), device=dev)
    yt = yt.long() if task == "classification" else yt.float().reshape(-1, 1)
    loss_fn = nn.CrossEntropyLoss() if task == "classification" else nn.MSELoss()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    gen = torch_generator(check_random_state(random_state))
    loss_value = float("inf")
    for epoch in range(1, epochs + 1):
        total = 0.0
        for idx in torch.randperm(len(Xt), generator=gen).split(batch_size):
            idx = idx.to(dev)
            opt.zero_grad()
            out = model(Xt[idx])
            loss = loss_fn(out, yt[idx])
            for bcb in batch_callbacks:
                bcb(epoch, idx, out.detach())
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
        loss_value = total / len(Xt)
        stop = [bool(cb(epoch, model, loss_value)) for cb in callbacks]
        if loss_value < tol:
            return TrainLog(epoch, loss_value, True)
        if any(stop):
            return TrainLog(epoch, loss_value, False)
    return TrainLog(epochs, loss_value, False)


@torch.no_grad()
def evaluate(model: nn.Module, X, y, *, task: str = "classification", device: str | None = "cpu",
             batch_size: int = 1024) -> float:
    """Accuracy (classification) or mean squared error (regression) of ``model`` on ``(X, y)``."""
    dev = resolve_device(device)
    model.to(dev).eval()
    Xt = torch.as_tensor(np.asarray(X), dtype=torch.float32)
    out = torch.cat([model(b.to(dev)).cpu() for b in Xt.split(batch_size)])
    y = np.asarray(y)
    if task == "classification":
        return float((out.argmax(1).numpy() == y).mean())
    return float(((out.reshape(-1).numpy() - y) ** 2).mean())
