"""Reference networks, seeded: an MLP, a small CNN, the official DAVINZ code's CNN and MLP, a CIFAR ResNet-18.

``cnn`` is this library's small two-convolution network (no padding, biases). ``davinz_cnn`` and
``davinz_mlp`` restate the networks of the official DAVINZ code (``model/cnn.py``, ``model/mlp.py``):
bias-free throughout, so their NTKs match the official ones parameter for parameter.
``resnet18_cifar`` is the ResNet-18 that CIFAR papers (Data Diet, the CG-score) train: a 3×3 stem
and no max-pool, so 32×32 inputs keep their resolution into the first stage; for a GPU.
"""

from __future__ import annotations

import math
import numbers

import torch
from torch import nn

from .._errors import TrainfreeError
from .._random import SeedLike, check_random_state, int_seed
from .._validation import check_param

KINDS = ("auto", "mlp", "cnn", "davinz_cnn", "davinz_mlp", "resnet18_cifar")
IMAGE_KINDS = ("cnn", "davinz_cnn", "resnet18_cifar")
DAVINZ_MLP_WIDTHS = (128, 256, 256, 256, 128, 64, 32, 16, 10)  # the official regression MLP's hidden layers
# Smallest image sides: the cnn's two unpadded 5×5 convolutions, each followed by a 2×2 pooling, leave
# ((s - 4) // 2 - 4) // 2 pixels, at least 1 from 16 on; the davinz_cnn pads by 2 and needs 4.
MIN_SIDE = {"cnn": 16, "davinz_cnn": 4}
MIN_CNN_SIDE = MIN_SIDE["cnn"]


def resolve_model(kind: str, image_shape: tuple[int, ...] | None) -> str:
    """The network ``kind="auto"`` stands for: ``"cnn"`` for images whose sides are >= 16 px, else ``"mlp"``.

    ``image_shape`` is the shape of one example, channels first (``Dataset.image_shape``; None for
    tables and embeddings). Any other ``kind`` is returned unchanged.

    Examples
    --------
    >>> resolve_model("auto", (1, 28, 28)), resolve_model("auto", (1, 8, 8)), resolve_model("auto", None)
    ('cnn', 'mlp', 'mlp')
    >>> resolve_model("davinz_cnn", (1, 28, 28))
    'davinz_cnn'
    """
    if kind != "auto":
        return kind
    fits = image_shape is not None and len(image_shape) == 3 and min(image_shape[1:]) >= MIN_CNN_SIDE
    return "cnn" if fits else "mlp"


def make_model(kind: str, input_shape: tuple[int, ...], n_outputs: int, *, width: int = 256,
               random_state: SeedLike = None) -> nn.Module:
    """A freshly initialised network, seeded so that the same seed gives the same initialisation.

    Parameters
    ----------
    kind : {"auto", "mlp", "cnn", "davinz_cnn", "davinz_mlp", "resnet18_cifar"}
        ``auto``: ``cnn`` when ``input_shape`` is an image (channels, height, width) with sides of
        at least 16 pixels, else ``mlp`` (:func:`resolve_model`). ``mlp``: two hidden ReLU layers of ``width``, with biases. ``cnn``: a small CNN, two 5×5
        convolutions (16 and 32 channels, no padding, with biases) with max-pooling and a linear head
        (18 378 parameters on 28×28 images); it is *not* the DAVINZ code's network. ``davinz_cnn``: the
        official DAVINZ CNN, the same two convolutions with padding 2 and no biases anywhere and a
        1 568→10 head on 28×28 images (28 880 parameters). ``davinz_mlp``: the official DAVINZ
        regression MLP, bias-free layers 128-256-256-256-128-64-32-16-10 with ReLUs, then a linear
        output (``width`` is ignored by both). ``resnet18_cifar``: ResNet-18 (He et al. 2016) as CIFAR
        code writes it, a 3×3 stride-1 convolution stem with BatchNorm and no max-pool, four stages of two
        basic blocks (64, 128, 256, 512 channels; stride 2 from the second stage, 1×1 convolution + BatchNorm
        shortcuts), global average pooling and a linear head; 11 173 962 parameters for 10 classes
        (``width`` is ignored). The image networks need ``input_shape = (channels, height, width)``.
    input_shape : tuple of int
        Shape of one example, without the batch dimension (flat inputs: ``(d,)``).
    n_outputs : int
        Classes (one logit each) or 1 for regression.
    width : int, default=256
        Hidden width of ``mlp``.
    random_state : None, int, Generator or SeedSequence, default=None
        Seeds the initialisation; None draws fresh entropy (a network has no result to record it in:
        pass a seed to build the same network again). The caller's torch stream is left untouched.

    Examples
    --------
    >>> make_model("mlp", (64,), 10)(torch.zeros(2, 64)).shape
    torch.Size([2, 10])
    >>> sum(p.numel() for p in make_model("davinz_cnn", (1, 28, 28), 10).parameters())
    28880
    """
    check_param("kind", kind, str, choices=KINDS)
    check_param("n_outputs", n_outputs, numbers.Integral, low=1)
    kind = resolve_model(kind, tuple(input_shape))
    seed = int_seed(check_random_state(random_state))
    gen_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        if kind == "mlp":
            d = math.prod(input_shape)
            model = nn.Sequential(nn.Flatten(), nn.Linear(d, width), nn.ReLU(), nn.Linear(width, width), nn.ReLU(),
                                  nn.Linear(width, n_outputs))
        elif kind == "davinz_mlp":
            widths = [math.prod(input_shape), *DAVINZ_MLP_WIDTHS]
            layers: list[nn.Module] = [nn.Flatten()]
            for a, b in zip(widths[:-1], widths[1:]):
                layers += [nn.Linear(a, b, bias=False), nn.ReLU()]
            model = nn.Sequential(*layers, nn.Linear(widths[-1], n_outputs, bias=False))
        elif kind == "resnet18_cifar":
            if len(input_shape) != 3:
                raise TrainfreeError(f"model='resnet18_cifar' needs image inputs of shape (channels, height, width); "
                                     f"got {input_shape}. Use model='mlp' for flat inputs.")
            model = _resnet18_cifar(input_shape[0], n_outputs)
        else:
            if len(input_shape) != 3 or min(input_shape[1:]) < MIN_SIDE[kind]:
                raise TrainfreeError(f"model={kind!r} needs image inputs of shape (channels, height, width) with "
                                     f"sides >= {MIN_SIDE[kind]}; got {input_shape}. Use model='mlp' (or 'auto', "
                                     f"which picks it) for flat or small inputs.")
            c, h, w = input_shape
            pad, bias = (2, False) if kind == "davinz_cnn" else (0, True)
            side = lambda s: ((s + 2 * pad - 4) // 2 + 2 * pad - 4) // 2  # noqa: E731  (two conv5 + pool2)
            model = nn.Sequential(nn.Conv2d(c, 16, 5, padding=pad, bias=bias), nn.ReLU(), nn.MaxPool2d(2),
                                  nn.Conv2d(16, 32, 5, padding=pad, bias=bias), nn.ReLU(), nn.MaxPool2d(2),
                                  nn.Flatten(), nn.Linear(32 * side(h) * side(w), n_outputs, bias=bias))
    finally:
        torch.random.set_rng_state(gen_state)  # seeding a model must not change the caller's stream
    return model


class _BasicBlock(nn.Module):
    """Two 3×3 convolutions with BatchNorm, added to the input (through a 1×1 convolution when the shape changes)."""

    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.shortcut = nn.Sequential()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False), nn.BatchNorm2d(c_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))  # not in place: the per-example gradient hooks read outputs
        return torch.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


def _resnet18_cifar(channels: int, n_outputs: int) -> nn.Module:
    layers: list[nn.Module] = [nn.Conv2d(channels, 64, 3, padding=1, bias=False), nn.BatchNorm2d(64), nn.ReLU()]
    c_in = 64
    for c_out, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
        layers += [_BasicBlock(c_in, c_out, stride), _BasicBlock(c_out, c_out, 1)]
        c_in = c_out
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(512, n_outputs))


def input_shape(kind: str, image_shape: tuple[int, ...] | None, n_features: int, *, name: str = "the data") -> tuple[int, ...]:
    """Shape of one example as ``kind`` of network takes it: images for ``cnn``, flat vectors for ``mlp``.

    Examples
    --------
    >>> input_shape("cnn", (1, 28, 28), 784), input_shape("mlp", (1, 28, 28), 784)
    ((1, 28, 28), (784,))
    >>> input_shape("auto", (1, 28, 28), 784), input_shape("auto", (1, 8, 8), 64)
    ((1, 28, 28), (64,))
    """
    kind = resolve_model(kind, image_shape)
    if kind in IMAGE_KINDS:
        if image_shape is None:
            raise TrainfreeError(f"A {kind} needs image data; {name} has no image shape. Use the mlp model "
                                 f"(--model mlp).")
        return tuple(image_shape)
    return (int(n_features),)
