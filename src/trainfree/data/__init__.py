"""Data: the dataset type, named sources and user files, label noise, contributor splits, synthetic data.

Everything is read or generated locally: nothing here ever downloads. Every loader returns a
:class:`Dataset` (flat float32 features, labels, class names, row identities, the shape of one
example), which unpacks as ``X, y = load("digits")``.
"""

from .contributors import Contributor, domain_shift, n_affected, split_contributors
from .corruption import inject_label_noise
from .dataset import Dataset
from .files import load_file
from .huggingface import from_huggingface
from .parquet_parts import ParquetParts, is_parquet_parts, read_parquet_parts
from .sources import DATASETS, load, load_digits_dataset, load_fashion_mnist, load_mnist1d, read_idx
from .synthetic import ising_energy, make_ising
from .tables import from_frame, standardize_as
from .torch_inputs import embed, from_torch, load_features_model

__all__ = [
    "DATASETS", "Contributor", "Dataset", "domain_shift", "from_frame", "inject_label_noise", "ising_energy", "load",
    "load_digits_dataset", "load_fashion_mnist", "load_file", "load_mnist1d", "make_ising", "n_affected", "read_idx",
    "ParquetParts", "is_parquet_parts", "read_parquet_parts",
    "split_contributors", "standardize_as",
    "embed", "from_huggingface", "from_torch", "load_features_model",
]
