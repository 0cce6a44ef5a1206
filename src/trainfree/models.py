"""Small reference networks and the one training loop that every experiment shares."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ._validation import TrainfreeError, check_param, resolve_device


def make_model(kind: str, input_shape: tuple[int, ...], n_outputs: int, *, width: int = 256,
               random_state: int = 0) -> nn.Module:
    """A freshly initialised network, seeded so that the same seed gives the same initialisation.

    Parameters
    ----------
    kind : {"mlp", "cnn"}
        ``mlp``: two hidden ReLU layers of ``width``. ``cnn``: the DAVINZ paper's MNIST network, two
        5×5 convolutions (16 and 32 channels) with max-pooling and a linear head; needs
        ``input_shape = (channels, height, width)``.
    input_shape : tuple of int
        Shape of one example, without the batch dimension (flat inputs: ``(d,)``).
    n_outputs : int
        Classes (one logit each) or 1 for regression.

    Examples
    --------
    >>> make_model("mlp", (64,), 10)(torch.zeros(2, 64)).shape
    torch.Size([2, 10])
    """
    check_param("kind", kind, str, choices=("mlp", "cnn"))
    check_param("n_outputs", n_outputs, int, low=1)
    gen_state = torch.random.get_rng_state()
    torch.manual_seed(random_state)
    try:
        if kind == "mlp":
            d = math.prod(input_shape)
            model = nn.Sequential(nn.Flatten(), nn.Linear(d, width), nn.ReLU(), nn.Linear(width, width), nn.ReLU(),
                                  nn.Linear(width, n_outputs))
        else:
            if len(input_shape) != 3 or min(input_shape[1:]) < 12:
                raise TrainfreeError(f"model='cnn' needs image inputs of shape (channels, height, width) with sides "
                                     f">= 12; got {input_shape}. Use model='mlp' for flat or small inputs.")
            c, h, w = input_shape
            feat = 32 * ((h - 4) // 2 - 4) // 2 * (((w - 4) // 2 - 4) // 2)
            model = nn.Sequential(nn.Conv2d(c, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(16, 32, 5), nn.ReLU(),
                                  nn.MaxPool2d(2), nn.Flatten(), nn.Linear(feat, n_outputs))
    finally:
        torch.random.set_rng_state(gen_state)  # seeding a model must not change the caller's stream
    return model


@dataclass
class TrainLog:
    """What a training run did: epochs run, final training loss and whether it met the tolerance."""

    epochs: int
    train_loss: float
    converged: bool


def train(model: nn.Module, X, y, *, task: str = "classification", epochs: int = 100, lr: float = 1e-3,
          batch_size: int = 128, tol: float = 1e-3, device: str | None = "cpu",
          random_state: int = 0) -> TrainLog:
    """Train ``model`` in place with Adam until the training loss is below ``tol`` or ``epochs`` end.

    Classification minimises cross-entropy over integer labels; regression the mean squared error of
    the scalar output. Mini-batch order is seeded by ``random_state``.
    """
    check_param("task", task, str, choices=("classification", "regression"))
    dev = resolve_device(device)
    model.to(dev).train()
    Xt = torch.as_tensor(np.asarray(X), dtype=torch.float32, device=dev)
    yt = torch.as_tensor(np.asarray(y), device=dev)
    yt = yt.long() if task == "classification" else yt.float().reshape(-1, 1)
    loss_fn = nn.CrossEntropyLoss() if task == "classification" else nn.MSELoss()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    gen = torch.Generator(device="cpu").manual_seed(random_state)
    loss_value = float("inf")
    for epoch in range(1, epochs + 1):
        total = 0.0
        for idx in torch.randperm(len(Xt), generator=gen).split(batch_size):
            idx = idx.to(dev)
            opt.zero_grad()
            loss = loss_fn(model(Xt[idx]), yt[idx])
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
        loss_value = total / len(Xt)
        if loss_value < tol:
            return TrainLog(epoch, loss_value, True)
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
