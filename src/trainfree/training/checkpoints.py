"""Weights saved at chosen epochs of a training run, and loaded back only for the optimiser step asked for.

The official Data Diet code computed "GraNd at initialisation" from a checkpoint restored with
``step=0``, which its checkpoint library read as "the latest": the scores came from the trained
weights. Here every checkpoint file stores the epoch and the optimiser step it was taken at, and
:func:`load_checkpoint` refuses a file whose step is not the one the caller expects.
"""

from __future__ import annotations

import numbers
from pathlib import Path

import torch
from torch import nn

from .._errors import TrainfreeError
from .._runs import atomic_save
from .._validation import check_param


def checkpoint_path(folder: str | Path, epoch: int) -> Path:
    """Where the weights after ``epoch`` epochs live (epoch 0: the initial weights)."""
    return Path(folder) / f"epoch-{int(epoch)}.pt"


def save_checkpoint(model: nn.Module, folder: str | Path, *, epoch: int, step: int) -> Path:
    """Write ``model``'s state (parameters and buffers, e.g. BatchNorm statistics) with its epoch and step.

    The file is written atomically (a temporary file, then a rename), so a killed run never leaves
    a torn checkpoint.
    """
    path = checkpoint_path(folder, epoch)
    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    atomic_save(path, lambda fh: torch.save({"epoch": int(epoch), "step": int(step), "state": state}, fh))
    return path


def load_checkpoint(model: nn.Module, folder: str | Path, *, epoch: int, step: int) -> nn.Module:
    """Load the weights saved after ``epoch`` epochs into ``model``, checking they are those of ``step``.

    ``step`` is the number of optimiser steps the caller expects the weights to have taken (0 for
    the initial weights; ``epoch * ceil(n / batch_size)`` for full epochs). A file whose stored
    epoch or step differs is refused with a :class:`~trainfree.TrainfreeError`, never loaded.

    Examples
    --------
    >>> import tempfile
    >>> from trainfree.training import make_model
    >>> net, folder = make_model("mlp", (3,), 2, width=4), tempfile.mkdtemp()
    >>> _ = save_checkpoint(net, folder, epoch=0, step=0)
    >>> load_checkpoint(make_model("mlp", (3,), 2, width=4, random_state=1), folder, epoch=0, step=0)[1].bias.shape
    torch.Size([4])
    >>> load_checkpoint(net, folder, epoch=0, step=30)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    trainfree._errors.TrainfreeError: The checkpoint ... holds the weights of epoch 0, step 0, not of epoch 0, step 30 ...
    """
    check_param("epoch", epoch, numbers.Integral, low=0)
    check_param("step", step, numbers.Integral, low=0)
    path = checkpoint_path(folder, epoch)
    if not path.exists():
        saved = sorted(p.name for p in Path(folder).glob("epoch-*.pt")) if Path(folder).is_dir() else []
        raise TrainfreeError(f"No checkpoint of epoch {epoch} in {folder} (saved: {', '.join(saved) or 'none'}). "
                             f"Pass checkpoint_epochs including {epoch} to train().")
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
        got_epoch, got_step, state = int(saved["epoch"]), int(saved["step"]), saved["state"]
    except (OSError, RuntimeError, KeyError, TypeError, ValueError) as exc:
        raise TrainfreeError(f"Could not read checkpoint {path} ({exc}). Delete it and train again.") from None
    if (got_epoch, got_step) != (int(epoch), int(step)):
        raise TrainfreeError(f"The checkpoint {path} holds the weights of epoch {got_epoch}, step {got_step}, not of "
                             f"epoch {epoch}, step {step} as asked. Refusing to score other weights than those "
                             f"asked for; train again with checkpoint_epochs including {epoch}.")
    model.load_state_dict(state)
    return model
