"""Defaults that sibling functions and the CLI share (no heavy imports, so ``--help`` can show them).

One constant per shared option: a function whose option has the same meaning takes its default
from here, so siblings cannot drift apart (``tests/test_vocabulary.py`` checks it).
"""

#: Examples per chunk in the chunked methods (``method="stochastic"`` of the detector, ``method="large"``
#: of the CG-score and the detector): one chunk is factorised exactly, so memory grows as its square
#: (5 000 × 5 000 float64 is 200 MB per work unit).
CHUNK_SIZE = 5000

#: Independent random chunk partitions averaged (``n_chunk_repeats``).
N_CHUNK_REPEATS = 3

#: Coverage-centric selection (``sampling="ccs"`` of ``prune_order`` and ``pruning_curve``): the number of
#: equal-width score strata (the official CCS code's 50) and the hard cut β, the share of the highest
#: scores always removed. The paper tunes β per pruning rate (its CIFAR-10 example at 90% pruning cuts
#: 30%); 0.1 is a mild cut that every share pruned from 10% allows.
N_STRATA = 50
HARD_CUT = 0.1
