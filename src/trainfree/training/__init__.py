"""Networks and the one training loop that every experiment shares."""

from .loop import TrainLog, evaluate, train
from .models import input_shape, make_model

__all__ = ["TrainLog", "evaluate", "input_shape", "make_model", "train"]
