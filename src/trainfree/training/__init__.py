"""Networks, the one training loop that every experiment shares, and its step-checked checkpoints."""

from .checkpoints import load_checkpoint, save_checkpoint
from .loop import TrainLog, evaluate, train
from .models import input_shape, make_model, resolve_model

__all__ = ["TrainLog", "evaluate", "input_shape", "load_checkpoint", "make_model", "resolve_model", "save_checkpoint",
           "train"]
