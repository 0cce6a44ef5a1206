"""Small reference networks, seeded: an MLP and the DAVINZ paper's two-convolution CNN."""

from __future__ import annotations

import math
import numbers

import torch
from torch import nn

from .._errors import TrainfreeError
from .._random import SeedLike, check_random_state, int_seed
from .._validation import check_param


def make_model(kind: str, input_shape: tuple[int, ...], n_outputs: int, *, width: int = 256,
               random_state: SeedLike = 0) -> nn.Module:
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
    check_param("n_outputs", n_outputs, numbers.Integral, low=1)
    seed = int_seed(check_random_state(random_state))
    gen_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
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


def input_shape(kind: str, image_shape: tuple[int, ...] | None, n_features: int, *, name: str = "the data") -> tuple[int, ...]:
    """Shape of one example as ``kind`` of network takes it: images for ``cnn``, flat vectors for ``mlp``.

    Examples
    --------
    >>> input_shape("cnn", (1, 28, 28), 784), input_shape("mlp", (1, 28, 28), 784)
    ((1, 28, 28), (784,))
    """
    if kind == "cnn":
        if image_shape is None:
            raise TrainfreeError(f"A cnn needs image data; {name} has no image shape. Use the mlp model "
                                 f"(--model mlp).")
        return tuple(image_shape)
    return (int(n_features),)
