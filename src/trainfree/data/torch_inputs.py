"""PyTorch inputs: a ``Dataset`` or ``DataLoader``, and features computed by your own network.

Most users of data valuation start from a pretrained network: its embeddings are the features the
scores see. :func:`embed` applies a ``torch.nn.Module`` to data already loaded, :func:`from_torch`
reads a PyTorch ``Dataset``/``DataLoader`` (embedding it on the way with ``features=model``), and
:func:`load_features_model` reads a network saved to a local file (what the CLI's
``--features-model`` does). Nothing here downloads anything.
"""

from __future__ import annotations

import dataclasses
import logging
import numbers
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .._errors import TrainfreeError
from .._progress import bar
from .._validation import check_param
from ._arrays import from_arrays
from .dataset import Dataset

BATCH_SIZE = 256  # rows per forward pass of a features model: memory only, no effect on the features


def embed(data: Any, model: Any, *, batch_size: int = BATCH_SIZE, device: str | None = "cpu") -> Any:
    """The features ``model`` computes for every row: a Dataset's embeddings, or an array's.

    The network runs in eval mode under ``torch.no_grad()``, ``batch_size`` rows at a time on
    ``device``, with a progress bar when progress is on. A Dataset with an ``image_shape`` is fed as
    images (n, channels, height, width), any other as flat rows; whatever the network returns per
    row is flattened into one feature vector.

    Parameters
    ----------
    data : Dataset or array-like of shape (n_samples, ...)
        The inputs. An array is fed as it is shaped.
    model : torch.nn.Module or callable
        Your network (e.g. a pretrained backbone without its head), or any callable mapping a batch
        tensor to a tensor of shape (batch, ...).
    batch_size : int, default=256
        Rows per forward pass; memory only, no effect on the features.
    device : str or None, default="cpu"
        Where the network runs (``"cuda"``, ``"auto"``); it is moved there.

    Returns
    -------
    Dataset or ndarray
        For a Dataset: the same rows, labels, ids and extras with ``X`` the float32 features and no
        ``image_shape``; its name says which network made them. For an array: the (n, d) float32
        features.

    Examples
    --------
    >>> import torch
    >>> from trainfree.data import load
    >>> net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 16))
    >>> ds = embed(load("digits", n=100, random_state=0), net)
    >>> ds.X.shape, ds.image_shape
    ((100, 16), None)
    """
    if isinstance(data, Dataset):
        inputs = data.images() if data.image_shape is not None else data.X
        X = _run(model, inputs, batch_size=batch_size, device=device, name=data.name)
        return dataclasses.replace(data, X=X, image_shape=None, name=f"{data.name} ({_model_name(model)} features)")
    X = np.asarray(data)
    if X.dtype.kind not in "biuf" or X.ndim < 2:
        raise TrainfreeError(f"embed takes a Dataset or a numeric array of shape (n, ...); got {X.dtype} of shape "
                             f"{X.shape}.")
    return _run(model, X, batch_size=batch_size, device=device, name="the array")


def from_torch(dataset: Any, *, label: str = "label", inputs: str | None = None, features: Any = None,
               batch_size: int = BATCH_SIZE, device: str | None = "cpu", name: str | None = None) -> Dataset:
    """Read a PyTorch ``Dataset`` or ``DataLoader`` of (input, label) pairs or of dicts into a Dataset.

    Row ``i`` is ``dataset[i]`` (a DataLoader must not shuffle); its id is ``i``. Inputs of shape
    (channels, height, width) keep that ``image_shape``, so the convolutional scores and kernels
    see images; 2-D inputs (height, width) get one channel; other inputs are flattened.

    Parameters
    ----------
    dataset : torch.utils.data.Dataset or DataLoader
        Items ``(input, label)`` (tuples or lists, label second) or dicts holding the label under
        ``label`` and the input under ``inputs``. Inputs are tensors or arrays (e.g. after
        ``torchvision.transforms.ToTensor``); labels are ints or strings.
    label : str, default="label"
        The label's key in dict items.
    inputs : str, optional
        The input's key in dict items; by default the only key besides ``label``.
    features : torch.nn.Module or callable, optional
        Your network: rows become its features (see :func:`embed`), computed batch by batch as
        the data are read, so the raw inputs are never all in memory.
    batch_size : int, default=256
        Items per batch read from a ``Dataset`` (a DataLoader keeps its own), and per forward pass.
    device : str or None, default="cpu"
        Where ``features`` runs.
    name : str, optional
        The data's name in results; default: the dataset's class name.

    Returns
    -------
    Dataset

    Examples
    --------
    >>> import torch
    >>> from torch.utils.data import TensorDataset
    >>> ds = from_torch(TensorDataset(torch.rand(20, 1, 16, 16), torch.arange(20) % 2))
    >>> ds.image_shape, ds.classes
    ((1, 16, 16), ('0', '1'))
    """
    from torch.utils.data import DataLoader, RandomSampler

    check_param("batch_size", batch_size, numbers.Integral, low=1)
    if isinstance(dataset, DataLoader):
        if isinstance(dataset.sampler, RandomSampler) or getattr(dataset, "drop_last", False):
            raise TrainfreeError("The DataLoader shuffles or drops its last batch, so its rows cannot be told "
                                 "apart; pass its dataset, or a DataLoader with shuffle=False and drop_last=False.")
        loader, title = dataset, type(dataset.dataset).__name__
    elif hasattr(dataset, "__getitem__") or hasattr(dataset, "__iter__"):
        loader, title = DataLoader(dataset, batch_size=int(batch_size), shuffle=False), type(dataset).__name__
    else:
        raise TrainfreeError(f"from_torch takes a torch.utils.data.Dataset or DataLoader; got "
                             f"{type(dataset).__name__}. Wrap arrays in torch.utils.data.TensorDataset.")
    xs, ys = [], []
    try:
        total = len(loader)
    except TypeError:  # an iterable data set need not know its length
        total = None
    for batch in bar(_batches(loader), desc="reading", total=total, unit="batch"):
        x, y = _split(batch, label, inputs)
        xs.append(_run(features, x, batch_size=batch_size, device=device, name=title, progress=False)
                  if features is not None else _numpy(x, "input"))
        ys.append(_numpy(y, "label"))
    if not xs:
        raise TrainfreeError(f"{title} yielded no items; pass a dataset with at least one example per class.")
    X, y = np.concatenate(xs), np.concatenate(ys)
    if features is None and X.ndim == 3:
        X = X[:, None]  # (height, width) images: one channel
    image_shape = tuple(X.shape[1:]) if X.ndim == 4 else None
    return from_arrays(X.reshape(len(X), -1), y, name or title, image_shape=image_shape)


def _batches(loader: Any) -> Iterable[Any]:
    try:
        yield from loader
    except TrainfreeError:
        raise
    except (TypeError, RuntimeError) as exc:  # default_collate on PIL images, ragged tensors, ...
        raise TrainfreeError(f"Could not batch the dataset's items ({_short(exc)}): every input must be a tensor "
                             f"or array of one shape (add e.g. torchvision.transforms.ToTensor() and a resize to "
                             f"the dataset's transform).") from None


def _split(batch: Any, label: str, inputs: str | None) -> tuple[Any, Any]:
    """A collated batch → (inputs, labels)."""
    if isinstance(batch, Mapping):
        keys = list(batch)
        if label not in batch:
            raise TrainfreeError(f"The items have no label key {label!r}; their keys are {keys}. Pass label= one of "
                                 f"them.")
        if inputs is None:
            others = [k for k in keys if k != label]
            if len(others) != 1:
                raise TrainfreeError(f"The items have keys {keys}; pass inputs= the one holding the input "
                                     f"(and label= the label's).")
            inputs = others[0]
        elif inputs not in batch:
            raise TrainfreeError(f"The items have no input key {inputs!r}; their keys are {keys}.")
        return batch[inputs], batch[label]
    if isinstance(batch, (tuple, list)) and len(batch) >= 2:
        return batch[0], batch[1]
    raise TrainfreeError(f"Each item must be an (input, label) pair or a dict; got {type(batch).__name__}"
                         f"{' of length ' + str(len(batch)) if isinstance(batch, (tuple, list)) else ''}.")


def _numpy(values: Any, what: str) -> np.ndarray:
    if hasattr(values, "detach"):
        return values.detach().cpu().numpy()
    out = np.asarray(values)
    if what == "input" and out.dtype.kind not in "biuf":
        raise TrainfreeError(f"The inputs are {out.dtype} values, not numbers; turn them into tensors first "
                             f"(e.g. torchvision.transforms.ToTensor()), or pass features= a network that reads them.")
    return out


def _run(model: Any, X: Any, *, batch_size: int, device: str | None, name: str, progress: bool = True) -> np.ndarray:
    """``model`` on ``X`` batch by batch, in eval mode without gradients: (n, d) float32 features."""
    import torch

    from .._device import resolve_device

    check_param("batch_size", batch_size, numbers.Integral, low=1)
    if not callable(model):
        raise TrainfreeError(f"The features model must be a torch.nn.Module or a callable; got "
                             f"{type(model).__name__}.")
    dev = resolve_device(device)
    if isinstance(model, torch.nn.Module):
        params = list(model.parameters())
        dtype = params[0].dtype if params and params[0].is_floating_point() else torch.float32
        try:
            model.eval()
        except NotImplementedError:  # a torch.export module: its mode was fixed when it was exported
            pass
        model.to(dev)
    else:
        dtype = torch.float32
    X = torch.as_tensor(np.asarray(X.detach().cpu() if hasattr(X, "detach") else X))
    out = []
    chunks = X.split(int(batch_size))
    with torch.no_grad():
        for xb in (bar(chunks, desc="features", unit="batch") if progress else chunks):
            try:
                f = model(xb.to(device=dev, dtype=dtype))
            except TrainfreeError:
                raise
            except Exception as exc:  # a shape the network does not take, a static export's batch size, ...
                hint = ("; export it with a dynamic batch: dynamic_shapes=({0: torch.export.Dim('batch')},)"
                        if type(model).__module__.startswith("torch.fx") else "")
                raise TrainfreeError(f"The features model failed on a batch of {name} of shape {tuple(xb.shape)} "
                                     f"({_short(exc)}); check the input shape it expects{hint}.") from None
            if not isinstance(f, torch.Tensor) or f.ndim < 1 or len(f) != len(xb):
                got = f"{type(f).__name__} of shape {tuple(f.shape)}" if isinstance(f, torch.Tensor) else type(f).__name__
                raise TrainfreeError(f"The features model must return one tensor with a row per input; it returned "
                                     f"{got} for {len(xb)} inputs. Wrap it to return only the embedding.")
            out.append(f.detach().reshape(len(xb), -1).float().cpu().numpy())
    feats = np.concatenate(out) if out else np.zeros((0, 0), np.float32)
    if not np.isfinite(feats).all():
        raise TrainfreeError(f"The features model returned NaN or infinite values for {name}; check the network and "
                             f"how its inputs are scaled.")
    return feats


def load_features_model(path: str | Path, *, device: str | None = "cpu") -> Any:
    """A network saved to a local file: torch.export's ``.pt2`` or TorchScript (any other suffix).

    Save yours with ``torch.export.save(torch.export.export(net.eval(), (x,), dynamic_shapes=({0:
    torch.export.Dim("batch")},)), "net.pt2")`` or ``torch.jit.save(torch.jit.script(net.eval()),
    "net.pt")``. Pickled modules and state dicts are refused: loading them would run arbitrary code.

    Examples
    --------
    >>> import torch
    >>> torch.jit.save(torch.jit.script(torch.nn.Linear(4, 2)), "net.pt")  # doctest: +SKIP
    >>> load_features_model("net.pt")(torch.zeros(3, 4)).shape  # doctest: +SKIP
    torch.Size([3, 2])
    """
    import torch

    from .._device import resolve_device

    path = Path(path).expanduser()
    fix = ("save it with torch.export.save(...) as .pt2 or torch.jit.save(torch.jit.script(net), path); a "
           "state dict or torch.save(net) is not enough")
    if not path.is_file():
        raise TrainfreeError(f"The 'features_model' parameter names {path}, which is not a file; pass the path of "
                             f"your network's file ({fix}).")
    dev = resolve_device(device)
    quiet = logging.getLogger("torch.export")
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)  # torch.export logs a traceback before raising on a damaged file
    try:
        if path.suffix.lower() == ".pt2":
            return torch.export.load(str(path)).module().to(dev)
        return torch.jit.load(str(path), map_location=dev)
    except Exception as exc:
        kind = "torch.export (.pt2)" if path.suffix.lower() == ".pt2" else "TorchScript"
        raise TrainfreeError(f"The 'features_model' parameter: {path.name} is not a readable {kind} network "
                             f"({_short(exc)}); {fix}.") from None
    finally:
        quiet.setLevel(level)


def embed_with_file(data: Dataset, path: str | Path, *, batch_size: int = BATCH_SIZE,
                    device: str | None = "cpu") -> Dataset:
    """:func:`embed` ``data`` with the network saved at ``path`` (:func:`load_features_model`)."""
    net = load_features_model(path, device=device)
    ds = embed(data, net, batch_size=batch_size, device=device)
    return dataclasses.replace(ds, name=f"{data.name} ({Path(path).name} features)")


def _model_name(model: Any) -> str:
    return type(model).__name__ if not hasattr(model, "__name__") else str(model.__name__)


def _short(exc: Exception) -> str:
    return " ".join(str(exc).split())[:200] or type(exc).__name__
